"""
Dictionary projection: target-language vectors in the source space without any target-language
vectors. Each target word gets the unit-normalised mean of the source vectors of its dictionary
translations (the source words paired with it); a target word none of whose translations has a
source vector gets no vector.
"""

import logging
from dataclasses import dataclass
from typing import Dict, List, Tuple

import numpy as np

from xner_allennlp.alignment.dictionary import Pair
from xner_allennlp.common.vector_math import ZERO_NORM, unit_rows
from xner_allennlp.common.word_vectors import WordVectors

logger = logging.getLogger(__name__)


@dataclass
class ProjectionStats:
    pairs: int  # dictionary pairs read
    pairs_used: int  # pairs whose source word has a vector
    target_words: int  # distinct target words of the dictionary
    target_words_with_vector: int

    def describe(self) -> str:
        return (
            f"{self.target_words_with_vector} of {self.target_words} target words got a vector "
            f"({self.pairs_used} of {self.pairs} dictionary pairs have a source vector)"
        )


def project_dictionary(source: WordVectors, pairs: List[Pair]) -> Tuple[WordVectors, ProjectionStats]:
    """
    Returns the target table (words in order of first appearance in the dictionary, float32,
    unit rows) and counts. Repeated pairs count once.
    """
    target_row: Dict[str, int] = {}
    target_ids, source_ids = [], []
    target_words = set()
    seen = set()
    index = source.index
    for source_word, target_word in pairs:
        target_words.add(target_word)
        if (source_word, target_word) in seen:
            continue
        seen.add((source_word, target_word))
        s = index.get(source_word)
        if s is None:
            continue
        t = target_row.setdefault(target_word, len(target_row))
        target_ids.append(t)
        source_ids.append(s)
    words = list(target_row)
    sums = np.zeros((len(words), source.dim), dtype=np.float64)
    if words:
        np.add.at(sums, np.asarray(target_ids), source.matrix[np.asarray(source_ids)])
    counts = np.bincount(np.asarray(target_ids, dtype=np.int64), minlength=len(words))
    means = sums / np.maximum(counts, 1)[:, None]
    keep = np.linalg.norm(means, axis=1) > ZERO_NORM
    if not keep.all():
        # Translations whose vectors cancel out: no direction to give the word.
        logger.warning("%d target words dropped: their translations' mean vector is zero", (~keep).sum())
        words = [w for w, k in zip(words, keep) if k]
        means = means[keep]
    matrix = unit_rows(means).astype(np.float32)
    stats = ProjectionStats(len(pairs), len(source_ids), len(target_words), len(words))
    return WordVectors(words, matrix, "projection"), stats
