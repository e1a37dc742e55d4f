"""
A cache of per-sentence features of a frozen encoder: in memory (bounded) and optionally on
disk, in one SQLite file per encoder fingerprint.

SQLite gives what the cache needs without code of our own: a process that dies mid-write
leaves the last committed state (its journal rolls the rest back, so a half-written entry is
never read), and several processes (distributed workers) may read and write one file at once.
"""

import logging
import os
import random
import sqlite3
import threading
import time
from typing import Dict, Iterable, List, Optional, Tuple

import numpy as np

logger = logging.getLogger(__name__)

_OPEN_TIMEOUT_S = 600
# Its own generator: a retry must not move the global one that shuffles the training batches.
_JITTER = random.Random()

CACHE_ENV = "XNER_FEATURE_CACHE"


def default_feature_cache_dir() -> str:
    return os.environ.get(CACHE_ENV) or os.path.join(
        os.path.expanduser("~"), ".cache", "xner_allennlp", "features"
    )


class FeatureCache:
    """
    Maps a key (bytes: the encoder's input for one sentence) to a float16 array of shape
    `(num_words, num_layers, dim)`.

    # Parameters

    fingerprint : `str`
        Identifies the encoder and the feature recipe (weights, layers, sub-token pooling); a
        different fingerprint is a different cache, so a changed encoder never reads old
        features.
    shape_tail : `Tuple[int, int]`
        `(num_layers, dim)` of every entry.
    max_memory_bytes : `int`, optional (default = `4 GB`)
        Entries beyond this stay out of memory (and are read from disk, or recomputed); 0
        keeps nothing in memory (filling a disk cache: `allennlp xner-cache`).
    cache_dir : `str`, optional (default = `None`)
        Directory of the on-disk cache; `None` keeps the cache in memory only.
    """

    def __init__(
        self,
        fingerprint: str,
        shape_tail: Tuple[int, int],
        max_memory_bytes: int = 4 * 1024**3,
        cache_dir: Optional[str] = None,
    ) -> None:
        self.fingerprint = fingerprint
        self.shape_tail = tuple(shape_tail)
        self.max_memory_bytes = max_memory_bytes
        self.memory: Dict[bytes, np.ndarray] = {}
        self.memory_bytes = 0
        self.hits = 0
        self.misses = 0
        self._full_warned = False
        self._lock = threading.Lock()
        self.path: Optional[str] = None
        self._db: Optional[sqlite3.Connection] = None
        if cache_dir:
            os.makedirs(cache_dir, exist_ok=True)
            self.path = os.path.join(cache_dir, f"{fingerprint}.sqlite")

    # SQLite connections must not cross fork(); open lazily in the process that uses it.
    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            assert self.path is not None
            # Switching a new file to WAL and creating the table take locks for which SQLite
            # does not call its busy handler: a second process opening the same new cache at
            # that moment gets "database is locked" at once (seen in about 1 of 4 simultaneous
            # opens), so the set-up is retried here rather than failing the worker.
            deadline = time.monotonic() + _OPEN_TIMEOUT_S
            while True:
                db = sqlite3.connect(self.path, timeout=_OPEN_TIMEOUT_S, check_same_thread=False)
                try:
                    db.execute("PRAGMA journal_mode=WAL")
                    db.execute(
                        "CREATE TABLE IF NOT EXISTS features "
                        "(key BLOB PRIMARY KEY, words INTEGER, value BLOB)"
                    )
                    db.commit()
                    break
                except sqlite3.OperationalError as error:
                    db.close()
                    if "locked" not in str(error) or time.monotonic() > deadline:
                        raise
                    time.sleep(_JITTER.uniform(0.01, 0.1))
            self._db = db
        return self._db

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_db"] = None
        state["_lock"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def get_many(self, keys: List[bytes]) -> List[Optional[np.ndarray]]:
        found: List[Optional[np.ndarray]] = [self.memory.get(key) for key in keys]
        missing = [i for i, value in enumerate(found) if value is None]
        if missing and self.path is not None and os.path.exists(self.path):
            db = self._connection()
            wanted = [keys[i] for i in missing]
            rows: Dict[bytes, Tuple[int, bytes]] = {}
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for key, words, value in db.execute(
                    f"SELECT key, words, value FROM features WHERE key IN ({marks})", chunk
                ):
                    rows[bytes(key)] = (words, value)
            for i in missing:
                row = rows.get(keys[i])
                if row is None:
                    continue
                words, value = row
                array = np.frombuffer(value, dtype=np.float16)
                expected = words * self.shape_tail[0] * self.shape_tail[1]
                if array.size != expected:
                    # Never serve an entry of the wrong size; it is recomputed and replaced.
                    logger.warning("feature cache %s: entry of wrong size ignored", self.path)
                    continue
                array = array.reshape((words,) + self.shape_tail)
                found[i] = array
                self._remember(keys[i], array)
        hits = sum(1 for value in found if value is not None)
        self.hits += hits
        self.misses += len(keys) - hits
        return found

    def put_many(self, items: Iterable[Tuple[bytes, np.ndarray]]) -> None:
        items = [(key, np.ascontiguousarray(value, dtype=np.float16)) for key, value in items]
        for key, value in items:
            self._remember(key, value)
        if self.path is not None and items:
            db = self._connection()
            with db:
                db.executemany(
                    "INSERT OR REPLACE INTO features (key, words, value) VALUES (?, ?, ?)",
                    [(key, value.shape[0], value.tobytes()) for key, value in items],
                )

    def _remember(self, key: bytes, value: np.ndarray) -> None:
        if key in self.memory or self.max_memory_bytes <= 0:
            return
        if self.memory_bytes + value.nbytes > self.max_memory_bytes:
            if not self._full_warned:
                logger.warning(
                    "feature cache reached its memory bound (%.1f GB); further entries %s",
                    self.max_memory_bytes / 1024**3,
                    "are read from disk" if self.path else "are recomputed",
                )
                self._full_warned = True
            return
        value.flags.writeable = False
        self.memory[key] = value
        self.memory_bytes += value.nbytes

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
