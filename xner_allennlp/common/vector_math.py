"""
Small numpy helpers that several vector tables share.
"""

from typing import Callable, Optional

import numpy as np

# Below this length a row counts as zero: it is kept at zero rather than divided into NaN.
ZERO_NORM = 1e-12


def unit_rows(matrix: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
    """
    `matrix` with every row scaled to unit length; zero rows stay zero. The result has the
    input's dtype; pass `out=matrix` to scale in place.
    """
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, np.maximum(norms, ZERO_NORM).astype(matrix.dtype, copy=False), out=out)


def check_same_dimension(
    first_dim: int,
    second_dim: int,
    first: str,
    second: str,
    error: Callable[[str], Exception] = ValueError,
    message: Optional[str] = None,
) -> None:
    """
    Raises when two tables that must share a space have vectors of different dimensions.

    # Parameters

    first_dim : `int`
    second_dim : `int`
        The two dimensions.
    first : `str`
    second : `str`
        What the two tables are (file names, options), for the message.
    error : `Callable[[str], Exception]`, optional (default = `ValueError`)
        Builds the exception from the message: the caller's error type, e.g.
        `ConfigurationError` for a config value, or an `InputFormatError` naming a file.
    message : `str`, optional (default = `None`)
        A `str.format` template with `{first}`, `{first_dim}`, `{second}` and `{second_dim}`,
        for callers whose users know a wording of their own; the default names both sides.
    """
    if first_dim != second_dim:
        template = message or (
            "{first} has {first_dim}-d vectors but {second} has {second_dim}-d: "
            "the two must be in the same space"
        )
        raise error(template.format(first=first, first_dim=first_dim, second=second, second_dim=second_dim))
