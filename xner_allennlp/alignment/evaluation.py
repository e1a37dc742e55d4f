"""
Word-translation precision@k, MUSE's protocol (`evaluation/word_translation.py`): each distinct
source word of the evaluation dictionary (with both words in the vocabularies) retrieves its k
best target words by cosine (nearest neighbour) or CSLS against the whole target vocabulary; it
counts as correct when any of its gold translations is among them.
"""

import logging
from dataclasses import dataclass, field
from typing import Dict, Optional, Sequence

import numpy as np
import torch

from xner_allennlp.alignment.csls import mean_knn_similarity, retrieve, unit_rows

logger = logging.getLogger(__name__)

METHODS = ("nn", "csls")


@dataclass
class TranslationPrecision:
    queries: int  # distinct source words evaluated
    pairs: int  # dictionary pairs with both words in the vocabularies
    precision: Dict[str, Dict[int, float]] = field(default_factory=dict)  # method -> k -> P@k

    def format(self) -> str:
        lines = [f"word translation, {self.queries} source words ({self.pairs} pairs):"]
        for method, by_k in self.precision.items():
            cells = "  ".join(f"P@{k} {100 * p:6.2f}" for k, p in sorted(by_k.items()))
            lines.append(f"  {method:<5} {cells}")
        return "\n".join(lines)


def word_translation_precision(
    source: np.ndarray,
    target: np.ndarray,
    pairs: np.ndarray,
    ks: Sequence[int] = (1, 5),
    methods: Sequence[str] = METHODS,
    knn: int = 10,
    chunk_size: Optional[int] = None,
) -> TranslationPrecision:
    """
    `source` and `target` are the two vocabularies in the shared space (any scale; rows are
    unit-normalised here); `pairs` are `(source row, target row)` gold pairs.
    """
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    result = TranslationPrecision(0, len(pairs))
    if len(pairs) == 0:
        return result
    queries, inverse = np.unique(pairs[:, 0], return_inverse=True)
    result.queries = len(queries)
    n_target = target.shape[0]
    gold = np.unique(inverse.astype(np.int64) * n_target + pairs[:, 1])
    max_k = min(max(ks), n_target)

    source_unit = unit_rows(source)
    target_unit = unit_rows(target)
    query_unit = source_unit[torch.from_numpy(queries)]
    for method in methods:
        if method == "nn":
            _, found = retrieve(query_unit, target_unit, max_k, chunk_size=chunk_size, desc="NN")
        elif method == "csls":
            # r_T of the queries against all targets, r_S of all targets against all sources.
            query_radius = mean_knn_similarity(query_unit, target_unit, knn, chunk_size, "CSLS r(source)")
            target_radius = mean_knn_similarity(target_unit, source_unit, knn, chunk_size, "CSLS r(target)")
            _, found = retrieve(
                query_unit, target_unit, max_k, query_radius, target_radius, chunk_size, "CSLS"
            )
        else:
            raise ValueError(f"unknown retrieval method {method!r}: use one of {', '.join(METHODS)}")
        codes = np.arange(len(queries), dtype=np.int64)[:, None] * n_target + found.numpy()
        hit = np.isin(codes, gold)
        result.precision[method] = {k: float(hit[:, :k].any(axis=1).mean()) for k in sorted(ks)}
    return result
