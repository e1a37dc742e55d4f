"""
Parsing word-vector text files: fastText/MUSE (`N D` header, then `word v1 ... vD`), GloVe (no
header), either of them gzipped (`.gz`).

Well-formed files go through pyarrow's CSV reader (`arrow_parsing`, several times faster);
anything else through the reference parser here: chunks of lines, numpy for the values, and a
`file:line` error for anything malformed. Both give the same float32 table, written into a
matrix preallocated from the header's row count. Timings and memory: benchmarks/README.md
(`load_vectors.py`).
"""

import warnings
from typing import List, NoReturn, Optional, Tuple

import numpy as np

from xner_allennlp.common.errors import InputFormatError, decode_line
from xner_allennlp.common.vectors.arrow_parsing import parse_with_arrow
from xner_allennlp.common.vectors.table import WordVectors, deduplicated
from xner_allennlp.common.vectors.text_format import (
    RowStore,
    expected_rows,
    open_binary,
    parse_header,
    read_first_line,
)

# Chunks of raw bytes parsed at once: big enough to amortise numpy calls, small enough that the
# temporary arrays stay well under the size of the final matrix.
_CHUNK_BYTES = 8 * 1024 * 1024


def parse_vector_file(path: str, encoding: str, max_words: Optional[int]) -> WordVectors:
    """
    The table of a vector file, repeated words removed (the first row of each is kept); a
    malformed file is an `InputFormatError` naming its line.

    # Parameters

    path : `str`
        The text file (`.gz`: gzipped).
    encoding : `str`
        Of the words.
    max_words : `int`, optional
        Read only the first `max_words` rows (`None`: all).
    """
    table = parse_with_arrow(path, encoding, max_words)
    if table is None:
        table = _parse_rows(path, encoding, max_words)
    return deduplicated(table)


def _decode(raw: bytes, encoding: str, path: str, line: int) -> str:
    return decode_line(raw, encoding, path, line, "the vector files' encoding")


def _row_lengths(block: bytes) -> np.ndarray:
    """Number of whitespace-separated fields on each newline-terminated line of `block`."""
    buf = np.frombuffer(block, dtype=np.uint8)
    blank = buf <= 32
    starts = ~blank
    starts[1:] &= blank[:-1]
    ends = np.flatnonzero(buf == 10)
    counts = np.add.reduceat(starts.astype(np.int32), np.concatenate(([0], ends[:-1] + 1)))
    # reduceat gives the next element for an empty range; a line of only "\n" has no fields.
    counts[np.diff(np.concatenate(([-1], ends))) == 1] = 0
    return counts


