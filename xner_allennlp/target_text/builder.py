"""
Unlabelled target-language sentences for self-training, from the paragraphs of a source: split
into sentences and tokenized by spaCy's rule-based `spacy.blank(language)` tokenizer (the one the
predictor tags raw text with) and `sentencizer`, then filtered, and written one tokenized
sentence per line, the words separated by single spaces: the `text` input of
`allennlp xner-self-train`.

A sentence is dropped, and counted, when

- it has no letter (a lone dash, a number);
- it has fewer than `min_tokens` or more than `max_tokens` tokens;
- it is a sentence of one of the dev (or test) files given: its token sequence, or its characters
  without the spaces between tokens (so that "mit," against the CoNLL file's "mit ," or any other
  tokenization difference still matches), equals that of a sentence there (after Unicode NFC);
- it repeats a sentence kept before (same tokens).
"""

import functools
import json
import os
import random
import time
import unicodedata
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple

from allennlp.data.token_indexers import SingleIdTokenIndexer

from xner_allennlp.common.errors import InputFormatError
from xner_allennlp.common.files import check_output_path, write_together
from xner_allennlp.common.languages import language_info
from xner_allennlp.dataset_readers.xner_conll import XnerConllReader
from xner_allennlp.target_text.language_check import check_language, profile_of
from xner_allennlp.target_text.sources import TextSource

DEFAULT_DATA = os.path.join("..", "shared", "data")
DATA_ENV = "XNER_DATA"


def _key(tokens: Sequence[str]) -> Tuple[Tuple[str, ...], str]:
    normalized = tuple(unicodedata.normalize("NFC", t) for t in tokens)
    return normalized, "".join(normalized)


@dataclass
class DevIndex:
    """The sentences of the dev/test files, by token sequence and by characters."""

    tokens: Set[Tuple[str, ...]] = field(default_factory=set)
    characters: Set[str] = field(default_factory=set)
    files: Dict[str, int] = field(default_factory=dict)

    def __contains__(self, sentence: Sequence[str]) -> bool:
        tokens, characters = _key(sentence)
        return tokens in self.tokens or characters in self.characters


def default_dev_files(language: str, data_root: Optional[str] = None) -> List[Tuple[str, str]]:
    """(path, encoding) of the language table's dev and test files of `language` that exist
    under `data_root` (default `$XNER_DATA`, else ../shared/data)."""
    root = data_root or os.environ.get(DATA_ENV) or DEFAULT_DATA
    entry = language_info(language)
    found = []
    for split in ("dev", "test"):
        spec = entry.get(split)
        if spec:
            path = os.path.join(root, spec["path"])
            if os.path.isfile(path):
                found.append((path, spec["encoding"]))
    return found


def read_dev_index(files: Sequence[Tuple[str, str]], language: str) -> DevIndex:
    """The sentences (words only) of CoNLL `files`, each (path, encoding), read by the project's
    CoNLL reader with `language`'s tag map (Bengali's `TIM`) and word-only lines allowed."""
    extra = language_info(language)["target_extra"]
    index = DevIndex()
    for path, encoding in files:
        # Words only: a plain indexer spares the character indexer's padding warning.
        reader = XnerConllReader(
            token_indexers={"tokens": SingleIdTokenIndexer()},
            encoding=encoding,
            tag_map=extra.get("tag_map"),
            empty_tag="O",
        )
        count = 0
        for _, words, _ in reader.read_sentences(path):
            tokens, characters = _key(words)
            index.tokens.add(tokens)
            index.characters.add(characters)
            count += 1
        index.files[path] = count
    return index


