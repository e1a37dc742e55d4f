"""
The fast path for well-formed vector files: pyarrow's CSV reader (C++, fast float parsing) with
a space delimiter, the values parsed as float64 and rounded to float32 exactly as the reference
parser (`parsing`) does, so the tables are bit-identical. Anything it does not read exactly as
the reference parser would is left to that one, which also gives the precise `file:line` error
of a malformed file.
"""

import io
from typing import List, Optional

import numpy as np

from xner_allennlp.common.errors import InputFormatError, check_text
from xner_allennlp.common.vectors.table import WordVectors
from xner_allennlp.common.vectors.text_format import (
    RowStore,
    expected_rows,
    open_binary,
    parse_header,
    read_first_line,
)

# Blocks of the pyarrow reader: small ones keep its buffers (and the peak memory) low.
_ARROW_BLOCK_BYTES = 1024 * 1024


class _NotPlain(Exception):
    """The file is not plain `word v1 ... vD` rows: leave it to the reference parser."""


class _NoLoneCarriageReturn(io.RawIOBase):
    """
    A binary stream that stops pyarrow at a carriage return not followed by a line feed:
    pyarrow's CSV reader ends a row there, but the text policy (`decode_line`) rejects the file,
    and both parsers must accept and reject the same files.
    """

    def __init__(self, raw) -> None:
        super().__init__()
        self._raw = raw
        self._pending = False  # the previous block ended with a carriage return

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        read = self._raw.readinto(buffer)
        if not read:
            if self._pending:
                raise _NotPlain()
            return 0
        data = bytes(memoryview(buffer)[:read])
        if self._pending and not data.startswith(b"\n"):
            raise _NotPlain()
        self._pending = data.endswith(b"\r")
        if b"\r" in data and data.count(b"\r") - self._pending != data.count(b"\r\n"):
            raise _NotPlain()
        return read

    def close(self) -> None:
        self._raw.close()
        super().close()


def _second_line(path: str) -> bytes:
    """The first non-blank line after the first one."""
    with open_binary(path) as handle:
        handle.readline()
        for line in handle:
            if line.strip():
                return line
    return b""


def parse_with_arrow(path: str, encoding: str, max_words: Optional[int]) -> Optional[WordVectors]:
    """
    The table of a well-formed file (every row, repeated words included), or None when pyarrow
    is missing or the file is not plain `word v1 ... vD` rows (several spaces or tabs between
    fields, ragged rows, non-numeric or non-finite values, words that do not decode, a row count
    that differs from the header's): the caller then uses the reference parser.

    # Parameters

    path : `str`
        The text file (`.gz`: gzipped).
    encoding : `str`
        Of the words.
    max_words : `int`, optional
        Read only the first `max_words` rows (`None`: all).
    """
    try:
        import pyarrow
        import pyarrow.compute as compute
        import pyarrow.csv as csv
    except ImportError:  # pragma: no cover - pyarrow is an allennlp (datasets) dependency
        return None
    with open_binary(path) as handle:
        first = read_first_line(handle, path)
    header = parse_header(first)
    sample = first if header is None else _second_line(path)
    if not sample.strip():
        return None
    content = sample.rstrip(b"\r\n")
    trailing = content.endswith(b" ")
    dim = header[1] if header is not None else len(content.split(b" ")) - 1 - trailing
    if dim < 1:
        return None
    names = ["word"] + [f"v{i}" for i in range(dim)] + (["trailing"] if trailing else [])
    value_names = names[1 : dim + 1]

    def open_reader(stream, skip_rows: int):
        return csv.open_csv(
            stream,
            read_options=csv.ReadOptions(
                column_names=names,
                skip_rows=skip_rows,
                block_size=_ARROW_BLOCK_BYTES,
                use_threads=False,
            ),
            parse_options=csv.ParseOptions(
                delimiter=" ", quote_char=False, escape_char=False, ignore_empty_lines=True
            ),
            convert_options=csv.ConvertOptions(
                column_types={
                    "word": pyarrow.binary(),
                    **{name: pyarrow.float64() for name in value_names},
                    **({"trailing": pyarrow.binary()} if trailing else {}),
                },
                null_values=[],
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )

    def read(stream, skip_rows: int, rows: RowStore, words: List[bytes]) -> None:
        """Appends the rows of `stream` to `rows` and their words to `words`."""
        with stream, open_reader(stream, skip_rows) as reader:
            for batch in reader:
                count = batch.num_rows
                if max_words is not None:
                    count = min(count, max_words - len(words))
                if trailing and compute.max(compute.binary_length(batch.column(dim + 1))).as_py():
                    raise _NotPlain()  # something after the trailing space
                shortest = compute.min(compute.binary_length(batch.column(0))).as_py()
                if batch.num_rows and not shortest:
                    raise _NotPlain()  # a line that starts with a space: no word
                # Columns to rows in C++ (an ArrowTypeError if any value is missing), then
                # one copy that rounds float64 to float32.
                values = np.asarray(batch.select(value_names).to_tensor(row_major=True))[:count]
                if not np.isfinite(values).all():
                    raise _NotPlain()
                target = rows.space(count)
                block = target if target is not None else np.empty((count, dim), np.float32)
                block[...] = values
                if target is None:
                    rows.append(block)
                words.extend(batch.column(0).to_pylist()[:count])
                if max_words is not None and len(words) >= max_words:
                    break

    rows = RowStore()
    if header is not None:
        rows.reserve(expected_rows(header, max_words), dim)
    words: List[bytes] = []
    try:
        stream = pyarrow.PythonFile(_NoLoneCarriageReturn(open_binary(path)), mode="r")
        read(stream, 1 if header else 0, rows, words)
    except (_NotPlain, pyarrow.ArrowException, OSError, ValueError):
        return None
    if not words:
        return None
    if header is not None and len(words) != expected_rows(header, max_words):
        return None  # rows missing or more than the header says: the reference parser reports it
    try:
        decoded = [word.decode(encoding) for word in words]
    except UnicodeDecodeError:
        return None
    if header is None and decoded[0].startswith("\ufeff"):
        decoded[0] = decoded[0][1:]
    # The reference parser's text policy on all words at once: control characters are an error
    # (left to it to report), and words come out NFC as there. Line ends never occur in a word,
    # and normalisation never composes across one.
    joined = "\n".join(decoded)
    try:
        normalized = check_text(joined, path, 0)
    except InputFormatError:
        return None
    if normalized != joined:
        decoded = normalized.split("\n")
    return WordVectors(decoded, rows.matrix(), path)
