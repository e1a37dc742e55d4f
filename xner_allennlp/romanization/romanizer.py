import logging
import threading
from typing import Dict, Optional

from allennlp.common import Registrable

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
_uroman_lock = threading.Lock()


def _uroman_engine():
    # One engine per process: it takes seconds to start and holds its tables in memory.
    global _shared_uroman
    with _uroman_lock:
        if _shared_uroman is None:
            import uroman

            logger.info("starting uroman")
            _shared_uroman = uroman.Uroman()
        return _shared_uroman


@Romanizer.register("uroman")
class UromanRomanizer(Romanizer):
    """
    Romanizes with [uroman](https://github.com/isi-nlp/uroman) (PyPI `uroman`).

    ASCII words are returned unchanged without calling uroman, every other word is romanized
    once per type and cached, and uroman itself starts only when the first non-ASCII word
    arrives. A word that romanizes to an empty string keeps its original form.

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
            cached = _uroman_engine().romanize_string(word, lcode=self._language) or word
            self._cache[word] = cached
        return cached

    def __getstate__(self):
        # The cache is an optimisation; keep pickles (multiprocess loaders) small.
        return {"_language": self._language, "_cache": {}}