class SentenceSplitter:
    """
    Paragraphs -> tokenized sentences: spaCy's `spacy.blank(language)` (rules only, nothing to
    download) with the rule-based `sentencizer` pipe (sentence ends at `.`, `!`, `?`, the Bengali
    danda `।` and the like). Whitespace tokens are left out.

    # Parameters

    language : `str`
        spaCy language code.
    batch_size : `int`, optional (default = `256`)
        Paragraphs per `nlp.pipe` batch.
    """

    def __init__(self, language: str, batch_size: int = 256) -> None:
        import spacy

        self.nlp = spacy.blank(language)
        self.nlp.add_pipe("sentencizer")
        self.batch_size = batch_size

    def __call__(self, paragraphs: Iterable[str]) -> Iterator[List[str]]:
        for doc in self.nlp.pipe(paragraphs, batch_size=self.batch_size):
            for sentence in doc.sents:
                # As the predictor: whitespace runs are no words.
                tokens = [t.text for t in sentence if not t.text.isspace()]
                if tokens:
                    yield tokens


@dataclass
class BuildStats:
    paragraphs: int = 0
    sentences: int = 0
    no_letter: int = 0
    too_short: int = 0
    too_long: int = 0
    in_dev: int = 0
    duplicates: int = 0
    kept: int = 0
    sampled_out: int = 0
    written: int = 0
    tokens: int = 0


def _count(paragraphs: Iterable[str], stats: BuildStats) -> Iterator[str]:
    for paragraph in paragraphs:
        stats.paragraphs += 1
        yield paragraph


def filter_sentences(
    sentences: Iterable[List[str]],
    dev: DevIndex,
    stats: BuildStats,
    min_tokens: int = 2,
    max_tokens: int = 100,
) -> Iterator[List[str]]:
    """The sentences that pass the module docstring's filters, counting the others in `stats`."""
    seen: Set[Tuple[str, ...]] = set()
    for tokens in sentences:
        stats.sentences += 1
        if not any(c.isalpha() for token in tokens for c in token):
            stats.no_letter += 1
        elif len(tokens) < min_tokens:
            stats.too_short += 1
        elif len(tokens) > max_tokens:
            stats.too_long += 1
        elif tokens in dev:
            stats.in_dev += 1
        else:
            key = _key(tokens)[0]
            if key in seen:
                stats.duplicates += 1
                continue
            seen.add(key)
            stats.kept += 1
            yield tokens


def build_sentences(
    paragraphs: Iterable[str],
    splitter: SentenceSplitter,
    dev: DevIndex,
    min_tokens: int = 2,
    max_tokens: int = 100,
    max_sentences: Optional[int] = None,
    seed: int = 13,
    stats: Optional[BuildStats] = None,
) -> Tuple[List[List[str]], BuildStats]:
    """
    The kept sentences of `paragraphs`, in their order, and the counts. With `max_sentences`, a
    random sample of that many (seeded by `seed`), still in their order.
    """
    stats = stats or BuildStats()
    kept = list(filter_sentences(splitter(_count(paragraphs, stats)), dev, stats, min_tokens, max_tokens))
    if max_sentences is not None and len(kept) > max_sentences:
        chosen = sorted(random.Random(seed).sample(range(len(kept)), max_sentences))
        stats.sampled_out = len(kept) - max_sentences
        kept = [kept[i] for i in chosen]
    stats.written = len(kept)
    stats.tokens = sum(len(s) for s in kept)
    return kept, stats


def write_sentences(path: str, sentences: Sequence[Sequence[str]], manifest: Dict) -> str:
    """Writes the sentences (one a line, words separated by spaces) to `path` and `manifest` as
    JSON beside it (`path` with the extension `.json`), both or neither; returns the manifest's
    path."""
    manifest_path = os.path.splitext(path)[0] + ".json"
    if manifest_path == path:
        manifest_path = path + ".manifest.json"
    check_output_path(path, "--output-file")

    def write(staged: str) -> None:
        with open(staged, "w", encoding="utf-8") as handle:
            for tokens in sentences:
                handle.write(" ".join(tokens) + "\n")

    write_together({path: write, manifest_path: json.dumps(manifest, indent=1, ensure_ascii=False) + "\n"})
    return manifest_path


