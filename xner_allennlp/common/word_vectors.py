"""
The one word-vector loader of the package: the embedder, the vocabulary, the translator and the
aligner all read vectors through `load_word_vectors`, so a file is parsed once per process and
once per change on disk (binary cache).

Formats: fastText/MUSE text (`N D` header, then `word v1 ... vD`), GloVe text (no header), either
of them gzipped (`.gz`).
"""
import gzip
import hashlib
import logging
import os
import tempfile
import threading
import warnings
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from xner_allennlp.common.errors import InputFormatError, decode_line, require_file

logger = logging.getLogger(__name__)

# Chunks of raw bytes parsed at once: big enough to amortise numpy calls, small enough that the
# temporary arrays stay well under the size of the final matrix.
_CHUNK_BYTES = 8 * 1024 * 1024
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


class _Parser:
    def __init__(self, path: str, encoding: str, dim: Optional[int], dim_source: str):
        self.path = path
        self.encoding = encoding
        self.dim = dim
        self.dim_source = dim_source
        self.words: List[str] = []
        self.blocks: List[np.ndarray] = []
        self.rows = 0

    def parse(self, lines: List[bytes], first_line_number: int) -> None:
        words = []
        rests = []
        for raw in lines:
            word, _, rest = raw.partition(b" ")
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
            raise InputFormatError(
                self.path,
                first_line_number + i,
                f"row for {_decode(words[i], self.encoding, self.path, first_line_number + i)!r} "
                f"has {lengths[i]} values, expected {self.dim} as given by {self.dim_source}",
            )
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
        self.blocks.append(matrix)
        self.rows += len(lines)

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


def _parse_file(path: str, encoding: str, max_words: Optional[int]) -> WordVectors:
    with _open_binary(path) as handle:
        first = handle.readline()
        if not first:
            raise InputFormatError(path, 1, "empty file, expected word vectors")
        if first.startswith(b"\xef\xbb\xbf"):
            first = first[3:]
        header = _parse_header(first)
        if header is not None:
            parser = _Parser(path, encoding, header[1], "the header (line 1)")
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
    if parser.rows == 0:
        raise InputFormatError(path, None, "no word vectors found")
    matrix = np.concatenate(parser.blocks) if len(parser.blocks) > 1 else parser.blocks[0]
    return _deduplicate(WordVectors(parser.words, matrix, path))


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


def _read_cache(prefix: str, source: str) -> Optional[WordVectors]:
    try:
        matrix = np.load(prefix + ".npy")
        with open(prefix + ".words", encoding="utf-8") as handle:
            words = handle.read().split("\n")
    except (OSError, ValueError):
        return None
    if len(words) != matrix.shape[0]:
        return None
    return WordVectors(words, matrix, source)


def _write_cache(prefix: str, table: WordVectors) -> None:
    directory = os.path.dirname(prefix)
    try:
        os.makedirs(directory, exist_ok=True)
        # Temp files then rename: a concurrent reader never sees half a cache.
        with tempfile.NamedTemporaryFile(dir=directory, suffix=".npy", delete=False) as handle:
            np.save(handle, table.matrix)
        os.replace(handle.name, prefix + ".npy")
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=directory, suffix=".words", delete=False
        ) as handle:
            handle.write("\n".join(table.words))
        os.replace(handle.name, prefix + ".words")
    except OSError as error:
        logger.warning("could not write the vector cache %s: %s", prefix, error)


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
        Where the binary cache (`.npy` matrix + word list) lives. Its key is the file's absolute
        path, size and modification time, so a changed file is parsed again.
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
