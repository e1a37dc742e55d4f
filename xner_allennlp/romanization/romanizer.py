import gc
import hashlib
import logging
import os
import pickle
import sys
import threading
from typing import Dict, Optional

from allennlp.common import Registrable

from xner_allennlp.common.files import atomic_open

logger = logging.getLogger(__name__)


class Romanizer(Registrable):
    """
    Maps a word to the Latin-script form the character encoder reads, so that the char BiLSTM
    trained on English sees one script for every target language (paper, section 3.3).
    """

    default_implementation = "identity"

    def romanize(self, word: str) -> str:
        raise NotImplementedError


@Romanizer.register("identity")
class IdentityRomanizer(Romanizer):
    """Leaves words as they are (the `no_uroman` ablation). Takes no parameters."""

    def romanize(self, word: str) -> str:
        return word


_shared_uroman = None
_real_uroman = None  # the engine this module started (tests may swap `_shared_uroman`)
_uroman_lock = threading.Lock()

# Every romanization this process knows from uroman itself or from a model archive, by uroman
# language code (None: no code): {language: {word: romanized}}. Shared by all `uroman`
# romanizers, so a word romanized (or loaded) once is never given to uroman again, and uroman
# (seconds to start) starts only for a non-ASCII word this process has never seen.
_known: Dict[Optional[str], Dict[str, str]] = {}


UROMAN_CACHE_ENV = "XNER_UROMAN_CACHE"


def default_uroman_cache_dir() -> Optional[str]:
    """`$XNER_UROMAN_CACHE` (`none`: no disk cache), default `~/.cache/xner_allennlp/uroman`."""
    value = os.environ.get(UROMAN_CACHE_ENV)
    if value and value.strip().lower() == "none":
        return None
    return value or os.path.join(os.path.expanduser("~"), ".cache", "xner_allennlp", "uroman")


def _none() -> None:
    return None


def _uroman_fingerprint(uroman_module) -> str:
    """Identifies the installed uroman (code and data files) and this Python."""
    root = os.path.dirname(os.path.abspath(uroman_module.__file__))
    parts = [sys.version, str(pickle.HIGHEST_PROTOCOL)]
    data = os.path.join(root, "data")
    paths = [os.path.join(root, name) for name in sorted(os.listdir(root)) if name.endswith(".py")]
    paths += [os.path.join(data, name) for name in sorted(os.listdir(data))]
    for path in paths:
        stat = os.stat(path)
        parts.append(f"{os.path.relpath(path, root)}|{stat.st_size}|{stat.st_mtime_ns}")
    return hashlib.sha1("\n".join(parts).encode("utf-8")).hexdigest()


def _start_uroman():
    """
    A `uroman.Uroman()`. Building one parses uroman's data files (4-8 s); the built engine is
    pickled once into the uroman cache directory (keyed by the installed uroman's files and
    the Python version, written atomically, so concurrent workers are safe) and later starts
    load that pickle (about 0.2 s) instead. The cache is this user's own directory: a pickle
    there is trusted as the installed code is.
    """
    import uroman

    directory = default_uroman_cache_dir()
    path = None
    if directory is not None:
        try:
            path = os.path.join(directory, f"uroman-{_uroman_fingerprint(uroman)}.pickle")
            if os.path.isfile(path):
                enabled = gc.isenabled()
                gc.disable()  # millions of small objects: no collections while unpickling
                try:
                    with open(path, "rb") as handle:
                        engine = pickle.load(handle)
                finally:
                    if enabled:
                        gc.enable()
                if isinstance(engine, uroman.Uroman):
                    return engine
        except Exception as error:  # noqa: BLE001 - a broken cache only costs the slow start
            logger.warning("uroman cache %s not usable (%s); starting uroman afresh", path, error)
    logger.info("starting uroman")
    engine = uroman.Uroman()
    # Its only unpicklable part: a defaultdict(lambda: None).
    engine.dict_num.default_factory = _none
    if path is not None:
        try:
            with atomic_open(path, "wb", prefix=".uroman-") as out:
                pickle.dump(engine, out, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as error:  # noqa: BLE001 - without the cache the next start is slow
            logger.warning("could not write the uroman cache %s: %s", path, error)
    return engine


def _uroman_engine():
    # One engine per process: it holds its tables in memory.
    global _shared_uroman, _real_uroman
    with _uroman_lock:
        if _shared_uroman is None:
            _shared_uroman = _real_uroman = _start_uroman()
        return _shared_uroman


def known_romanizations(language: Optional[str] = None) -> Dict[str, str]:
    """The words of `language` (a uroman code, or None) this process has romanized or loaded."""
    return _known.setdefault(language, {})


def all_known_romanizations() -> Dict[Optional[str], Dict[str, str]]:
    """
    Every language's known romanizations, `{language: {word: romanized}}`: the live table,
    for reading (what `VectorVocabulary` stores in an archive).
    """
    return _known


def add_known_romanizations(table: Dict[Optional[str], Dict[str, str]]) -> None:
    """
    Adds `{language: {word: romanized}}` (what a model archive stores, see
    `VectorVocabulary`) to what every `uroman` romanizer of this process knows.
    """
    for language, words in table.items():
        known_romanizations(language).update(words)


@Romanizer.register("uroman")
class UromanRomanizer(Romanizer):
    """
    Romanizes with [uroman](https://github.com/isi-nlp/uroman) (PyPI `uroman`).

    ASCII words are returned unchanged without calling uroman, every other word is romanized
    once per type and cached, and uroman itself starts only when the first non-ASCII word
    arrives that this process has not seen yet: the romanizations of the words read in training
    are stored in the model archive (`VectorVocabulary`) and loaded with it, so predicting text
    made of known words never starts uroman. When it does start, it loads a pickled engine from
    `$XNER_UROMAN_CACHE` (default `~/.cache/xner_allennlp/uroman`; about 0.2 s instead of 4-8 s
    after the first start on the machine; `none` turns that cache off). A word that romanizes to
    an empty string keeps its original form.

    Registered as a `Romanizer` with name "uroman".

    # Parameters

    language : `str`, optional (default = `None`)
        ISO 639-3 code passed to uroman (e.g. `"ben"`); some scripts romanize better with it.
    """

    def __init__(self, language: Optional[str] = None) -> None:
        self._language = language
        self._cache: Dict[str, str] = {}

    def romanize(self, word: str) -> str:
        if word.isascii():
            return word
        cached = self._cache.get(word)
        if cached is None:
            known = known_romanizations(self._language)
            cached = known.get(word)
            if cached is None:
                engine = _uroman_engine()
                cached = engine.romanize_string(word, lcode=self._language) or word
                if engine is _real_uroman:
                    known[word] = cached
            self._cache[word] = cached
        return cached

    def __getstate__(self):
        # The cache is an optimisation; keep pickles (multiprocess loaders) small.
        return {"_language": self._language, "_cache": {}}
