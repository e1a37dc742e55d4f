"""
The one word-vector loader of the package: the embedder, the vocabulary, the translator and the
aligner all read vectors through `load_word_vectors`, so a file is parsed once per process and
once per change on disk (binary cache).

The parts live in `xner_allennlp.common.vectors`: `table` (`WordVectors`, merging), `parsing`
(fastText/MUSE and GloVe text, gzipped or not: the pyarrow fast path of `arrow_parsing`, the
reference parser, and the `text_format` basics they share), `cache` (the binary cache). This
module puts them together and is what the rest of the package imports. Timings and memory:
benchmarks/README.md (`load_vectors.py`).
"""

import logging
import os
import threading
from typing import Dict, Iterable, Optional

from xner_allennlp.common.errors import require_file
from xner_allennlp.common.files import atomic_open
from xner_allennlp.common.vectors.cache import (
    CACHE_ENV,
    cache_key,
    default_cache_dir,
    read_cache,
    write_cache,
)
from xner_allennlp.common.vectors.parsing import parse_vector_file
from xner_allennlp.common.vectors.table import WordVectors, merge_word_vectors

__all__ = [
    "CACHE_ENV",
    "WordVectors",
    "clear_memory",
    "default_cache_dir",
    "load_merged",
    "load_word_vectors",
    "merge_word_vectors",
    "write_word_vectors",
]

logger = logging.getLogger(__name__)

# The in-process copies, by cache key: every part of the package that loads a file gets the same
# read-only table. (Tests clear it to make the next load read the disk again.)
_memory: Dict[str, WordVectors] = {}
_memory_lock = threading.Lock()


def clear_memory() -> None:
    """Forgets the in-process tables, so that the next load reads the disk (or its cache) again."""
    with _memory_lock:
        _memory.clear()


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
    key = cache_key(path, encoding, max_words)
    with _memory_lock:
        table = _memory.get(key)
        if table is not None:
            return table
        prefix = os.path.join(cache_dir or default_cache_dir(), key)
        table = read_cache(prefix, path) if use_cache else None
        if table is None:
            logger.info("parsing word vectors from %s", path)
            table = parse_vector_file(path, encoding, max_words)
            if use_cache:
                write_cache(prefix, table)
        table.matrix.flags.writeable = False
        _memory[key] = table
        return table


def load_merged(paths: Iterable[str], encoding: str = "utf-8", **kwargs) -> WordVectors:
    """
    The files of `paths` loaded (`load_word_vectors`) and merged (`merge_word_vectors`: a word
    in several files keeps the vector of the first).

    # Parameters

    paths : `Iterable[str]`
        The vector files, in order of precedence.
    encoding : `str`, optional (default = `"utf-8"`)
        Encoding of the words of every file.
    kwargs :
        The other options of `load_word_vectors`.
    """
    return merge_word_vectors([load_word_vectors(p, encoding=encoding, **kwargs) for p in paths])


def write_word_vectors(path: str, table: WordVectors, precision: int = 6) -> None:
    """
    Writes `table` in fastText/MUSE text format, atomically: `path` is either complete or
    untouched (`atomic_open`).

    # Parameters

    path : `str`
        The file to write; its directory is created if missing.
    table : `WordVectors`
        The table.
    precision : `int`, optional (default = `6`)
        Significant digits of each value (`%g`); 9 round-trips float32 exactly.
    """
    fmt = " ".join([f"%.{precision}g"] * table.dim)
    with atomic_open(path, "w", encoding="utf-8") as handle:
        handle.write(f"{len(table)} {table.dim}\n")
        # Blocks of rows: one string per block instead of one write per row.
        for start in range(0, len(table), 10000):
            block = table.matrix[start : start + 10000]
            handle.write(
                "".join(
                    f"{word} {fmt % tuple(row)}\n"
                    for word, row in zip(table.words[start : start + 10000], block.tolist())
                )
            )
