import logging
from dataclasses import dataclass
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
from allennlp.common.checks import ConfigurationError

from xner_allennlp.common.dictionary import DictionaryEntry, check_direction, read_dictionary
from xner_allennlp.common.errors import InputFormatError
from xner_allennlp.common.normalization import NUMBER_TOKEN, URL_TOKEN, normalize_word
from xner_allennlp.common.params import as_list
from xner_allennlp.common.vector_math import check_same_dimension, unit_rows
from xner_allennlp.common.word_vectors import WordVectors, load_merged
from xner_allennlp.translation.translator import Translator

logger = logging.getLogger(__name__)


@dataclass
class TranslationStats:
    """Counts over every `translate` call of one translator (for `allennlp xner-translate`)."""

    translated: int = 0
    kept: int = 0
    # Dictionary candidates of the translated tokens, with or without a target vector.
    candidates: int = 0
    # Translated tokens none of whose candidates has a target vector (first candidate taken).
    unscored: int = 0

    @property
    def mean_candidates(self) -> float:
        return self.candidates / self.translated if self.translated else 0.0


class _Entry(NamedTuple):
    # Candidates that have a target vector, in dictionary order, and their rows in the compact
    # target matrix; when none has a vector, `words` is just the first dictionary candidate
    # and `rows` is empty.
    words: Tuple[str, ...]
    rows: np.ndarray
    num_candidates: int


def pivot_pairs(
    pivot: List[DictionaryEntry], dictionary: List[DictionaryEntry], flags: Tuple[bool, bool, bool]
) -> List[DictionaryEntry]:
    """
    Source -> target pairs through a shared first language: `pivot` holds (line, English,
    source) entries and `dictionary` (line, English, target) ones; each source word gets the
    targets of each of its English words, in the order of `pivot`, then of `dictionary`
    (`(pivot line, source, target)`, each pair once). English words are matched normalised
    (`normalize_word` with `flags`).
    """
    targets: Dict[str, List[str]] = {}
    for _, english, target in dictionary:
        targets.setdefault(normalize_word(english, *flags), []).append(target)
    pairs: Dict[Tuple[str, str], int] = {}
    for line, english, source in pivot:
        for target in targets.get(normalize_word(english, *flags), ()):
            pairs.setdefault((source, target), line)
    return [(line, source, target) for (source, target), line in pairs.items()]