class _Parser:
    """
    The rows of one file, run of lines by run of lines: each checked against the dimension of
    the header (or of the first row), the header's row count, and the text policy.
    """

    def __init__(
        self,
        path: str,
        encoding: str,
        dim: Optional[int],
        dim_source: str,
        header_rows: Optional[int] = None,
    ):
        self.path = path
        self.encoding = encoding
        self.dim = dim
        self.dim_source = dim_source
        self.header_rows = header_rows
        self.words: List[str] = []
        self.rows = 0
        self._rows = RowStore()

    def parse(self, lines: List[bytes], first_line_number: int) -> None:
        if self.header_rows is not None and self.rows + len(lines) > self.header_rows:
            # A wrong count in the header is as likely as extra rows: neither is guessed.
            raise InputFormatError(
                self.path,
                first_line_number + self.header_rows - self.rows,
                f"more vector rows than the {self.header_rows} of the header (line 1); expected "
                "the file to end before this row (fix the header's row count)",
            )
        words = []
        rests = []
        for offset, raw in enumerate(lines):
            if b"\r" in raw:  # rare: the text policy's error for a carriage return inside a line
                _decode(raw, self.encoding, self.path, first_line_number + offset)
            word, _, rest = raw.partition(b" ")
            if not word:
                raise InputFormatError(
                    self.path,
                    first_line_number + offset,
                    "no word: the line starts with a space; expected `word v1 ... vD`",
                )
            words.append(word.rstrip(b"\r\n"))
            rests.append(rest if rest.endswith(b"\n") else rest + b"\n")
        block = b"".join(rests)
        if self.dim is None:
            self.dim = int(_row_lengths(rests[0])[0])
            self.dim_source = f"the first row (line {first_line_number})"
        lengths = _row_lengths(block)
        bad = np.flatnonzero(lengths != self.dim)
        if len(bad):
            i = int(bad[0])
            text = _decode(words[i], self.encoding, self.path, first_line_number + i)
            if lengths[i] == self.dim - 1 and _is_number(text):
                message = (
                    f"no word: the row is {self.dim} numbers, expected a word and then the "
                    f"{self.dim} values given by {self.dim_source}"
                )
            else:
                message = (
                    f"row for {text!r} has {lengths[i]} values, expected {self.dim} as given by "
                    f"{self.dim_source}"
                )
            raise InputFormatError(self.path, first_line_number + i, message)
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)
            try:
                values = np.fromstring(block, dtype=np.float32, sep=" ")
            except (DeprecationWarning, ValueError):
                values = None
        if values is None or values.size != len(lines) * self.dim:
            self._raise_non_numeric(words, rests, first_line_number)
        matrix = values.reshape(len(lines), self.dim)
        finite = np.isfinite(matrix).all(axis=1)
        if not finite.all():
            i = int(np.flatnonzero(~finite)[0])
            raise InputFormatError(self.path, first_line_number + i, "vector has a NaN or infinite value")
        for i, word in enumerate(words):
            self.words.append(_decode(word, self.encoding, self.path, first_line_number + i))
        self._rows.append(matrix)
        self.rows += len(lines)

    def reserve(self, rows: int) -> None:
        assert self.dim is not None, "reserve is for a file with a header, which gives the dimension"
        self._rows.reserve(rows, self.dim)

    def matrix(self) -> np.ndarray:
        return self._rows.matrix()

    def _raise_non_numeric(self, words, rests, first_line_number) -> NoReturn:
        for i, rest in enumerate(rests):
            for value in rest.split():
                try:
                    float(value)
                except ValueError:
                    raise InputFormatError(
                        self.path,
                        first_line_number + i,
                        f"non-numeric value {value.decode(self.encoding, 'replace')!r} in the "
                        f"vector of {words[i].decode(self.encoding, 'replace')!r}",
                    ) from None
        raise InputFormatError(self.path, first_line_number, "could not parse vector values")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _check_row_count(path: str, header: Tuple[int, int], rows: int, max_words: Optional[int]):
    """A file that ends before the rows its header promises: a truncated download, most often."""
    if rows < expected_rows(header, max_words):
        raise InputFormatError(
            path,
            1,
            f"the header promises {header[0]} vectors, but the file has only {rows} rows: it is "
            "truncated (an interrupted download?) or the header's row count is wrong",
        )


def _parse_rows(path: str, encoding: str, max_words: Optional[int]) -> WordVectors:
    """The reference parser: every row of the file, in order, repeated words included."""
    with open_binary(path) as handle:
        first = read_first_line(handle, path)
        header = parse_header(first)
        if header is not None:
            parser = _Parser(path, encoding, header[1], "the header (line 1)", header[0])
            parser.reserve(expected_rows(header, max_words))
            line_number = 2
            pending: List[bytes] = []
        else:
            parser = _Parser(path, encoding, None, "")
            line_number = 1
            pending = [first]
        while True:
            lines = pending + handle.readlines(_CHUNK_BYTES)
            pending = []
            if not lines:
                break
            # Blank lines (a trailing one is common) carry no vector.
            kept, numbers = [], []
            for offset, raw in enumerate(lines):
                if raw.strip():
                    kept.append(raw)
                    numbers.append(line_number + offset)
            if max_words is not None:
                kept = kept[: max(0, max_words - parser.rows)]
            start = 0
            while start < len(kept):
                # Consecutive runs keep line numbers exact when blank lines were removed.
                end = start + 1
                while end < len(kept) and numbers[end] == numbers[end - 1] + 1:
                    end += 1
                parser.parse(kept[start:end], numbers[start])
                start = end
            line_number += len(lines)
            if max_words is not None and parser.rows >= max_words:
                break
    if header is not None:
        _check_row_count(path, header, parser.rows, max_words)
    if parser.rows == 0:
        raise InputFormatError(path, None, "no word vectors found")
    return WordVectors(parser.words, parser.matrix(), path)
