import pickle

import pytest
from allennlp.common import Params
from allennlp.common.testing import AllenNlpTestCase

from xner_allennlp.romanization import IdentityRomanizer, Romanizer, UromanRomanizer
from xner_allennlp.romanization import romanizer as romanizer_module


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


# ---------------------------------------------------------------- the engine's disk cache

MANY_SCRIPTS = "grünen ইউরোপের visitó Москва 北京 Ñuño ١٢٣ ½ Straße ΑΘΗΝΑ Việt".split()


def test_uroman_engine_cache_gives_the_same_romanizations(tmp_path, monkeypatch):
    monkeypatch.setenv(romanizer_module.UROMAN_CACHE_ENV, str(tmp_path / "uroman"))
    fresh = romanizer_module._start_uroman()  # builds the engine, writes the cache
    (cached_file,) = (tmp_path / "uroman").iterdir()
    assert cached_file.name.startswith("uroman-") and cached_file.suffix == ".pickle"
    loaded = romanizer_module._start_uroman()  # from the pickle
    assert loaded is not fresh
    for lcode in (None, "ben", "deu"):
        assert [loaded.romanize_string(w, lcode=lcode) for w in MANY_SCRIPTS] == [
            fresh.romanize_string(w, lcode=lcode) for w in MANY_SCRIPTS
        ]


def test_broken_or_disabled_uroman_cache(tmp_path, monkeypatch, caplog):
    import uroman

    class CheapEngine:
        def __init__(self):
            self.dict_num = __import__("collections").defaultdict(lambda: None)

    monkeypatch.setattr(uroman, "Uroman", CheapEngine)
    directory = tmp_path / "uroman"
    monkeypatch.setenv(romanizer_module.UROMAN_CACHE_ENV, str(directory))
    directory.mkdir()
    path = directory / f"uroman-{romanizer_module._uroman_fingerprint(uroman)}.pickle"
    path.write_bytes(b"not a pickle")
    # A broken cache file: a warning, a fresh engine, and the cache rewritten.
    assert isinstance(romanizer_module._start_uroman(), CheapEngine)
    assert "not usable" in caplog.text
    assert isinstance(romanizer_module._start_uroman(), CheapEngine)
    monkeypatch.setenv(romanizer_module.UROMAN_CACHE_ENV, "none")
    assert romanizer_module.default_uroman_cache_dir() is None
    assert isinstance(romanizer_module._start_uroman(), CheapEngine)


# ---------------------------------------------------------------- romanizations in the archive


def test_archive_romanizations_keep_uroman_from_starting(monkeypatch):
    from allennlp.models.archival import load_archive

    from tests.xner_model_fixture import trained_archive
    from xner_allennlp.data.vector_vocabulary import ROMANIZED_FILE, VectorVocabulary

    class Refuse:
        def romanize_string(self, word, lcode=None):
            raise AssertionError(f"uroman started for {word!r}")

    monkeypatch.setattr(romanizer_module, "_known", {})
    loaded = load_archive(str(trained_archive()))
    vocab = loaded.model.vocab
    assert isinstance(vocab, VectorVocabulary) and ROMANIZED_FILE.startswith(".")
    table = vocab.romanizations[None]
    # What uroman gave the training instances, loaded for every uroman romanizer.
    assert table["Gutiérrez"] == "Gutierrez" and table["Muñoz"] == "Munoz"
    assert romanizer_module.known_romanizations(None)["Gutiérrez"] == "Gutierrez"
    assert all(not word.isascii() for word in table)
    # A non-padded namespace file is not what the vocabulary is made of.
    assert ROMANIZED_FILE not in vocab._index_to_token
    monkeypatch.setattr(romanizer_module, "_shared_uroman", Refuse())
    reader = loaded.validation_dataset_reader
    instance = reader.text_to_instance(["Inés", "Gutiérrez", "llegó", "a", "París"])
    assert [t.romanized for t in instance["tokens"].tokens] == ["Ines", "Gutierrez", "llego", "a", "Paris"]
    with pytest.raises(AssertionError, match="uroman started for 'Москва'"):
        reader.text_to_instance(["Москва"])
