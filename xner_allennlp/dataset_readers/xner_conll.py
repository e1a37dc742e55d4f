import logging
import lzma
import os
import random
import re
import zlib
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

from allennlp.common import Lazy
from allennlp.common.checks import ConfigurationError
from allennlp.common.file_utils import open_compressed
from allennlp.data import DatasetReader, Field, Instance, Token, Vocabulary
from allennlp.data.dataset_readers.dataset_utils.span_utils import to_bioul
from allennlp.data.fields import MetadataField, SequenceLabelField, TextField
from allennlp.data.token_indexers import SingleIdTokenIndexer, TokenIndexer

from xner_allennlp.common.errors import (
    InputFormatError,
    decode_line,
    require_file,
    split_fields,
    warn_mojibake,
)
from xner_allennlp.common.normalization import TAG_PATTERN, normalize_word, transfer_case
from xner_allennlp.data.romanized_token import RomanizedToken
from xner_allennlp.data.token_indexers import RomanizedCharactersIndexer
from xner_allennlp.dataset_readers.word_order import head_final_order as _head_final_order
from xner_allennlp.romanization.romanizer import IdentityRomanizer, Romanizer
from xner_allennlp.translation.translator import Translator

logger = logging.getLogger(__name__)

TRANSLATION_MODES = ("replace", "append")
# Longest word romanized whole (see `_character_forms`).
_ROMANIZED_MAX = 1000
# Penn Treebank common nouns (proper nouns, NNP/NNPS, are capitalised in English already).
_COMMON_NOUNS = {"NN", "NNS"}
_ADJECTIVES = {"JJ", "JJR", "JJS"}
# A run of one letter (not a digit: "2000" stays four characters long).
_REPEATED_LETTER = re.compile(r"([^\W\d_])\1+")
# The suffixes allennlp's `open_compressed` decompresses.
_COMPRESSED = (".gz", ".bz2", ".xz")


