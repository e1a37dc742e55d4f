"""
The one word-vector loader of the package: the embedder, the vocabulary, the translator and the
aligner all read vectors through `load_word_vectors`, so a file is parsed once per process and
once per change on disk (binary cache).

Formats: fastText/MUSE text (`N D` header, then `word v1 ... vD`), GloVe text (no header), either
of them gzipped (`.gz`).

Parsing: pyarrow's CSV reader for well-formed files (large ones in byte ranges on the idle
CPUs), the chunked numpy parser for anything else and for the error messages; both give the
same float32 table, written into a matrix preallocated from the header. Timings and memory:
benchmarks/README.md (`load_vectors.py`).
"""
import concurrent.futures
import gzip
import hashlib
import io
import json
import logging
import os
import tempfile
import threading
import warnings
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from xner_allennlp.common.cpus import idle_cpus
from xner_allennlp.common.errors import InputFormatError, check_text, decode_line, require_file

logger = logging.getLogger(__name__)

# Chunks of raw bytes parsed at once: big enough to amortise numpy calls, small enough that the
# temporary arrays stay well under the size of the final matrix.
_CHUNK_BYTES = 8 * 1024 * 1024
# Blocks of the pyarrow reader: small ones keep its buffers (and the peak memory) low.
_ARROW_BLOCK_BYTES = 1024 * 1024
# Files at least this big are parsed in byte ranges on the idle CPUs (at most _MAX_PARTS).
_PARALLEL_MIN_BYTES = 64 * 1024 * 1024
_MAX_PARTS = 8
CACHE_ENV = "XNER_VECTOR_CACHE"


