"""
Batched nearest-neighbour retrieval by cosine and by CSLS (cross-domain similarity local scaling,
Conneau et al. 2018, "Word translation without parallel data"):

    CSLS(x, y) = 2 cos(x, y) - r_T(x) - r_S(y)

where r_T(x) is the mean cosine of x's k nearest target words and r_S(y) that of y's k nearest
source words. Every function works on row batches of the query matrix and keeps only the top-k of
each batch, so the `queries x keys` score matrix never exists in full (200k x 200k would be 160 GB);
one batch holds about `SCORE_BUDGET` scores.

Inputs are expected to be unit rows (see `unit_rows`): dot products are cosines.
"""

from typing import Iterable, Optional, Tuple, Union

import numpy as np
import torch
from allennlp.common.tqdm import Tqdm

from xner_allennlp.common.vector_math import ZERO_NORM

# Scores per batch: 2**24 float32 = 64 MiB (plus as much for top-k's workspace).
SCORE_BUDGET = 1 << 24

Matrix = Union[np.ndarray, torch.Tensor]


def as_tensor(matrix: Matrix) -> torch.Tensor:
    """A float32 tensor sharing memory with `matrix` where possible."""
    if isinstance(matrix, torch.Tensor):
        return matrix.float()
    array = np.asarray(matrix, dtype=np.float32)
    if not array.flags.writeable or not array.flags.c_contiguous:
        # torch.from_numpy wants a writeable array (the loader's matrices are read-only).
        array = np.array(array, dtype=np.float32, order="C")
    return torch.from_numpy(array)


def unit_rows(matrix: Matrix) -> torch.Tensor:
    """
    Rows scaled to unit length (zero rows stay zero), as a float32 tensor: the torch
    counterpart of `common.vector_math.unit_rows`, for the retrieval functions here.
    """
    tensor = as_tensor(matrix)
    return tensor / tensor.norm(dim=1, keepdim=True).clamp_min(ZERO_NORM)


