"""
What both vector-file parsers share: opening a (possibly gzipped) file, its first line and
header, and the matrix the parsed rows go into.
"""

import gzip
from typing import BinaryIO, List, Optional, Tuple, cast

import numpy as np

from xner_allennlp.common.errors import InputFormatError

_BOM = b"\xef\xbb\xbf"


def open_binary(path: str) -> BinaryIO:
    """`path` for reading bytes, decompressed when it ends with `.gz`."""
    # A GzipFile reads like the BinaryIO of `open`, though typeshed does not declare it one.
    return cast(BinaryIO, gzip.open(path, "rb")) if path.endswith(".gz") else open(path, "rb")


def read_first_line(handle: BinaryIO, path: str) -> bytes:
    """
    The first line of the open file `handle`, without a UTF-8 byte-order mark; an empty file
    is an error.

    # Parameters

    handle : `BinaryIO`
        At the start of the file.
    path : `str`
        The file, for the error.
    """
    first = handle.readline()
    if not first:
        raise InputFormatError(path, 1, "empty file, expected word vectors")
    return first[len(_BOM) :] if first.startswith(_BOM) else first


def parse_header(first: bytes) -> Optional[Tuple[int, int]]:
    """The (rows, dimension) of a fastText/MUSE header line, None for any other line (GloVe)."""
    fields = first.split()
    if len(fields) == 2 and fields[0].isdigit() and fields[1].isdigit():
        return int(fields[0]), int(fields[1])
    return None


def expected_rows(header: Tuple[int, int], max_words: Optional[int]) -> int:
    """The rows a file with `header` must yield when only `max_words` are read."""
    return header[0] if max_words is None else min(header[0], max_words)


class RowStore:
    """
    The rows parsed so far. With the row count known in advance (the header), they are copied
    into one preallocated matrix, so that the peak memory is the matrix plus one chunk instead
    of the chunks plus their concatenation.
    """

    def __init__(self) -> None:
        self._matrix: Optional[np.ndarray] = None
        self._filled = 0
        self._blocks: List[np.ndarray] = []

    def reserve(self, rows: int, dim: int) -> None:
        """Preallocates `rows` rows (the header's count) for the rows to come."""
        self._matrix = np.empty((rows, dim), dtype=np.float32)

    def space(self, rows: int) -> Optional[np.ndarray]:
        """The next `rows` rows of the preallocated matrix to fill, or None (no room)."""
        if self._matrix is None or self._blocks or self._filled + rows > len(self._matrix):
            return None
        view = self._matrix[self._filled : self._filled + rows]
        self._filled += rows
        return view

    def append(self, block: np.ndarray) -> None:
        view = self.space(len(block))
        if view is not None:
            view[...] = block
        else:
            self._blocks.append(block)

    def matrix(self) -> np.ndarray:
        parts = [] if self._matrix is None else [self._matrix[: self._filled]]
        parts += self._blocks
        if not parts:
            return np.empty((0, 0), dtype=np.float32)
        if len(parts) == 1:
            part = parts[0]
            # A header that promised many more rows than came: do not keep the unused memory.
            return part.copy() if part.base is not None and len(part) < len(part.base) // 2 else part
        return np.concatenate(parts)
