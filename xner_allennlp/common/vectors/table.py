"""
The table of word vectors every part of the package shares, and the operations on whole tables
(removing repeated words, merging tables).
"""

import functools
import logging
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np

from xner_allennlp.common.errors import InputFormatError
from xner_allennlp.common.vector_math import check_same_dimension, unit_rows

# The public module's name: log filters set on it before the split keep working.
logger = logging.getLogger("xner_allennlp.common.word_vectors")


@dataclass
class WordVectors:
    """
    A table of word vectors: `words[i]` has vector `matrix[i]` (float32). Words are unique;
    when a file repeats a word, its first row is kept.

    # Parameters

    words : `List[str]`
        The words, one per row.
    matrix : `np.ndarray`
        The vectors, `(len(words), dim)`.
    source : `str`, optional (default = `""`)
        Where the table comes from (a file, or files joined with `+`), for messages.
    _index : `Dict[str, int]`, optional (default = `None`)
        Word -> row, when the caller has it already; built on first use otherwise.
    """

    words: List[str]
    matrix: np.ndarray
    source: str = ""
    _index: Optional[Dict[str, int]] = field(default=None, repr=False, compare=False)

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1])

    def __len__(self) -> int:
        return len(self.words)

    @property
    def index(self) -> Dict[str, int]:
        if self._index is None:
            self._index = {word: i for i, word in enumerate(self.words)}
        return self._index

    def __contains__(self, word: str) -> bool:
        return word in self.index

    def vector(self, word: str) -> Optional[np.ndarray]:
        row = self.index.get(word)
        return None if row is None else self.matrix[row]

    def unit_normalized(self) -> np.ndarray:
        """Rows scaled to unit length (zero rows stay zero); computed once per table."""
        cached = getattr(self, "_unit", None)
        if cached is None:
            cached = unit_rows(self.matrix)
            cached.flags.writeable = False
            # Not a dataclass field: equality and repr stay those of words and matrix.
            object.__setattr__(self, "_unit", cached)
        return cached


def _first_occurrences(words: Sequence[str], index: Dict[str, int], kept: List[str]) -> List[int]:
    """
    The rows of `words` whose word is not in `index` yet (its first occurrence), each added to
    `index` (at its position in `kept`) and to `kept`.
    """
    rows = []
    for i, word in enumerate(words):
        if word not in index:
            index[word] = len(kept)
            kept.append(word)
            rows.append(i)
    return rows


def deduplicated(table: WordVectors) -> WordVectors:
    """
    `table` with only the first row of each repeated word (the table itself when no word
    repeats, its index filled in on the way).

    # Parameters

    table : `WordVectors`
        A table as parsed, whose words may repeat.
    """
    index: Dict[str, int] = {}
    words: List[str] = []
    rows = _first_occurrences(table.words, index, words)
    if len(rows) == len(table.words):
        table._index = index
        return table
    logger.info("%s: %d repeated words, first occurrence kept", table.source, len(table.words) - len(rows))
    return WordVectors(words, table.matrix[rows], table.source, index)


def merge_word_vectors(tables: Sequence[WordVectors]) -> WordVectors:
    """
    Merges tables into one; a word in several tables keeps the vector of the first (the paper
    removes duplicates from the merged source+target table).

    # Parameters

    tables : `Sequence[WordVectors]`
        At least one table, all of the same dimension; the result is read-only.
    """
    if not tables:
        raise ValueError("merge_word_vectors needs at least one table")
    if len(tables) == 1:
        return tables[0]
    first = tables[0]
    for table in tables[1:]:
        check_same_dimension(
            table.dim, first.dim, table.source, first.source,
            error=functools.partial(InputFormatError, table.source, None),
            message="vectors have dimension {first_dim}, but {second} has {second_dim}",
        )  # fmt: skip
    words: List[str] = []
    index: Dict[str, int] = {}
    parts = []
    for table in tables:
        rows = _first_occurrences(table.words, index, words)
        # Only a table that loses rows is copied before the concatenation.
        parts.append(table.matrix[rows] if len(rows) != len(table) else table.matrix)
    merged = WordVectors(words, np.concatenate(parts), "+".join(t.source for t in tables), index)
    merged.matrix.flags.writeable = False
    return merged