def batch_size_for(n_keys: int, chunk_size: Optional[int] = None) -> int:
    """Query rows per batch: `chunk_size` when given, else what fits in `SCORE_BUDGET`."""
    if chunk_size is not None:
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be positive, got {chunk_size}")
        return chunk_size
    return max(1, min(8192, SCORE_BUDGET // max(1, n_keys)))


def _starts(n: int, size: int, desc: Optional[str]) -> Iterable[int]:
    starts = range(0, n, size)
    if desc is not None and len(starts) > 1:
        return Tqdm.tqdm(starts, desc=desc)
    return starts


def mean_knn_similarity(
    queries: Matrix,
    keys: Matrix,
    k: int = 10,
    chunk_size: Optional[int] = None,
    desc: Optional[str] = None,
) -> torch.Tensor:
    """For each query row, the mean cosine of its `k` nearest key rows (CSLS's r)."""
    queries, keys = as_tensor(queries), as_tensor(keys)
    k = min(k, keys.shape[0])
    out = torch.empty(queries.shape[0], dtype=torch.float32)
    size = batch_size_for(keys.shape[0], chunk_size)
    keys_t = keys.t()
    for start in _starts(queries.shape[0], size, desc):
        scores = queries[start : start + size] @ keys_t
        out[start : start + size] = scores.topk(k, dim=1, sorted=False).values.mean(dim=1)
    return out


def retrieve(
    queries: Matrix,
    keys: Matrix,
    k: int = 1,
    query_radius: Optional[torch.Tensor] = None,
    key_radius: Optional[torch.Tensor] = None,
    chunk_size: Optional[int] = None,
    desc: Optional[str] = None,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """
    The `k` best keys of each query, best first: `(scores, indices)`, both `(n_queries, k)`.
    Scores are cosines, or CSLS scores when `key_radius` (r_S of every key) is given;
    `query_radius` (r_T of every query) shifts a query's scores without changing its ranking.
    """
    queries, keys = as_tensor(queries), as_tensor(keys)
    k = min(k, keys.shape[0])
    n = queries.shape[0]
    best_scores = torch.empty(n, k, dtype=torch.float32)
    best_indices = torch.empty(n, k, dtype=torch.int64)
    size = batch_size_for(keys.shape[0], chunk_size)
    keys_t = keys.t()
    for start in _starts(n, size, desc):
        scores = queries[start : start + size] @ keys_t
        if key_radius is not None:
            scores.mul_(2).sub_(key_radius[None, :])
            if query_radius is not None:
                scores.sub_(query_radius[start : start + size, None])
        values, indices = scores.topk(k, dim=1, sorted=True)
        best_scores[start : start + size] = values
        best_indices[start : start + size] = indices
    return best_scores, best_indices


def csls_retrieve(
    queries: Matrix,
    keys: Matrix,
    k: int = 1,
    knn: int = 10,
    chunk_size: Optional[int] = None,
    desc: Optional[str] = None,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """
    The `k` best keys of each query under CSLS with `knn` neighbours. The radius of a key is
    measured against the query set given here, so pass the whole source vocabulary as `queries`
    when the radii should be MUSE's (then select the rows you need).
    """
    queries, keys = as_tensor(queries), as_tensor(keys)
    sub = None if desc is None else f"{desc}: "
    query_radius = mean_knn_similarity(queries, keys, knn, chunk_size, sub and sub + "r(queries)")
    key_radius = mean_knn_similarity(keys, queries, knn, chunk_size, sub and sub + "r(keys)")
    return retrieve(queries, keys, k, query_radius, key_radius, chunk_size, sub and sub + "search")


def mutual_nearest_neighbors(
    source: Matrix,
    target: Matrix,
    knn: int = 10,
    chunk_size: Optional[int] = None,
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """
    MUSE's "S2T&T2S" dictionary induction under CSLS: the pairs `(i, j)` where target `j` is the
    best CSLS translation of source `i` and source `i` the best of target `j`.

    Two passes over row batches of `source @ target.T`, each batch serving both directions: the
    first collects the k best cosines of every row (r_T of the sources) and, merged across
    batches, of every column (r_S of the targets); the second finds the CSLS maximum of every row
    and, merged across batches, of every column.

    Returns `(pairs, s2t, s2t_cosine)`: the `(n, 2)` int64 mutual pairs sorted by source row, the
    best target of every source row, and the cosine of each source row with that target.
    """
    source, target = as_tensor(source), as_tensor(target)
    n_source, n_target = source.shape[0], target.shape[0]
    k_row, k_col = min(knn, n_target), min(knn, n_source)
    size = batch_size_for(n_target, chunk_size)
    target_t = target.t()

    source_radius = torch.empty(n_source, dtype=torch.float32)  # r_T(x)
    column_best: Optional[torch.Tensor] = None  # (k_col, n_target) best cosines so far
    for start in range(0, n_source, size):
        scores = source[start : start + size] @ target_t
        row_top = scores.topk(k_row, dim=1, sorted=False).values
        source_radius[start : start + size] = row_top.mean(dim=1)
        top = scores.topk(min(k_col, scores.shape[0]), dim=0, sorted=False).values
        if column_best is not None:
            top = torch.cat([column_best, top])
            top = top.topk(min(k_col, top.shape[0]), dim=0, sorted=False).values
        column_best = top
    assert column_best is not None
    target_radius = column_best.mean(dim=0)  # r_S(y)

    s2t = torch.empty(n_source, dtype=torch.int64)
    t2s = torch.zeros(n_target, dtype=torch.int64)
    t2s_score = torch.full((n_target,), -float("inf"))
    for start in range(0, n_source, size):
        scores = source[start : start + size] @ target_t
        scores.mul_(2).sub_(target_radius[None, :]).sub_(source_radius[start : start + size, None])
        s2t[start : start + size] = scores.argmax(dim=1)
        values, rows = scores.max(dim=0)
        better = values > t2s_score  # strict: on a tie the earlier source row stays
        t2s_score[better] = values[better]
        t2s[better] = rows[better] + start

    row_ids = torch.arange(n_source)
    mutual = t2s[s2t] == row_ids
    pairs = torch.stack([row_ids[mutual], s2t[mutual]], dim=1).numpy().astype(np.int64)
    cosine = (source * target[s2t]).sum(dim=1)
    return pairs, s2t.numpy(), cosine.numpy()
