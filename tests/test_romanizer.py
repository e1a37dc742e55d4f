import pickle

import pytest
from allennlp.common import Params
from allennlp.common.testing import AllenNlpTestCase

from xner_allennlp.romanization import romanizer as romanizer_module
from xner_allennlp.romanization import IdentityRomanizer, Romanizer, UromanRomanizer


class FakeEngine:
    def __init__(self, output=None):
        self.calls = []
        self.output = output

    def romanize_string(self, word, lcode=None):
        self.calls.append((word, lcode))
        return f"<{word}>" if self.output is None else self.output


class TestUromanRomanizer(AllenNlpTestCase):
    def test_paper_table_1(self):
        romanizer = UromanRomanizer()
        assert romanizer.romanize("grünen") == "gruenen"
        assert romanizer.romanize("ইউরোপের") == "iuropera"

    def test_ascii_never_starts_uroman(self, monkeypatch):
        monkeypatch.setattr(romanizer_module, "_shared_uroman", None)
        romanizer = UromanRomanizer()
        for word in ["Paris", "EU", "1990", "", "U.S."]:
            assert romanizer.romanize(word) == word
        assert romanizer_module._shared_uroman is None

    def test_each_type_is_romanized_once(self, monkeypatch):
        engine = FakeEngine()
        monkeypatch.setattr(romanizer_module, "_shared_uroman", engine)
        romanizer = UromanRomanizer(language="ben")
        assert [romanizer.romanize(w) for w in ["ইউ", "ইউ", "ü", "ইউ", "Paris"]] == [
            "<ইউ>",
            "<ইউ>",
            "<ü>",
            "<ইউ>",
            "Paris",
        ]
        assert engine.calls == [("ইউ", "ben"), ("ü", "ben")]

    def test_empty_romanization_keeps_the_word(self, monkeypatch):
        monkeypatch.setattr(romanizer_module, "_shared_uroman", FakeEngine(output=""))
        assert UromanRomanizer().romanize("ꙮ") == "ꙮ"

    def test_pickle_drops_the_cache(self, monkeypatch):
        monkeypatch.setattr(romanizer_module, "_shared_uroman", FakeEngine())
        romanizer = UromanRomanizer(language="deu")
        romanizer.romanize("grün")
        copy = pickle.loads(pickle.dumps(romanizer))
        assert copy._cache == {} and copy._language == "deu"

    def test_from_params(self):
        assert isinstance(Romanizer.from_params(Params({"type": "uroman"})), UromanRomanizer)
        assert isinstance(Romanizer.from_params(Params({})), IdentityRomanizer)
        assert IdentityRomanizer().romanize("grünen") == "grünen"