@Translator.register("context_dictionary")
class ContextDictionaryTranslator(Translator):
    """
    Word-by-word translation with a bilingual dictionary, choosing among a word's candidate
    translations with the aligned word vectors and the sentence context (paper, section 3.2).

    An English word `w` with dictionary candidates is replaced by the candidate `t` maximising

        F(w, t) = alpha * cos(E(w), E(t)) + (1 - alpha) * sum_j cos(E(t), E(c_j)) / (d_j + 1)^2

    where the `c_j` are the other words of the sentence within `window` positions of `w`, at
    distance `d_j = |i - j|` (so a neighbour weighs 1/4), and `E` are the aligned vectors.
    Context words without a source vector are left out of the sum; a word without a source
    vector loses the first term and is translated by its context alone.

    A candidate without a target vector is never chosen over one that has a vector; a word
    none of whose candidates has a target vector gets its first candidate in dictionary order.
    Equal scores go to the candidate that comes first in the dictionary. Words without a
    dictionary entry are returned unchanged.

    Dictionary entries are matched on normalised words: both sides go through `normalize_word`
    with the flags below, which must be those of the reader. Pairs where normalisation turned a
    number or URL into its placeholder are dropped, since the placeholders stand for the same
    thing in every language (otherwise `2 dos` would make every number `dos`).

    Registered as a `Translator` with name "context_dictionary".

    # Parameters

    dictionary : `str`
        MUSE dictionary file (`source target` per line, several lines per source word allowed).
    source_vectors : `str` or `List[str]`
        Aligned English vector file(s), merged with `load_merged` (first file wins).
    target_vectors : `str` or `List[str]`
        Aligned target-language vector file(s), in the same space.
    alpha : `float`, optional (default = `0.5`)
        Weight of the direct word-to-translation similarity against the context.
    window : `int`, optional (default = `None`)
        Context words further than this are ignored; `None` uses the whole sentence.
    dictionary_encoding : `str`, optional (default = `"utf-8"`)
    vectors_encoding : `str`, optional (default = `"utf-8"`)
    max_vector_words : `int`, optional (default = `None`)
        Read only the first rows of each vector file.
    lowercase : `bool`, optional (default = `True`)
    replace_numbers : `bool`, optional (default = `True`)
    replace_urls : `bool`, optional (default = `True`)
        Normalisation of the dictionary entries, as the reader's parameters of the same names.
    pivot_dictionary : `str`, optional (default = `None`)
        Translates a language that has no dictionary to the target through English: `dictionary`
        is then English -> target (MUSE's `en-bn.txt`) and `pivot_dictionary` English -> the
        source (`en-es.txt`), and a source word's candidates are the target translations of
        its English translations, in dictionary order (`pivot_pairs`). `source_vectors` are
        the source language's, in the same space as the target's. For the Spanish and Dutch
        sources of a multi-source model (`XNER_PIVOT`).
    """

    def __init__(
        self,
        dictionary: str,
        source_vectors: Union[str, List[str]],
        target_vectors: Union[str, List[str]],
        alpha: float = 0.5,
        window: Optional[int] = None,
        dictionary_encoding: str = "utf-8",
        vectors_encoding: str = "utf-8",
        max_vector_words: Optional[int] = None,
        lowercase: bool = True,
        replace_numbers: bool = True,
        replace_urls: bool = True,
        pivot_dictionary: Optional[str] = None,
    ) -> None:
        _check_parameters(alpha, window)
        if max_vector_words is not None and max_vector_words < 1:
            raise ConfigurationError(f"max_vector_words must be at least 1, got {max_vector_words}")
        pairs = read_dictionary(dictionary, dictionary_encoding)
        if pivot_dictionary is not None:
            flags = (lowercase, replace_numbers, replace_urls)
            pairs = pivot_pairs(read_dictionary(pivot_dictionary, dictionary_encoding), pairs, flags)
            if not pairs:
                raise InputFormatError(
                    pivot_dictionary,
                    None,
                    f"no English word of it is in {dictionary}: expected both to be English -> "
                    "X dictionaries (MUSE's en-XX.txt)",
                )
        source = load_merged(as_list(source_vectors), encoding=vectors_encoding, max_words=max_vector_words)
        target = load_merged(as_list(target_vectors), encoding=vectors_encoding, max_words=max_vector_words)
        self._setup(
            dictionary, pairs, source, target, alpha, window, lowercase, replace_numbers, replace_urls
        )

    @classmethod
    def from_tables(
        cls,
        dictionary: str,
        source: WordVectors,
        target: WordVectors,
        alpha: float = 0.5,
        window: Optional[int] = None,
        dictionary_encoding: str = "utf-8",
        lowercase: bool = True,
        replace_numbers: bool = True,
        replace_urls: bool = True,
    ) -> "ContextDictionaryTranslator":
        """Builds the translator on vector tables already in memory (benchmarks, tests)."""
        _check_parameters(alpha, window)
        translator = cls.__new__(cls)
        translator._setup(
            dictionary,
            read_dictionary(dictionary, dictionary_encoding),
            source,
            target,
            alpha,
            window,
            lowercase,
            replace_numbers,
            replace_urls,
        )
        return translator

    def _setup(
        self, path, pairs, source, target, alpha, window, lowercase, replace_numbers, replace_urls
    ) -> None:
        check_same_dimension(
            source.dim,
            target.dim,
            f"source vectors ({source.source})",
            f"target vectors ({target.source})",
            ConfigurationError,
            "{first} have dimension {first_dim}, {second} {second_dim}: they must be aligned in one space",
        )
        self._alpha = float(alpha)
        self._window = window
        self._flags = (lowercase, replace_numbers, replace_urls)
        self.stats = TranslationStats()

        candidates: Dict[str, Dict[str, None]] = {}
        for _, src, tgt in pairs:
            s, t = self._normalize(src), self._normalize(tgt)
            if self._is_placeholder(src, s) or self._is_placeholder(tgt, t):
                continue
            candidates.setdefault(s, {})[t] = None
        if not candidates:
            raise InputFormatError(path, None, "the dictionary has no `source target` pairs")

        target_index, source_index = target.index, source.index
        check_direction(
            path,
            [(s, t) for s, cands in candidates.items() for t in cands],
            source_index,
            target_index,
            f"the source vectors ({source.source})",
            f"the target vectors ({target.source})",
        )
        compact: Dict[int, int] = {}
        self._entries: Dict[str, _Entry] = {}
        scorable = with_target = total = 0
        for word, cands in candidates.items():
            kept = [(t, target_index[t]) for t in cands if t in target_index]
            total += len(cands)
            with_target += len(kept)
            if word in source_index:
                scorable += len(kept)
            if kept:
                rows = np.array([compact.setdefault(r, len(compact)) for _, r in kept], np.int64)
                self._entries[word] = _Entry(tuple(t for t, _ in kept), rows, len(cands))
            else:
                first = next(iter(cands))
                self._entries[word] = _Entry((first,), np.empty(0, np.int64), len(cands))
        if scorable == 0:
            with_source = sum(word in source_index for word in candidates)
            raise InputFormatError(
                path,
                None,
                f"zero candidates could be scored: of {total} pairs, {with_target} have a target "
                f"vector ({target.source}), and {with_source} of {len(candidates)} source words "
                f"have a source vector ({source.source}), never both for one pair. Check that "
                "the vector files are the dictionary's languages (not swapped) and use the same "
                "normalisation",
            )
        self._source_index = source_index
        # Context words can be any English word: the whole source table, normalised once and
        # shared with every other user of the table.
        self._source_unit = source.unit_normalized()
        # Only candidates are ever looked up on the target side: normalising just their rows
        # avoids a second full-size copy of the target table.
        vectors = target.matrix[np.fromiter(compact, np.int64, len(compact))]
        self._target_unit = unit_rows(vectors)
        self._weights = np.zeros(0, np.float32)
        logger.info(
            "%s: %d source words, %d pairs (%d with a target vector, %d scorable with a source "
            "vector too)",
            path,
            len(candidates),
            total,
            with_target,
            scorable,
        )

    def _normalize(self, word: str) -> str:
        return normalize_word(word, *self._flags)

    @staticmethod
    def _is_placeholder(word: str, normalized: str) -> bool:
        return normalized in (NUMBER_TOKEN, URL_TOKEN) and word.lower() != normalized

    def normalize(self, words: Sequence[str]) -> List[str]:
        """The normalised forms `translate` expects (those the reader gives it)."""
        return [self._normalize(w) for w in words]

    def _distance_weights(self, length: int) -> np.ndarray:
        # weights[d] for d = 0..length-1: 0 for the word itself and beyond the window.
        if len(self._weights) < length:
            distance = np.arange(max(length, 2 * len(self._weights)), dtype=np.float32)
            weights = 1.0 / (distance + 1.0) ** 2
            weights[0] = 0.0
            if self._window is not None:
                weights[self._window + 1 :] = 0.0
            self._weights = weights.astype(np.float32)
        return self._weights

    def translate(self, words: List[str]) -> List[str]:
        entries = self._entries
        hits = [(i, entries[w]) for i, w in enumerate(words) if w in entries]
        stats = self.stats
        stats.kept += len(words) - len(hits)
        if not hits:
            return list(words)
        stats.translated += len(hits)
        output = list(words)
        choose = []
        for i, entry in hits:
            stats.candidates += entry.num_candidates
            if len(entry.rows) == 0:
                stats.unscored += 1
            if len(entry.rows) > 1:
                choose.append((i, entry))
            else:
                output[i] = entry.words[0]
        if choose:
            for (i, entry), best in zip(choose, self._best_candidates(words, choose)):
                output[i] = entry.words[best]
        return output

    def _best_candidates(self, words: List[str], choose: List[Tuple[int, _Entry]]) -> np.ndarray:
        """Index (within its entry) of the best candidate of each word in `choose`."""
        index = self._source_index
        present, rows = [], []
        for j, word in enumerate(words):
            row = index.get(word)
            if row is not None:
                present.append(j)
                rows.append(row)
        counts = np.array([len(entry.rows) for _, entry in choose])
        owner = np.repeat(np.array([i for i, _ in choose]), counts)
        candidates = np.concatenate([entry.rows for _, entry in choose])
        # cos(E(t), E(w_j)) of every candidate against every word of the sentence at once.
        similarity = self._target_unit[candidates] @ self._source_unit[rows].T
        distance = np.abs(owner[:, None] - np.array(present, np.int64)[None, :])
        context = (similarity * self._distance_weights(len(words))[distance]).sum(axis=1)
        # The word's own column (distance 0) is the direct term; absent without a source vector.
        direct = np.where(distance == 0, similarity, 0.0).sum(axis=1)
        scores = self._alpha * direct + (1.0 - self._alpha) * context
        starts = np.cumsum(counts) - counts
        best = np.maximum.reduceat(scores, starts)
        # First maximum of each segment: ties go to the earlier dictionary candidate.
        winners = np.flatnonzero(scores == np.repeat(best, counts))
        return winners[np.searchsorted(winners, starts)] - starts


def _check_parameters(alpha: float, window: Optional[int]) -> None:
    if not 0.0 <= alpha <= 1.0:
        raise ConfigurationError(f"alpha must be in [0, 1], got {alpha}")
    if window is not None and window < 0:
        raise ConfigurationError(f"window must be None or >= 0, got {window}")
