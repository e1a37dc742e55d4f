import logging
import random
import re
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from allennlp.common.checks import ConfigurationError
from allennlp.data import DatasetReader, Instance, Token
from allennlp.data.dataset_readers.dataset_utils.span_utils import to_bioul
from allennlp.data.fields import MetadataField, SequenceLabelField, TextField
from allennlp.data.token_indexers import SingleIdTokenIndexer, TokenIndexer

from xner_allennlp.common.errors import InputFormatError, decode_line, require_file
from xner_allennlp.data.romanized_token import RomanizedToken
from xner_allennlp.data.token_indexers import RomanizedCharactersIndexer
from xner_allennlp.dataset_readers.normalization import normalize_word
from xner_allennlp.romanization.romanizer import IdentityRomanizer, Romanizer
from xner_allennlp.translation.translator import Translator

logger = logging.getLogger(__name__)

_TAG = re.compile(r"O|[BIELSU]-\S+")
TRANSLATION_MODES = ("replace", "append")


@DatasetReader.register("xner_conll")
class XnerConllReader(DatasetReader):
    """
    Reads CoNLL-2002/2003-style NER files for cross-lingual transfer.

    Each non-blank line is a token: the word is the first whitespace-separated column and the
    NER tag the last, whatever the number of columns in between (CoNLL-2003 en: 4, de: 5;
    CoNLL-2002 es: 2, nl: 3). Blank lines end sentences, and `-DOCSTART-` lines end
    documents. Input tags may be IOB1, IOB2 (BIO) or BIOES/BIOUL, detected per sentence; the
    output is always BIOUL. A UTF-8 byte-order mark at the start of the file is ignored.

    Each instance has a `tokens` `TextField` of `RomanizedToken`s (`text`: the normalised word
    for the word indexer; `romanized`: the romanized surface word for the
    `romanized_characters` indexer), a `tags` `SequenceLabelField` (namespace `labels`) and a
    `metadata` field with the surface `words`.

    Registered as a `DatasetReader` with name "xner_conll".

    # Parameters

    token_indexers : `Dict[str, TokenIndexer]`, optional
        Default: `{"tokens": single_id, "token_characters": romanized_characters}`.
    encoding : `str`, optional (default = `"utf-8"`)
        The files' encoding (the original CoNLL-2002 es/nl and CoNLL-2003 de are `"latin-1"`).
    lowercase : `bool`, optional (default = `True`)
    replace_numbers : `bool`, optional (default = `True`)
        Numbers become `num`.
    replace_urls : `bool`, optional (default = `True`)
        URLs become `url`.
    romanizer : `Romanizer`, optional (default = `identity`)
        Gives the form the character indexer reads (`{"type": "uroman"}` in the paper setting).
    drop_tag_types : `List[str]`, optional (default = `[]`)
        Entity types turned into `O` (e.g. `["MISC"]` for PER/ORG/LOC-only targets).
    tag_map : `Dict[str, str]`, optional (default = `{}`)
        Rewrites raw tags before they are checked, e.g. `{"TIM": "O"}` for a bare tag outside
        the IOB schemes.
    empty_tag : `str`, optional (default = `None`)
        Tag given to a line that has a word but no tag column. By default such a line is an
        error; `"O"` accepts it as outside any entity.
    translator : `Translator`, optional (default = `None`)
        Translates every sentence word by word (reverse translation). Configure it only on the
        training reader.
    translation_mode : `str`, optional (default = `"replace"`)
        `"replace"` yields the translated sentence only; `"append"` yields the original and then
        the translated sentence (source and target learnt jointly).
    shuffle_words : `bool`, optional (default = `False`)
        Shuffles the word order inside each sentence, keeping every entity's words together and
        in order (the paper's word-order ablation). Seeded by `shuffle_seed` and the sentence's
        position, so every epoch and run sees the same order.
    shuffle_seed : `int`, optional (default = `13`)
    """

    def __init__(
        self,
        token_indexers: Dict[str, TokenIndexer] = None,
        encoding: str = "utf-8",
        lowercase: bool = True,
        replace_numbers: bool = True,
        replace_urls: bool = True,
        romanizer: Romanizer = None,
        drop_tag_types: Sequence[str] = (),
        tag_map: Dict[str, str] = None,
        empty_tag: Optional[str] = None,
        translator: Translator = None,
        translation_mode: str = "replace",
        shuffle_words: bool = False,
        shuffle_seed: int = 13,
        **kwargs,
    ) -> None:
        super().__init__(
            manual_distributed_sharding=True, manual_multiprocess_sharding=True, **kwargs
        )
        self._token_indexers = token_indexers or {
            "tokens": SingleIdTokenIndexer(),
            "token_characters": RomanizedCharactersIndexer(),
        }
        self._encoding = encoding
        self._lowercase = lowercase
        self._replace_numbers = replace_numbers
        self._replace_urls = replace_urls
        self._romanizer = romanizer or IdentityRomanizer()
        self._drop_tag_types = set(drop_tag_types)
        self._tag_map = dict(tag_map or {})
        if empty_tag is not None and not _TAG.fullmatch(empty_tag):
            raise ConfigurationError(f"empty_tag must be O or a B-/I- tag, got {empty_tag!r}")
        self._empty_tag = empty_tag
        if translation_mode not in TRANSLATION_MODES:
            raise ConfigurationError(
                f"translation_mode {translation_mode!r} is not one of {', '.join(TRANSLATION_MODES)}"
            )
        self._translator = translator
        self._translation_mode = translation_mode
        self._shuffle_words = shuffle_words
        self._shuffle_seed = shuffle_seed

    # Whether `_read` fails when distributed training has more workers than the file sentences
    # (a `multi_source` reader turns it off for its sources).
    check_worker_share = True

    # ------------------------------------------------------------------ reading files

    def _read(self, file_path) -> Iterable[Instance]:
        path = require_file(file_path, "data file")
        counted = [0]

        def sentences() -> Iterator[Tuple[int, Tuple[int, List[str], List[str]]]]:
            for item in enumerate(self.read_sentences(path)):
                counted[0] += 1
                yield item

        yield from self._instances(path, self.shard_iterable(sentences()))
        # Distributed training shards the sentences (worker k reads sentences k, k + n, ...):
        # a worker without any would train and validate on nothing and stall the others.
        workers = _distributed_world_size()
        if workers > counted[0] and self.max_instances is None and self.check_worker_share:
            raise ConfigurationError(
                f"{path}: {counted[0]} sentence{'s' if counted[0] != 1 else ''} for {workers} "
                "distributed workers: every worker reads its own share of the sentences and needs "
                "at least one (use fewer workers, XNER_DISTRIBUTED, or a larger file)"
            )

    def _instances(self, path: str, shard) -> Iterator[Instance]:
        for position, (first_line, words, tags) in shard:
            tags = self._to_bioul(tags, path, first_line)
            if self._shuffle_words:
                words, tags = shuffle_keeping_entities(
                    words, tags, random.Random(self._shuffle_seed * 1_000_003 + position)
                )
            normalized = self.normalize(words)
            if self._translator is None or self._translation_mode == "append":
                yield self.text_to_instance(words, tags, normalized)
            if self._translator is not None:
                translated = self._translator.translate(normalized)
                if len(translated) != len(normalized):
                    raise RuntimeError(
                        f"{type(self._translator).__name__} changed the length of the sentence "
                        f"at {path}:{first_line}"
                    )
                # Untranslated words keep their surface form for the character encoder.
                surface = [
                    w if t == n else _transfer_case(w, t)
                    for w, n, t in zip(words, normalized, translated)
                ]
                yield self.text_to_instance(surface, tags, translated)

    def read_sentences(self, path: str) -> Iterator[Tuple[int, List[str], List[str]]]:
        """Yields (line number of the first token, words, raw tags) per sentence."""
        words: List[str] = []
        tags: List[str] = []
        first_line = 0
        with open(path, "rb") as handle:
            for line_number, raw in enumerate(handle, 1):
                line = decode_line(raw, self._encoding, path, line_number, "the reader's `encoding`")
                if line_number == 1:
                    line = line.lstrip("\ufeff")
                fields = line.split()
                if not fields or fields[0] == "-DOCSTART-":
                    if words:
                        yield first_line, words, tags
                        words, tags = [], []
                    continue
                if len(fields) == 1:
                    if self._empty_tag is None:
                        raise InputFormatError(
                            path,
                            line_number,
                            f"token {fields[0]!r} has no tag column; expected the word first and "
                            "the NER tag last (set the reader's `empty_tag`, e.g. \"O\", to "
                            "accept such lines)",
                        )
                    tag = self._empty_tag
                else:
                    tag = self._tag_map.get(fields[-1], fields[-1])
                if not _TAG.fullmatch(tag):
                    raise InputFormatError(
                        path,
                        line_number,
                        f"tag {tag!r} is not O or B-/I-/E-/L-/S-/U-TYPE (map it with the reader's "
                        "`tag_map`)",
                    )
                if not words:
                    first_line = line_number
                words.append(fields[0])
                tags.append(tag)
        if words:
            yield first_line, words, tags

    def _to_bioul(self, tags: List[str], path: str, first_line: int) -> List[str]:
        if any(tag[0] in "ELSU" for tag in tags):
            # Already BIOES/BIOUL: only the letters differ.
            bioul = [{"E": "L", "S": "U"}.get(tag[0], tag[0]) + tag[1:] for tag in tags]
        else:
            # to_bioul's IOB1 mode also reads IOB2: B- always opens a span there.
            bioul = to_bioul(tags, encoding="IOB1")
        if self._drop_tag_types:
            bioul = [
                "O" if tag != "O" and tag[2:] in self._drop_tag_types else tag for tag in bioul
            ]
        return bioul

    # ------------------------------------------------------------------ instances

    def normalize(self, words: Sequence[str]) -> List[str]:
        """The normalised forms the word indexer and the translator see."""
        return [
            normalize_word(w, self._lowercase, self._replace_numbers, self._replace_urls)
            for w in words
        ]

    def text_to_instance(  # type: ignore
        self,
        words: List[str],
        tags: Optional[List[str]] = None,
        normalized: Optional[List[str]] = None,
    ) -> Instance:
        """
        `words` are surface words; `tags` are BIOUL; `normalized` defaults to
        `self.normalize(words)`. The predictor goes through here too, so training and
        prediction share one normalisation and romanization path.
        """
        if normalized is None:
            normalized = self.normalize(words)
        tokens = [
            RomanizedToken(n, self._romanizer.romanize(w) or w, surface=w)
            for w, n in zip(words, normalized)
        ]
        text_field = TextField(tokens, self._token_indexers)
        fields = {"tokens": text_field, "metadata": MetadataField({"words": list(words)})}
        if tags is not None:
            fields["tags"] = SequenceLabelField(tags, text_field, "labels")
        return Instance(fields)


def _distributed_world_size() -> int:
    """The number of distributed workers (1 outside distributed training)."""
    from allennlp.common import util

    if not util.is_distributed():
        return 1
    import torch.distributed as dist

    return dist.get_world_size()


def _transfer_case(source: str, translated: str) -> str:
    """Gives a translated (lowercase) word the capitalisation of the word it replaces."""
    if source.isupper() and len(source) > 1:
        return translated.upper()
    if source[:1].isupper():
        return translated[:1].upper() + translated[1:]
    return translated


def entity_units(tags: Sequence[str]) -> List[Tuple[int, int]]:
    """Splits a BIOUL sequence into [start, end) units: one per entity, one per other token."""
    units = []
    start = 0
    while start < len(tags):
        end = start + 1
        if tags[start][0] == "B":
            while end < len(tags) and tags[end - 1][0] != "L" and tags[end][0] in "IL":
                end += 1
        units.append((start, end))
        start = end
    return units


def shuffle_keeping_entities(
    words: Sequence[str], tags: Sequence[str], rng: random.Random
) -> Tuple[List[str], List[str]]:
    units = entity_units(tags)
    rng.shuffle(units)
    order = [i for start, end in units for i in range(start, end)]
    return [words[i] for i in order], [tags[i] for i in order]
