"""
Small numpy helpers that several vector tables share.
"""
import numpy as np

# Below this length a row counts as zero: it is kept at zero rather than divided into NaN.
ZERO_NORM = 1e-12


def unit_rows(matrix: np.ndarray, out: np.ndarray = None) -> np.ndarray:
    """
    `matrix` with every row scaled to unit length; zero rows stay zero. The result has the
    input's dtype; pass `out=matrix` to scale in place.
    """
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, np.maximum(norms, ZERO_NORM).astype(matrix.dtype, copy=False), out=out)


def check_same_dimension(first_dim: int, second_dim: int, first: str, second: str) -> None:
    """A `ValueError` naming both sides when two tables that must share a space do not."""
    if first_dim != second_dim:
        raise ValueError(
            f"{first} has {first_dim}-d vectors but {second} has {second_dim}-d: "
            "the two must be in the same space"
        )