@DatasetReader.register("xner_conll")
class XnerConllReader(DatasetReader):
    """
    Reads CoNLL-2002/2003-style NER files for cross-lingual transfer.

    Each non-blank line is a token: the word is the first whitespace-separated column and the
    NER tag the last, whatever the number of columns in between (CoNLL-2003 en: 4, de: 5;
    CoNLL-2002 es: 2, nl: 3). Blank lines end sentences, and `-DOCSTART-` lines end
    documents. Input tags may be IOB1, IOB2 (BIO) or BIOES/BIOUL, detected per sentence; the
    output is always BIOUL. A BIOES/BIOUL sentence must parse as one (an error names the tag
    otherwise, usually a sentence mixing IOB and BIOES tags). Lines are read under
    `xner_allennlp.common.errors.decode_line`'s text policy (`\n` or `\r\n` endings, no
    control characters, a byte-order mark on line 1 ignored, words in Unicode NFC); columns
    are separated by ASCII spaces and tabs only. Files ending in `.gz`, `.bz2` or `.xz` are
    decompressed. A file without any sentence is an error, and so is, when the instances are
    indexed, a tag the vocabulary does not know (see `TagsField`).

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
        training reader. From a config it is built when the first file is read, not when the
        reader is: loading an archive builds its training reader too, and `allennlp predict` /
        `evaluate` must neither wait for the dictionary and vector tables (seconds) nor need
        them on the machine.
    translation_mode : `str`, optional (default = `"replace"`)
        `"replace"` yields the translated sentence only; `"append"` yields the original and then
        the translated sentence (source and target learnt jointly).
    shuffle_words : `bool`, optional (default = `False`)
        Shuffles the word order inside each sentence, keeping every entity's words together and
        in order (the paper's word-order ablation). Seeded by `shuffle_seed` and the sentence's
        position, so every epoch and run sees the same order.
    shuffle_seed : `int`, optional (default = `13`)
    head_final_order : `bool`, optional (default = `False`)
        Reorders each sentence toward a head-final target (verb-final, postpositional: Bengali,
        Hindi, Japanese, Turkish) by its chunk column (the third of four or more, as in the
        English CoNLL-2003 files): within each clause a preposition follows its noun phrase and
        a verb group follows its objects ("Germany beat England in London" -> "Germany England
        London in beat"; `word_order.head_final_order`). Entities stay whole and in order.
        Without it the word BiLSTM learns English cues on the left of an entity ("in", "to")
        that such a target puts on its right. A sentence without a chunk column is an error.
    capitalize_nouns : `bool`, optional (default = `False`)
        In each translated sentence, a word whose source POS (the second column, as in the
        English CoNLL-2003 files) is a common noun (`noun_tags`) starts with a capital letter,
        as German nouns do. Without it the character encoder learns from English, and from the
        translations' lowercase German nouns, that a capital letter means an entity. A reader
        without a translator capitalises the nouns of the sentences it reads (e.g. Dutch or
        Spanish sources of a German multi-source model). A sentence without a POS column is an
        error.
    noun_tags : `List[str]`, optional (default = `["NN", "NNS"]`)
        The POS tags `capitalize_nouns` capitalises: the Penn tags of the English files; `N` in
        the CoNLL-2002 Dutch files, `NC` in the Spanish ones.
    lowercase_adjectives : `bool`, optional (default = `False`)
        As `capitalize_nouns`, but a word whose POS is an adjective (`adjective_tags`) starts
        with a lower-case letter, as German (and Spanish) adjectives of nationality do
        ("deutschen", "serbischen": CoNLL MISC) where English writes "German", "Serbian".
    adjective_tags : `List[str]`, optional (default = `["JJ", "JJR", "JJS"]`)
        `Adj` in the CoNLL-2002 Dutch files, `AQ` in the Spanish ones.
    lowercase_characters : `bool`, optional (default = `False`)
        The character encoder reads the words lower-cased (the word vectors always are), so
        capitalisation carries no signal at all; set it on the training and the target readers
        alike.
    collapse_repeated_characters : `bool`, optional (default = `False`)
        The character encoder reads a run of one repeated letter as that letter once, after
        romanization ("ddhaakaa" -> "dhaka", "mohammad" -> "mohamad"). uroman writes
        Bengali long vowels and retroflex consonants as doubled letters ("ddhaakaa" for Dhaka)
        where the English spelling of the same name has single ones, so the two only look alike
        to the character encoder when both are collapsed: set it on the training and the target
        readers alike.
    """

    def __init__(
        self,
        token_indexers: Optional[Dict[str, TokenIndexer]] = None,
        encoding: str = "utf-8",
        lowercase: bool = True,
        replace_numbers: bool = True,
        replace_urls: bool = True,
        romanizer: Optional[Romanizer] = None,
        drop_tag_types: Sequence[str] = (),
        tag_map: Optional[Dict[str, str]] = None,
        empty_tag: Optional[str] = None,
        translator: Union[Lazy[Translator], Translator, None] = None,
        translation_mode: str = "replace",
        shuffle_words: bool = False,
        shuffle_seed: int = 13,
        head_final_order: bool = False,
        capitalize_nouns: bool = False,
        noun_tags: Optional[List[str]] = None,
        lowercase_adjectives: bool = False,
        adjective_tags: Optional[List[str]] = None,
        lowercase_characters: bool = False,
        collapse_repeated_characters: bool = False,
        **kwargs,
    ) -> None:
        super().__init__(manual_distributed_sharding=True, manual_multiprocess_sharding=True, **kwargs)
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
        if empty_tag is not None and not TAG_PATTERN.fullmatch(empty_tag):
            raise ConfigurationError(f"empty_tag must be O or a B-/I- tag, got {empty_tag!r}")
        self._empty_tag = empty_tag
        if translation_mode not in TRANSLATION_MODES:
            raise ConfigurationError(
                f"translation_mode {translation_mode!r} is not one of {', '.join(TRANSLATION_MODES)}"
            )
        self._lazy_translator = translator if isinstance(translator, Lazy) else None
        self._built_translator = None if isinstance(translator, Lazy) else translator
        self._translation_mode = translation_mode
        self._shuffle_words = shuffle_words
        self._shuffle_seed = shuffle_seed
        if head_final_order and shuffle_words:
            raise ConfigurationError("head_final_order and shuffle_words both set the word order: choose one")
        self._head_final_order = head_final_order
        for key, value in (("noun_tags", noun_tags), ("adjective_tags", adjective_tags)):
            if value is not None and (not value or not all(isinstance(t, str) and t for t in value)):
                raise ConfigurationError(f"{key} must be a non-empty list of POS tags, got {value!r}")
        self._capitalize_nouns = capitalize_nouns
        self._noun_tags = set(noun_tags) if noun_tags is not None else _COMMON_NOUNS
        self._lowercase_adjectives = lowercase_adjectives
        self._adjective_tags = set(adjective_tags) if adjective_tags is not None else _ADJECTIVES
        self._lowercase_characters = lowercase_characters
        self._collapse_repeated_characters = collapse_repeated_characters

    @property
    def _translator(self) -> Optional[Translator]:
        if self._lazy_translator is not None:
            self._built_translator = self._lazy_translator.construct()
            self._lazy_translator = None
        return self._built_translator

    # Whether `_read` fails when distributed training has more workers than the file sentences
    # (a `multi_source` reader turns it off for its sources).
    check_worker_share = True

    # ------------------------------------------------------------------ reading files

    def _read(self, file_path) -> Iterable[Instance]:
        path = _require_data_file(file_path)
        counted = [0]

        def sentences() -> (
            Iterator[Tuple[int, Tuple[int, List[str], List[str], List[Optional[str]], List[Optional[str]]]]]
        ):
            for item in enumerate(self._read_rows(path)):
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
        for position, (first_line, words, tags, pos, chunks) in shard:
            tags = self._to_bioul(tags, path, first_line)
            lines: Sequence[int] = range(first_line, first_line + len(words))
            order = None
            if self._head_final_order:
                if None in chunks:
                    raise InputFormatError(
                        path,
                        lines[chunks.index(None)],
                        "head_final_order needs a chunk column (the third of four or more, "
                        "as in the CoNLL-2003 files)",
                    )
                order = _head_final_order(tags, chunks)
            if self._shuffle_words:
                order = shuffled_order(tags, random.Random(self._shuffle_seed * 1_000_003 + position))
            if order is not None:
                words = [words[i] for i in order]
                tags = [tags[i] for i in order]
                lines = [lines[i] for i in order]
                pos = [pos[i] for i in order]
            normalized = self.normalize(words)
            source = (path, lines)
            if self._translator is None or self._translation_mode == "append":
                surface = words
                if self._translator is None:
                    surface = self._target_case(words, pos, path, lines)
                yield self.text_to_instance(surface, tags, normalized, source=source)
            if self._translator is not None:
                translated = self._translator.translate(normalized)
                if len(translated) != len(normalized):
                    raise RuntimeError(
                        f"{type(self._translator).__name__} changed the length of the sentence "
                        f"at {path}:{first_line}"
                    )
                # Untranslated words keep their surface form for the character encoder.
                surface = [
                    w if t == n else transfer_case(w, t) for w, n, t in zip(words, normalized, translated)
                ]
                surface = self._target_case(surface, pos, path, lines)
                yield self.text_to_instance(surface, tags, translated, source=source)

    def read_sentences(self, path: str) -> Iterator[Tuple[int, List[str], List[str]]]:
        """
        Yields (line number of the first token, words, raw tags) per sentence. A file without
        any sentence is an `InputFormatError`: training or evaluating on it would silently do
        nothing (or fail later, far from the cause).
        """
        for first_line, words, tags, _, _ in self._read_rows(path):
            yield first_line, words, tags

    def _read_rows(
        self, path: str
    ) -> Iterator[Tuple[int, List[str], List[str], List[Optional[str]], List[Optional[str]]]]:
        """
        `read_sentences`, with each token's second and third columns too: the POS tag of the
        CoNLL-2003 and CoNLL-2002 nl files (`None` for a two-column line) and the chunk tag of
        the CoNLL-2003 files (`None` for a line of fewer than four columns).
        """
        path = _require_data_file(path)
        words: List[str] = []
        tags: List[str] = []
        pos: List[Optional[str]] = []
        chunks: List[Optional[str]] = []
        first_line = 0
        sentences = 0
        warned = False
        with open_compressed(path, "rb", encoding=None) as handle:
            for line_number, raw in _numbered_lines(handle, path):
                line = decode_line(raw, self._encoding, path, line_number, "the reader's `encoding`")
                if not warned:
                    warned = warn_mojibake(line, self._encoding, path, line_number)
                fields = split_fields(line)
                if not fields or fields[0] == "-DOCSTART-":
                    if words:
                        sentences += 1
                        yield first_line, words, tags, pos, chunks
                        words, tags, pos, chunks = [], [], [], []
                    continue
                if len(fields) == 1:
                    if self._empty_tag is None:
                        raise InputFormatError(
                            path,
                            line_number,
                            f"token {fields[0]!r} has no tag column; expected the word first and "
                            'the NER tag last (set the reader\'s `empty_tag`, e.g. "O", to '
                            "accept such lines)",
                        )
                    tag = self._empty_tag
                else:
                    tag = self._tag_map.get(fields[-1], fields[-1])
                if not TAG_PATTERN.fullmatch(tag):
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
                pos.append(fields[1] if len(fields) > 2 else None)
                chunks.append(fields[2] if len(fields) > 3 else None)
        if words:
            yield first_line, words, tags, pos, chunks
        elif not sentences:
            raise InputFormatError(
                path,
                None,
                "no sentences: the file is empty or holds only blank and -DOCSTART- lines; "
                "expected one token per line (word first, NER tag last)",
            )

    def _target_case(
        self, words: List[str], pos: Sequence[Optional[str]], path: str, lines: Sequence[int]
    ) -> List[str]:
        """The words with the target's case for nouns and adjectives (`capitalize_nouns`,
        `lowercase_adjectives`), by their POS."""
        if not (self._capitalize_nouns or self._lowercase_adjectives):
            return words
        cased = []
        for word, tag, line in zip(words, pos, lines):
            if tag is None:
                option = "capitalize_nouns" if self._capitalize_nouns else "lowercase_adjectives"
                raise InputFormatError(
                    path, line, f"{option} needs a POS column (the second of three or more)"
                )
            if self._capitalize_nouns and tag in self._noun_tags:
                word = word[:1].upper() + word[1:]
            elif self._lowercase_adjectives and tag in self._adjective_tags:
                word = word[:1].lower() + word[1:]
            cased.append(word)
        return cased

    def _to_bioul(self, tags: List[str], path: str, first_line: int) -> List[str]:
        if any(tag[0] in "ELSU" for tag in tags):
            _check_bioes(tags, path, first_line)
            # Already BIOES/BIOUL: only the letters differ.
            bioul = [{"E": "L", "S": "U"}.get(tag[0], tag[0]) + tag[1:] for tag in tags]
        else:
            # to_bioul's IOB1 mode also reads IOB2: B- always opens a span there.
            bioul = to_bioul(tags, encoding="IOB1")
        if self._drop_tag_types:
            bioul = ["O" if tag != "O" and tag[2:] in self._drop_tag_types else tag for tag in bioul]
        return bioul

    # ------------------------------------------------------------------ instances

    def normalize(self, words: Sequence[str]) -> List[str]:
        """The normalised forms the word indexer and the translator see."""
        return [normalize_word(w, self._lowercase, self._replace_numbers, self._replace_urls) for w in words]

    def _character_forms(self, words: List[str]) -> List[str]:
        # uroman's time grows faster than the word's length (23 s for 100,000 Bengali
        # characters) and the character indexer keeps only a word's ends anyway
        # (`max_characters_per_token`), so an absurdly long word is romanized by its ends.
        words = [
            w if len(w) <= _ROMANIZED_MAX else w[: _ROMANIZED_MAX // 2] + w[-_ROMANIZED_MAX // 2 :]
            for w in words
        ]
        return [w.lower() for w in words] if self._lowercase_characters else words

    def _characters_read(self, word: str) -> str:
        romanized = self._romanizer.romanize(word) or word
        if self._collapse_repeated_characters:
            romanized = _REPEATED_LETTER.sub(r"\1", romanized)
        return romanized

    def text_to_instance(
        self,
        words: List[str],
        tags: Optional[List[str]] = None,
        normalized: Optional[List[str]] = None,
        source: Optional[Tuple[str, Sequence[int]]] = None,
    ) -> Instance:
        """
        `words` are surface words; `tags` are BIOUL; `normalized` defaults to
        `self.normalize(words)`. The predictor goes through here too, so training and
        prediction share one normalisation and romanization path. `source` is the file and
        the line of each word, for the error about a tag the model does not know (see
        `TagsField`).
        """
        if normalized is None:
            normalized = self.normalize(words)
        tokens: List[Token] = [
            RomanizedToken(n, self._characters_read(c), surface=w)
            for w, c, n in zip(words, self._character_forms(words), normalized)
        ]
        text_field = TextField(tokens, self._token_indexers)
        fields: Dict[str, Field] = {"tokens": text_field, "metadata": MetadataField({"words": list(words)})}
        if tags is not None:
            path, lines = source or ("text_to_instance input", None)
            fields["tags"] = TagsField(tags, text_field, "labels", path, lines)
        return Instance(fields)


class TagsField(SequenceLabelField):
    """
    The gold tags of a sentence, a `SequenceLabelField` that knows the file and lines they come
    from. Indexing a tag the vocabulary does not have (evaluating a model on a file with an
    entity type it was never trained on, e.g. `B-EVENT` for a PER/LOC/ORG/MISC model) is an
    `InputFormatError` at that tag's line that lists the tags the model knows, instead of
    allennlp's bare `KeyError` from the data loader.
    """

    __slots__ = ["path", "lines"]
    labels: List[str]
    path: str
    lines: Optional[Sequence[int]]

    def __init__(
        self,
        labels: List[str],
        sequence_field: TextField,
        label_namespace: str,
        path: str,
        lines: Optional[Sequence[int]] = None,
    ) -> None:
        super().__init__(labels, sequence_field, label_namespace)
        self.path = path
        self.lines = lines

    def index(self, vocab: Vocabulary) -> None:
        known = vocab.get_token_to_index_vocabulary(self._label_namespace)
        for position, label in enumerate(self.labels):
            # Checked before allennlp's lookup, which in a padded namespace would map the tag to
            # @@UNKNOWN@@ without a word.
            if label not in known:
                raise InputFormatError(
                    self.path,
                    None if self.lines is None else self.lines[position],
                    f"tag {label!r} (entity type {label[2:] or label}, in BIOUL) is not a tag the "
                    f"model knows; it knows {', '.join(sorted(known))}. Map or drop the type with "
                    "the reader's `tag_map` / `drop_tag_types`",
                )
        super().index(vocab)


def _require_data_file(path) -> str:
    if os.path.isdir(path):
        raise InputFormatError(
            path, None, "is a directory; expected a data file in CoNLL format (one token per line)"
        )
    return require_file(path, "data file")


def _numbered_lines(handle, path: str) -> Iterator[Tuple[int, bytes]]:
    """`enumerate(handle, 1)`, where a damaged compressed file is an `InputFormatError`."""
    line_number = 0
    try:
        for line_number, raw in enumerate(handle, 1):
            yield line_number, raw
    except (EOFError, OSError, zlib.error, lzma.LZMAError) as error:
        if not path.endswith(_COMPRESSED):
            raise
        # A truncated gzip is an EOFError, a bad CRC or header an OSError: neither names the
        # file. No line either: the decompressor reads ahead, so the damage is past the lines
        # read so far rather than at the next one.
        raise InputFormatError(
            path,
            None,
            f"the compressed file is truncated or damaged ({type(error).__name__}: {error}) "
            f"after reading {line_number} lines; expected a whole {path.rsplit('.', 1)[-1]} "
            "file (download or compress it again)",
        ) from None


def _check_bioes(tags: Sequence[str], path: str, first_line: int) -> None:
    """
    Checks that a sentence with E-/L-/S-/U- tags parses as BIOES/BIOUL: inside an entity the
    next tag is I- or E-/L- of its type, outside one it is O, B- or S-/U-. A sentence that
    does not is nearly always IOB and BIOES tags mixed (e.g. an IOB `I-` start next to an
    `S-`); converting it anyway would give a sequence that allennlp rejects only in training
    (`InvalidTagSequence`) or evaluation, without saying where it came from.
    """
    scheme = next(i for i, tag in enumerate(tags) if tag[0] in "ELSU")
    why = (
        f"the sentence is BIOES/BIOUL ({tags[scheme]!r} at line {first_line + scheme}); "
        "does it mix IOB and BIOES tags?"
    )
    inside = None  # the type of the entity the previous tag left open
    for position, tag in enumerate(tags):
        if inside is not None and not (tag[0] in "IEL" and tag[2:] == inside):
            expected = f"I-{inside} or E-{inside}/L-{inside} after {tags[position - 1]!r}"
        elif inside is None and tag[0] in "IEL":
            after = f"after {tags[position - 1]!r}" if position else "at the start of a sentence"
            expected = f"O, B- or S-/U- {after}: an entity starts with B- (or is one S-/U- word)"
        else:
            inside = tag[2:] if tag[0] in "BI" else None
            continue
        raise InputFormatError(
            path, first_line + position, f"tag {tag!r} does not parse: expected {expected}; {why}"
        )
    if inside is not None:
        raise InputFormatError(
            path,
            first_line + len(tags) - 1,
            f"tag {tags[-1]!r} ends the sentence inside a {inside} entity: expected it closed "
            f"with E-{inside}/L-{inside}; {why}",
        )


def _distributed_world_size() -> int:
    """The number of distributed workers (1 outside distributed training)."""
    from allennlp.common import util

    if not util.is_distributed():
        return 1
    import torch.distributed as dist

    return dist.get_world_size()


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


def shuffled_order(tags: Sequence[str], rng: random.Random) -> List[int]:
    """The token positions in a shuffled order that keeps each entity's words together."""
    units = entity_units(tags)
    rng.shuffle(units)
    return [i for start, end in units for i in range(start, end)]


def shuffle_keeping_entities(
    words: Sequence[str], tags: Sequence[str], rng: random.Random
) -> Tuple[List[str], List[str]]:
    order = shuffled_order(tags, rng)
    return [words[i] for i in order], [tags[i] for i in order]