def stats_dict(stats: BuildStats) -> Dict[str, int]:
    return asdict(stats)


CACHE_ENV = "XNER_TARGET_TEXT_CACHE"


def default_cache_dir() -> str:
    """`$XNER_TARGET_TEXT_CACHE`, else `~/.cache/xner_allennlp/target_text`."""
    return os.environ.get(CACHE_ENV) or os.path.join(
        os.path.expanduser("~"), ".cache", "xner_allennlp", "target_text"
    )


@dataclass
class TextFile:
    """One file of text the build reads: its paragraphs and what it is (for messages)."""

    path: str
    paragraphs: Callable[[], Iterator[str]]
    description: str
    stamp: Dict = field(default_factory=dict)


def source_files(
    language: str,
    cache_dir: str,
    sources: Sequence[TextSource],
    refresh: bool = False,
) -> List[TextFile]:
    """The text files of `sources` in `cache_dir/<language>/raw/`, fetched where missing."""
    files = []
    downloads = os.path.join(cache_dir, "downloads")
    for source in sources:
        directory = os.path.join(cache_dir, language, "raw", source.name)
        stamp, paths = source.cached(directory, downloads, refresh)
        for path in paths:
            files.append(TextFile(path, functools.partial(source.paragraphs, path), source.describe(), stamp))
    return files


def checked_paragraphs(files: Sequence[TextFile], language: str, hint: str) -> Iterator[str]:
    """
    The paragraphs of `files`, each file checked first: a file without any paragraph, or whose
    text is not of `language` (`check_language`), is an `InputFormatError` naming it.
    """
    profile = profile_of(language)
    for text_file in files:
        paragraphs = list(text_file.paragraphs())
        if not paragraphs:
            raise InputFormatError(
                text_file.path,
                None,
                f"no text (empty or blank); expected {profile.name} ({language}) text from "
                f"{text_file.description}{'; ' + hint if hint else ''}",
            )
        check_language(paragraphs, language, text_file.path, hint)
        yield from paragraphs


def build_target_text(
    language: str,
    output_file: str,
    text_files: Sequence[TextFile],
    dev_files: Sequence[Tuple[str, str]],
    min_tokens: int = 2,
    max_tokens: int = 100,
    max_sentences: Optional[int] = None,
    seed: int = 13,
    hint: str = "",
) -> Dict:
    """
    Splits, tokenizes and filters the paragraphs of `text_files` (checked by
    `checked_paragraphs`), drops the sentences of `dev_files`, and writes the rest to
    `output_file` with its manifest. Returns the manifest.
    """
    check_output_path(output_file, "--output-file")
    started = time.perf_counter()
    dev = read_dev_index(dev_files, language)
    stats = BuildStats()
    sentences, stats = build_sentences(
        checked_paragraphs(text_files, language, hint),
        SentenceSplitter(language),
        dev,
        min_tokens=min_tokens,
        max_tokens=max_tokens,
        max_sentences=max_sentences,
        seed=seed,
        stats=stats,
    )
    if not sentences:
        raise InputFormatError(
            text_files[0].path if len(text_files) == 1 else output_file,
            None,
            f"no sentence left to write ({stats.sentences} read, all filtered out)",
        )
    sources: Dict[str, Dict] = {}
    for text_file in text_files:
        entry = sources.setdefault(
            text_file.description,
            {
                key: text_file.stamp[key]
                for key in ("package", "version", "licence", "download")
                if key in text_file.stamp
            },
        )
        entry.setdefault("files", []).append(text_file.path)
    manifest = {
        "language": language,
        "output": output_file,
        "sources": sources,
        "dev_files": dev.files,
        "filters": {
            "min_tokens": min_tokens,
            "max_tokens": max_tokens,
            "max_sentences": max_sentences,
            "seed": seed,
        },
        "counts": stats_dict(stats),
        "seconds": round(time.perf_counter() - started, 1),
    }
    write_sentences(output_file, sentences, manifest)
    return manifest
