"""
Supervised Procrustes alignment with iterative refinement, as in MUSE's `supervised.py`
(Conneau et al. 2018):

1. Normalise both embedding matrices (`center`, `renorm`, in the order given; MUSE's
   `--normalize_embeddings`).
2. Procrustes on the training dictionary: the orthogonal W minimising ||X W - Y||_F for the
   dictionary rows X (mapped side) and Y (fixed side) is U V^T, where U S V^T = svd(X^T Y).
3. Refinement rounds: rebuild the dictionary from the mutual CSLS nearest neighbours (k = 10)
   among the `max_rank` most frequent words of each side (the first rows of a fastText/MUSE file),
   then solve Procrustes again on it.
4. Keep the mapping of the round with the best unsupervised criterion: the mean cosine between
   the most frequent source words and their CSLS translations (MUSE's
   `mean_cosine-csls_knn_10-S2T-10000`). MUSE's supervised script selects with P@1 on the
   evaluation dictionary instead; the criterion here never looks at the evaluation pairs.

Differences from MUSE, on purpose: the CSLS radii of refinement are measured within the
`max_rank` most frequent words of the other side (MUSE measures them against the whole other
vocabulary, which is a 200k x 15k product per round and side), and the induced dictionary is not
filtered further (MUSE's defaults do not either).
"""

import logging
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
from allennlp.common.tqdm import Tqdm

from xner_allennlp.alignment.csls import mutual_nearest_neighbors, unit_rows
from xner_allennlp.common import vector_math
from xner_allennlp.common.params import as_list

logger = logging.getLogger(__name__)

NORMALIZATIONS = ("center", "renorm")
DIRECTIONS = ("target-to-source", "source-to-target")
CRITERION_WORDS = 10000


def parse_normalization(spec: Union[None, str, Sequence[str]]) -> Tuple[str, ...]:
    """
    `"center,renorm"`, `["center", "renorm"]`, `""`, `"none"` or `None` -> the steps in order.
    """
    steps = []
    for item in as_list(spec):
        for step in str(item).split(","):
            step = step.strip().lower()
            if step in ("", "none"):
                continue
            if step not in NORMALIZATIONS:
                raise ValueError(
                    f"unknown normalisation {step!r}: use a comma-separated list of "
                    f"{', '.join(NORMALIZATIONS)} (or none)"
                )
            steps.append(step)
    return tuple(steps)


def normalize_embeddings(matrix: np.ndarray, steps: Sequence[str]) -> np.ndarray:
    """A normalised float32 copy of `matrix` (MUSE's `normalize_embeddings`)."""
    out = np.array(matrix, dtype=np.float32, order="C")
    for step in steps:
        if step == "center":
            out -= out.mean(axis=0, dtype=np.float64).astype(np.float32)
        elif step == "renorm":
            vector_math.unit_rows(out, out=out)
        else:
            raise ValueError(f"unknown normalisation {step!r}")
    return out


def procrustes(mapped: np.ndarray, fixed: np.ndarray) -> np.ndarray:
    """The orthogonal `W` minimising `||mapped @ W - fixed||_F` (rows are dictionary pairs)."""
    if mapped.shape != fixed.shape or mapped.ndim != 2:
        raise ValueError(
            f"Procrustes needs two (pairs, dim) matrices of one shape, got {mapped.shape} and "
            f"{fixed.shape}"
        )
    cross = np.asarray(mapped, dtype=np.float64).T @ np.asarray(fixed, dtype=np.float64)
    u, _, vt = np.linalg.svd(cross)
    return (u @ vt).astype(np.float32)


@dataclass
class RefinementRound:
    round: int
    dictionary_size: int  # pairs the mapping of this round was fitted on
    criterion: float  # mean cosine of the top source words with their CSLS translations
    induced_size: int = 0  # mutual nearest neighbours found with this round's mapping


@dataclass
class Alignment:
    """
    An orthogonal map `W` for the side named by `direction`: `target-to-source` maps target rows
    with `target @ W`, `source-to-target` maps source rows with `source @ W`.
    """

    W: np.ndarray
    direction: str
    rounds: List[RefinementRound] = field(default_factory=list)
    best_round: int = 0

    def apply(self, source: np.ndarray, target: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """`(source, target)` in the shared space (the unmapped side is returned as given)."""
        if self.direction == "target-to-source":
            return source, target @ self.W
        return source @ self.W, target


def _fit(source: np.ndarray, target: np.ndarray, pairs: np.ndarray, direction: str) -> np.ndarray:
    x = source[pairs[:, 0]]
    y = target[pairs[:, 1]]
    return procrustes(y, x) if direction == "target-to-source" else procrustes(x, y)


def align_embeddings(
    source: np.ndarray,
    target: np.ndarray,
    pairs: np.ndarray,
    direction: str = "target-to-source",
    refinement_rounds: int = 5,
    max_rank: Optional[int] = 15000,
    knn: int = 10,
    select_best: bool = True,
    chunk_size: Optional[int] = None,
) -> Alignment:
    """
    Procrustes on `pairs` (`(n, 2)` rows of `source` and `target`, already normalised), then
    `refinement_rounds` rounds of CSLS mutual-nearest-neighbour refinement among the first
    `max_rank` rows of each side (`None` or 0: all rows).
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
    if source.shape[1] != target.shape[1]:
        raise ValueError(f"dimensions differ: {source.shape[1]} and {target.shape[1]}")
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if len(pairs) == 0:
        raise ValueError("Procrustes needs at least one dictionary pair")
    if refinement_rounds < 0:
        raise ValueError(f"refinement_rounds must be >= 0, got {refinement_rounds}")
    n_source = len(source) if not max_rank else min(max_rank, len(source))
    n_target = len(target) if not max_rank else min(max_rank, len(target))
    top_source, top_target = source[:n_source], target[:n_target]

    W = _fit(source, target, pairs, direction)
    fitted_on = len(pairs)
    alignment = Alignment(W, direction)
    best = -np.inf
    induced = pairs
    for round_number in Tqdm.tqdm(range(refinement_rounds + 1), desc="procrustes + refinement"):
        if round_number > 0:
            if len(induced) == 0:
                logger.warning("no mutual nearest neighbours: refinement stops at %d", round_number)
                break
            if len(induced) < source.shape[1]:
                logger.warning(
                    "only %d mutual nearest neighbours for dimension %d: the mapping of round %d "
                    "is under-determined",
                    len(induced),
                    source.shape[1],
                    round_number,
                )
            W = _fit(top_source, top_target, induced, direction)
            fitted_on = len(induced)
        mapped_source, mapped_target = Alignment(W, direction).apply(top_source, top_target)
        induced, _, cosine = mutual_nearest_neighbors(
            unit_rows(mapped_source), unit_rows(mapped_target), knn, chunk_size
        )
        criterion = float(cosine[:CRITERION_WORDS].mean())
        alignment.rounds.append(RefinementRound(round_number, fitted_on, criterion, len(induced)))
        logger.info(
            "round %d: mapping fitted on %d pairs, criterion (mean cosine, CSLS, top %d) %.4f, "
            "%d mutual nearest neighbours",
            round_number,
            fitted_on,
            min(CRITERION_WORDS, n_source),
            criterion,
            len(induced),
        )
        if criterion > best or not select_best:
            best = criterion
            alignment.W = W
            alignment.best_round = round_number
    if select_best:
        logger.info("keeping the mapping of round %d (best criterion %.4f)", alignment.best_round, best)
    return alignment