@dataclass
class WordVectors:
    """
    A table of word vectors: `words[i]` has vector `matrix[i]` (float32). Words are unique;
    when a file repeats a word, its first row is kept.
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
            norms = np.linalg.norm(self.matrix, axis=1, keepdims=True)
            cached = self.matrix / np.maximum(norms, 1e-12)
            cached.flags.writeable = False
            object.__setattr__(self, "_unit", cached)
        return cached


def _open_binary(path: str):
    return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")


def _decode(raw: bytes, encoding: str, path: str, line: int) -> str:
    return decode_line(raw, encoding, path, line, "the vector files' encoding")


def _parse_header(first: bytes) -> Optional[Tuple[int, int]]:
    fields = first.split()
    if len(fields) == 2 and fields[0].isdigit() and fields[1].isdigit():
        return int(fields[0]), int(fields[1])
    return None


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


class _RowStore:
    """
    The rows parsed so far. With the row count known in advance (the header), they are copied
    into one preallocated matrix, so that the peak memory is the matrix plus one chunk instead
    of the chunks plus their concatenation.
    """

    def __init__(self, matrix: Optional[np.ndarray] = None) -> None:
        # `matrix`: preallocated rows to fill (see `reserve`).
        self._matrix: Optional[np.ndarray] = matrix
        self._filled = 0
        self._blocks: List[np.ndarray] = []

    def reserve(self, rows: int, dim: int) -> None:
        self._matrix = np.empty((rows, dim), dtype=np.float32)

    def reserved(self) -> Optional[np.ndarray]:
        """The whole preallocated matrix, while nothing has been stored yet."""
        return self._matrix if self._filled == 0 and not self._blocks else None

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

    def drain(self) -> Iterable[np.ndarray]:
        """The rows, array by array, each let go of once the caller has taken it."""
        if self._matrix is not None:
            yield self._matrix[: self._filled]
            self._matrix = None
        while self._blocks:
            yield self._blocks.pop(0)

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


class _Parser:
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
        self._rows = _RowStore()

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
            word = _decode(words[i], self.encoding, self.path, first_line_number + i)
            if lengths[i] == self.dim - 1 and _is_number(word):
                message = (
                    f"no word: the row is {self.dim} numbers, expected a word and then the "
                    f"{self.dim} values given by {self.dim_source}"
                )
            else:
                message = (
                    f"row for {word!r} has {lengths[i]} values, expected {self.dim} as given by "
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
            raise InputFormatError(
                self.path, first_line_number + i, "vector has a NaN or infinite value"
            )
        for i, word in enumerate(words):
            self.words.append(_decode(word, self.encoding, self.path, first_line_number + i))
        self._rows.append(matrix)
        self.rows += len(lines)

    def reserve(self, rows: int) -> None:
        self._rows.reserve(rows, self.dim)

    def matrix(self) -> np.ndarray:
        return self._rows.matrix()

    def _raise_non_numeric(self, words, rests, first_line_number) -> None:
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
    expected = header[0] if max_words is None else min(header[0], max_words)
    if rows < expected:
        raise InputFormatError(
            path,
            1,
            f"the header promises {header[0]} vectors, but the file has only {rows} rows: it is "
            "truncated (an interrupted download?) or the header's row count is wrong",
        )


def _parse_file(path: str, encoding: str, max_words: Optional[int]) -> WordVectors:
    table = _parse_with_arrow(path, encoding, max_words)
    if table is None:
        table = _parse_with_numpy(path, encoding, max_words)
    return _deduplicate(table)


def _first_line(path: str) -> bytes:
    with _open_binary(path) as handle:
        first = handle.readline()
    if not first:
        raise InputFormatError(path, 1, "empty file, expected word vectors")
    return first[3:] if first.startswith(b"\xef\xbb\xbf") else first


def _parse_with_numpy(path: str, encoding: str, max_words: Optional[int]) -> WordVectors:
    """The reference parser: chunks of lines, numpy for the values, exact error messages."""
    with _open_binary(path) as handle:
        first = handle.readline()
        if not first:
            raise InputFormatError(path, 1, "empty file, expected word vectors")
        if first.startswith(b"\xef\xbb\xbf"):
            first = first[3:]
        header = _parse_header(first)
        if header is not None:
            parser = _Parser(path, encoding, header[1], "the header (line 1)", header[0])
            parser.reserve(header[0] if max_words is None else min(header[0], max_words))
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


class _NotPlain(Exception):
    """The file is not plain `word v1 ... vD` rows: leave it to the numpy parser."""


class _FileSlice(io.RawIOBase):
    """Bytes `start` to `end` of a file, as a readable stream."""

    def __init__(self, path: str, start: int, end: int) -> None:
        super().__init__()
        self._file = open(path, "rb")
        self._file.seek(start)
        self._left = end - start

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        size = min(len(buffer), self._left)
        if size <= 0:
            return 0
        read = self._file.readinto(memoryview(buffer)[:size])
        self._left -= read
        return read

    def close(self) -> None:
        self._file.close()
        super().close()


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


def _split_points(path: str, start: int, end: int, parts: int) -> List[int]:
    """Byte offsets cutting [start, end) into about `parts` ranges at line starts."""
    points = [start]
    with open(path, "rb") as handle:
        for k in range(1, parts):
            handle.seek(start + (end - start) * k // parts)
            handle.readline()
            position = handle.tell()
            if points[-1] < position < end:
                points.append(position)
    return points + [end]


def _parse_with_arrow(
    path: str, encoding: str, max_words: Optional[int], parts: Optional[int] = None
) -> Optional[WordVectors]:
    """
    The fast path for well-formed files: pyarrow's CSV reader (C++, fast float parsing) with a
    space delimiter, the values parsed as float64 and rounded to float32 exactly as the numpy
    parser does. Returns None (the caller falls back to `_parse_with_numpy`, which also gives
    the precise error of a malformed file) when pyarrow is missing or the file is not plain
    `word v1 ... vD` rows: several spaces or tabs between fields, ragged rows, non-numeric or
    non-finite values, words that do not decode.

    A large uncompressed file is cut at line starts into `parts` byte ranges (default: the idle
    CPUs, see `idle_cpus`) parsed by as many threads; rows keep the file's order.
    """
    try:
        import pyarrow
        import pyarrow.compute as compute
        import pyarrow.csv as csv
    except ImportError:  # pragma: no cover - pyarrow is an allennlp (datasets) dependency
        return None
    first = _first_line(path)
    header = _parse_header(first)
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
    compressed = path.endswith(".gz")
    size = os.path.getsize(path)
    if parts is None:
        parts = 1
        if not compressed and max_words is None and size >= _PARALLEL_MIN_BYTES:
            parts = min(idle_cpus(), _MAX_PARTS)
    if compressed or max_words is not None:
        parts = 1

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

    def read(stream, skip_rows: int, rows: "_RowStore", words: List[bytes]) -> None:
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

    rows = _RowStore()
    if header is not None:
        rows.reserve(header[0] if max_words is None else min(header[0], max_words), dim)
    words: List[bytes] = []
    try:
        if parts <= 1:
            stream = pyarrow.PythonFile(_NoLoneCarriageReturn(_open_binary(path)), mode="r")
            read(stream, 1 if header else 0, rows, words)
        else:
            data_start = len(first) + (3 if header is not None and _has_bom(path) else 0)
            points = _split_points(path, data_start if header is not None else 0, size, parts)
            ranges = list(zip(points[:-1], points[1:]))
            word_lists: List[List[bytes]] = [[] for _ in ranges]
            stores: List[Optional[_RowStore]] = [None] * len(ranges)
            lines: List[int] = [0] * len(ranges)
            barrier = threading.Barrier(len(ranges))
            # Preallocated (pages not yet touched) when the header gives the row count.
            base = rows.reserved()

            def direct() -> bool:
                # One row per line, as the header says: each range fills its own slice of the
                # preallocated matrix (checked after parsing).
                return base is not None and sum(lines) == len(base)

            def work(k: int) -> None:
                try:
                    lines[k] = _count_lines(path, *ranges[k])
                except BaseException:
                    barrier.abort()  # the other threads stop waiting too
                    raise
                barrier.wait()
                if direct():
                    offset = sum(lines[:k])
                    stores[k] = _RowStore(base[offset : offset + lines[k]])
                else:
                    # The first range fills the preallocated matrix; the others keep their
                    # own rows until it is done, then are copied after it.
                    stores[k] = rows if k == 0 else _RowStore()
                raw = _NoLoneCarriageReturn(_FileSlice(path, *ranges[k]))
                stream = pyarrow.PythonFile(raw, mode="r")
                read(stream, 0, stores[k], word_lists[k])

            with concurrent.futures.ThreadPoolExecutor(len(ranges)) as pool:
                futures = [pool.submit(work, k) for k in range(len(ranges))]
                for future in futures:
                    future.result()
            if direct():
                if [len(found) for found in word_lists] != lines:
                    return None
                rows.space(len(base))  # every row filled
            else:
                for store in stores[1:]:
                    for block in store.drain():
                        rows.append(block)
            words = [word for found in word_lists for word in found]
    except (_NotPlain, pyarrow.ArrowException, OSError, ValueError, threading.BrokenBarrierError):
        return None
    if not words:
        return None
    if header is not None and len(words) != (
        header[0] if max_words is None else min(header[0], max_words)
    ):
        return None  # rows missing or more than the header says: the numpy parser reports it
    try:
        decoded = [word.decode(encoding) for word in words]
    except UnicodeDecodeError:
        return None
    if header is None and decoded[0].startswith("\ufeff"):
        decoded[0] = decoded[0][1:]
    # The numpy parser's text policy on all words at once: control characters are an error
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


def _count_lines(path: str, start: int, end: int) -> int:
    """Newline-terminated lines in bytes [start, end), a last unterminated one included."""
    count = 0
    last = b"\n"
    with open(path, "rb") as handle:
        handle.seek(start)
        left = end - start
        while left > 0:
            chunk = handle.read(min(left, _CHUNK_BYTES))
            if not chunk:
                break
            # numpy rather than bytes.count: it lets the other ranges' threads run meanwhile.
            count += int(np.count_nonzero(np.frombuffer(chunk, dtype=np.uint8) == 10))
            last = chunk[-1:]
            left -= len(chunk)
    return count + (last != b"\n")


def _has_bom(path: str) -> bool:
    with open(path, "rb") as handle:
        return handle.read(3) == b"\xef\xbb\xbf"


def _second_line(path: str) -> bytes:
    with _open_binary(path) as handle:
        handle.readline()
        for line in handle:
            if line.strip():
                return line
    return b""


def _deduplicate(table: WordVectors) -> WordVectors:
    seen: Dict[str, int] = {}
    keep = []
    for i, word in enumerate(table.words):
        if word not in seen:
            seen[word] = len(keep)
            keep.append(i)
    if len(keep) == len(table.words):
        table._index = seen
        return table
    logger.info("%s: %d repeated words, first occurrence kept", table.source, len(table.words) - len(keep))
    return WordVectors([table.words[i] for i in keep], table.matrix[keep], table.source, seen)


def default_cache_dir() -> str:
    return os.environ.get(CACHE_ENV) or os.path.join(
        os.path.expanduser("~"), ".cache", "xner_allennlp", "vectors"
    )


def _cache_key(path: str, encoding: str, max_words: Optional[int]) -> str:
    stat = os.stat(path)
    ident = f"{os.path.abspath(path)}|{stat.st_size}|{stat.st_mtime_ns}|{encoding}|{max_words}"
    return hashlib.sha1(ident.encode("utf-8")).hexdigest()


# What the cache's metadata says about its own files. A new version (parser rules or layout)
# makes every cache written before it be parsed again.
_CACHE_VERSION = 2
try:
    import xxhash  # in the lock file (a `datasets` dependency)

    _HASH = "xxh3_128"

    def _digest(data) -> str:
        return xxhash.xxh3_128(data).hexdigest()

except ImportError:  # pragma: no cover
    _HASH = "blake2b"

    def _digest(data) -> str:
        return hashlib.blake2b(data, digest_size=16).hexdigest()


def _matrix_bytes(matrix: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(matrix).reshape(-1).view(np.uint8)


def _read_cache(prefix: str, source: str) -> Optional[WordVectors]:
    """
    The cached table, or None when there is none, it is another version's, or it is damaged.
    Its metadata (`.json`) is written last and holds checksums of the matrix and the words: a
    cache whose writer died midway has none, and a damaged file (truncated, overwritten, bit
    flips) does not match them, so neither is ever served.
    """
    try:
        with open(prefix + ".json", encoding="utf-8") as handle:
            meta = json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        return _damaged(prefix, source, f"unreadable metadata: {error}")
    if not isinstance(meta, dict) or meta.get("version") != _CACHE_VERSION:
        return None
    if meta.get("hash") != _HASH:
        return None  # written where another checksum was available: rebuilt, not distrusted
    try:
        matrix = np.load(prefix + ".npy", allow_pickle=False)
        with open(prefix + ".words", "rb") as handle:
            words_bytes = handle.read()
    except (OSError, ValueError, EOFError) as error:
        return _damaged(prefix, source, str(error))
    if matrix.dtype != np.float32 or list(matrix.shape) != [meta.get("rows"), meta.get("dim")]:
        return _damaged(prefix, source, f"matrix {matrix.dtype} {matrix.shape}, expected "
                        f"float32 ({meta.get('rows')}, {meta.get('dim')})")
    if _digest(_matrix_bytes(matrix)) != meta.get("matrix"):
        return _damaged(prefix, source, "the matrix does not match its checksum")
    if _digest(words_bytes) != meta.get("words"):
        return _damaged(prefix, source, "the word list does not match its checksum")
    words = words_bytes.decode("utf-8").split("\n")
    if len(words) != matrix.shape[0]:
        return _damaged(prefix, source, f"{len(words)} words for {matrix.shape[0]} rows")
    return WordVectors(words, matrix, source)


def _damaged(prefix: str, source: str, reason: str) -> None:
    logger.warning(
        "the vector cache %s.* of %s is damaged (%s): parsing the text file again", prefix,
        source, reason,
    )
    return None


def _write_cache(prefix: str, table: WordVectors) -> None:
    directory = os.path.dirname(prefix)
    matrix = np.ascontiguousarray(table.matrix)
    words = "\n".join(table.words).encode("utf-8")
    meta = {
        "version": _CACHE_VERSION,
        "source": os.path.abspath(table.source),
        "rows": int(matrix.shape[0]),
        "dim": int(matrix.shape[1]),
        "hash": _HASH,
        "matrix": _digest(_matrix_bytes(matrix)),
        "words": _digest(words),
    }
    parts = (
        (".npy", lambda handle: np.save(handle, matrix)),
        (".words", lambda handle: handle.write(words)),
        # Last: until it is in place the other two are never read.
        (".json", lambda handle: handle.write(json.dumps(meta, indent=1).encode("utf-8"))),
    )
    temp = None
    try:
        os.makedirs(directory, exist_ok=True)
        # An older complete cache under this key would vouch for files now being replaced.
        _remove_file(prefix + ".json")
        for suffix, write in parts:
            # Temp files then rename: a concurrent reader never sees half a file.
            with tempfile.NamedTemporaryFile(
                dir=directory, prefix=os.path.basename(prefix), suffix=suffix + ".tmp", delete=False
            ) as handle:
                temp = handle.name
                write(handle)
            os.replace(temp, prefix + suffix)
            temp = None
    except OSError as error:
        logger.warning("could not write the vector cache %s: %s", prefix, error)
    finally:
        if temp is not None:
            _remove_file(temp)


def _remove_file(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


_memory: Dict[str, WordVectors] = {}
_memory_lock = threading.Lock()


def load_word_vectors(
    path: str,
    encoding: str = "utf-8",
    max_words: Optional[int] = None,
    cache_dir: Optional[str] = None,
    use_cache: bool = True,
) -> WordVectors:
    """
    Loads a word-vector file (fastText/MUSE with header, GloVe without, optionally gzipped).

    # Parameters

    path : `str`
        The vector file.
    encoding : `str`, optional (default = `"utf-8"`)
        Encoding of the words.
    max_words : `int`, optional (default = `None`)
        Keep only the first `max_words` rows (the most frequent words in fastText/MUSE files).
    cache_dir : `str`, optional (default = `$XNER_VECTOR_CACHE` or `~/.cache/xner_allennlp/vectors`)
        Where the binary cache (`.npy` matrix, word list, `.json` metadata) lives. Its key is the
        file's absolute path, size and modification time, so a changed file is parsed again; a
        cache file that does not match the checksums of its metadata (xxh3-128, about 15 ms for
        a 200k x 300 matrix) is parsed again with a warning, never served.
    use_cache : `bool`, optional (default = `True`)
        Read and write the binary cache. The in-process cache is always used.
    """
    path = require_file(path, "word-vector file")
    key = _cache_key(path, encoding, max_words)
    with _memory_lock:
        table = _memory.get(key)
        if table is not None:
            return table
        prefix = os.path.join(cache_dir or default_cache_dir(), key)
        table = _read_cache(prefix, path) if use_cache else None
        if table is None:
            logger.info("parsing word vectors from %s", path)
            table = _parse_file(path, encoding, max_words)
            if use_cache:
                _write_cache(prefix, table)
        table.matrix.flags.writeable = False
        _memory[key] = table
        return table


def merge_word_vectors(tables: Sequence[WordVectors]) -> WordVectors:
    """
    Merges tables into one; a word in several tables keeps the vector of the first (the paper
    removes duplicates from the merged source+target table).
    """
    if not tables:
        raise ValueError("merge_word_vectors needs at least one table")
    if len(tables) == 1:
        return tables[0]
    dim = tables[0].dim
    for table in tables[1:]:
        if table.dim != dim:
            raise InputFormatError(
                table.source,
                None,
                f"vectors have dimension {table.dim}, but {tables[0].source} has {dim}",
            )
    words: List[str] = []
    index: Dict[str, int] = {}
    parts = []
    for table in tables:
        rows = []
        for i, word in enumerate(table.words):
            if word not in index:
                index[word] = len(words)
                words.append(word)
                rows.append(i)
        parts.append(table.matrix[rows] if len(rows) != len(table) else table.matrix)
    merged = WordVectors(words, np.concatenate(parts), "+".join(t.source for t in tables), index)
    merged.matrix.flags.writeable = False
    return merged


def load_merged(paths: Iterable[str], encoding: str = "utf-8", **kwargs) -> WordVectors:
    return merge_word_vectors([load_word_vectors(p, encoding=encoding, **kwargs) for p in paths])


def write_word_vectors(path: str, table: WordVectors, precision: int = 6) -> None:
    """
    Writes `table` in fastText/MUSE text format, atomically: a temp file beside `path`, renamed
    at the end and removed on failure, so `path` is either complete or untouched.
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle = tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=directory, delete=False)
    try:
        with handle:
            handle.write(f"{len(table)} {table.dim}\n")
            fmt = " ".join([f"%.{precision}g"] * table.dim)
            for start in range(0, len(table), 10000):
                block = table.matrix[start : start + 10000]
                handle.write(
                    "".join(
                        f"{word} {fmt % tuple(row)}\n"
                        for word, row in zip(table.words[start : start + 10000], block.tolist())
                    )
                )
        # NamedTemporaryFile creates 0600; give the file the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(handle.name, 0o666 & ~umask)
        os.replace(handle.name, path)
    except BaseException:
        if os.path.exists(handle.name):
            os.remove(handle.name)
        raise
