"""
The binary cache of parsed vector files: per file, a `.npy` matrix, a `.words` list and, written
last, a `.json` with the shape and checksums (xxh3-128) of both. A cache whose writer died midway
has no metadata, and a damaged one does not match it: neither is ever served.
"""

import contextlib
import hashlib
import json
import logging
import os
from typing import Optional

import numpy as np

from xner_allennlp.common.files import atomic_open
from xner_allennlp.common.vectors.table import WordVectors

# The public module's name: log filters set on it before the split keep working.
logger = logging.getLogger("xner_allennlp.common.word_vectors")

CACHE_ENV = "XNER_VECTOR_CACHE"
# What the cache's metadata says about its own files. A new version (parser rules or layout)
# makes every cache written before it be parsed again.
CACHE_VERSION = 2
try:
    import xxhash  # in the lock file (a `datasets` dependency)

    HASH = "xxh3_128"

    def _digest(data) -> str:
        return xxhash.xxh3_128(data).hexdigest()

except ImportError:  # pragma: no cover
    HASH = "blake2b"

    def _digest(data) -> str:
        return hashlib.blake2b(data, digest_size=16).hexdigest()


def default_cache_dir() -> str:
    """`$XNER_VECTOR_CACHE`, else `~/.cache/xner_allennlp/vectors`."""
    return os.environ.get(CACHE_ENV) or os.path.join(
        os.path.expanduser("~"), ".cache", "xner_allennlp", "vectors"
    )


def cache_key(path: str, encoding: str, max_words: Optional[int]) -> str:
    """
    The name of a file's cache entry (and of its in-process copy): a changed file (size or
    modification time) or other reading options give another key.

    # Parameters

    path : `str`
        The vector file.
    encoding : `str`
        The encoding it is read with.
    max_words : `int`, optional
        The number of rows kept (`None`: all).
    """
    stat = os.stat(path)
    ident = f"{os.path.abspath(path)}|{stat.st_size}|{stat.st_mtime_ns}|{encoding}|{max_words}"
    return hashlib.sha1(ident.encode("utf-8")).hexdigest()


def _matrix_bytes(matrix: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(matrix).reshape(-1).view(np.uint8)


def read_cache(prefix: str, source: str) -> Optional[WordVectors]:
    """
    The cached table, or None when there is none, it is another version's, or it is damaged
    (a warning says so; the caller parses the text file again).

    # Parameters

    prefix : `str`
        The entry's files without their suffix: the cache directory joined with `cache_key`.
    source : `str`
        The vector file, for the table and the messages.
    """
    try:
        with open(prefix + ".json", encoding="utf-8") as handle:
            meta = json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        return _damaged(prefix, source, f"unreadable metadata: {error}")
    if not isinstance(meta, dict) or meta.get("version") != CACHE_VERSION:
        return None
    if meta.get("hash") != HASH:
        return None  # written where another checksum was available: rebuilt, not distrusted
    try:
        matrix = np.load(prefix + ".npy", allow_pickle=False)
        with open(prefix + ".words", "rb") as handle:
            words_bytes = handle.read()
    except (OSError, ValueError, EOFError) as error:
        return _damaged(prefix, source, str(error))
    if matrix.dtype != np.float32 or list(matrix.shape) != [meta.get("rows"), meta.get("dim")]:
        return _damaged(
            prefix,
            source,
            f"matrix {matrix.dtype} {matrix.shape}, expected "
            f"float32 ({meta.get('rows')}, {meta.get('dim')})",
        )
    if _digest(_matrix_bytes(matrix)) != meta.get("matrix"):
        return _damaged(prefix, source, "the matrix does not match its checksum")
    if _digest(words_bytes) != meta.get("words"):
        return _damaged(prefix, source, "the word list does not match its checksum")
    words = words_bytes.decode("utf-8").split("\n")
    if len(words) != matrix.shape[0]:
        return _damaged(prefix, source, f"{len(words)} words for {matrix.shape[0]} rows")
    return WordVectors(words, matrix, source)


def _damaged(prefix: str, source: str, reason: str) -> Optional[WordVectors]:
    logger.warning(
        "the vector cache %s.* of %s is damaged (%s): parsing the text file again",
        prefix,
        source,
        reason,
    )
    return None


def write_cache(prefix: str, table: WordVectors) -> None:
    """
    Writes `table`'s cache entry; a failure (full disk, no permission) is a warning, not an
    error: the table is in hand, only the next process parses again.

    # Parameters

    prefix : `str`
        As for `read_cache`.
    table : `WordVectors`
        The parsed table (its `source` is recorded in the metadata).
    """
    matrix = np.ascontiguousarray(table.matrix)
    words = "\n".join(table.words).encode("utf-8")
    meta = {
        "version": CACHE_VERSION,
        "source": os.path.abspath(table.source),
        "rows": int(matrix.shape[0]),
        "dim": int(matrix.shape[1]),
        "hash": HASH,
        "matrix": _digest(_matrix_bytes(matrix)),
        "words": _digest(words),
    }
    parts = (
        (".npy", lambda handle: np.save(handle, matrix)),
        (".words", lambda handle: handle.write(words)),
        # Last: until it is in place the other two are never read.
        (".json", lambda handle: handle.write(json.dumps(meta, indent=1).encode("utf-8"))),
    )
    try:
        # An older complete entry under this key would vouch for files now being replaced.
        with contextlib.suppress(FileNotFoundError):
            os.remove(prefix + ".json")
        for suffix, write in parts:
            # Each file whole or not at all: a concurrent reader never sees half of one.
            with atomic_open(prefix + suffix, "wb", prefix=os.path.basename(prefix)) as handle:
                write(handle)
    except OSError as error:
        logger.warning("could not write the vector cache %s: %s", prefix, error)
