import copy

import pytest
from allennlp.common import Params
from allennlp.common.checks import ConfigurationError
from allennlp.common.testing import AllenNlpTestCase
from allennlp.data import DatasetReader

import xner_allennlp  # noqa: F401
from tests.xner_model_fixture import FIXTURES


def _reader(sources):
    return DatasetReader.from_params(Params({"type": "multi_source", "sources": copy.deepcopy(sources)}))


def _words(instances):
    return [tuple(instance["metadata"]["words"]) for instance in instances]


class TestMultiSourceReader(AllenNlpTestCase):
    def setup_method(self):
        super().setup_method()
        self.en = str(FIXTURES / "conll" / "en.train")
        self.es = str(FIXTURES / "conll" / "es.dev")  # latin-1
        self.sources = {
            "en": {"path": self.en, "reader": {"type": "xner_conll"}},
            "es": {"path": self.es, "reader": {"type": "xner_conll", "encoding": "latin-1"}},
        }

    def test_every_sentence_once_per_epoch_with_its_own_encoding(self):
        reader = _reader(self.sources)
        en_alone = _words(DatasetReader.from_params(Params({"type": "xner_conll"})).read(self.en))
        es_alone = _words(
            DatasetReader.from_params(Params({"type": "xner_conll", "encoding": "latin-1"})).read(self.es)
        )
        for _ in range(2):  # two epochs
            both = _words(reader.read("en,es"))
            assert both == en_alone + es_alone
        assert _words(reader.read("es")) == es_alone
        assert any("ñ" in w or "ó" in w for sentence in es_alone for w in sentence)

    def test_unlabelled_target_text_is_never_read_for_its_tags(self, tmp_path):
        # A target file without a tag column is only readable as words: the training sources
        # are the labelled ones; nothing in the reader opens the dev/test files.
        reader = _reader({"en": self.sources["en"]})
        assert len(list(reader.read("en"))) == len(list(reader.read(" en ")))
        with pytest.raises(ConfigurationError, match="names es; the sources are en"):
            list(reader.read("en,es"))

    def test_distributed_workers_split_each_source(self, monkeypatch):
        from allennlp.data.dataset_readers import dataset_reader as module

        reader = _reader(self.sources)
        everything = _words(reader.read("en,es"))
        halves = []
        for rank in range(2):
            # What each worker of a 2-process group sees (allennlp shards by the process rank).
            monkeypatch.setattr(module.util, "is_distributed", lambda: True)
            monkeypatch.setattr(module.dist, "get_rank", lambda rank=rank: rank)
            monkeypatch.setattr(module.dist, "get_world_size", lambda: 2)
            halves.append(_words(_reader(self.sources).read("en,es")))
            monkeypatch.undo()
        assert len(halves[0]) + len(halves[1]) == len(everything)
        assert sorted(halves[0] + halves[1]) == sorted(everything)
        assert abs(len(halves[0]) - len(halves[1])) <= 2

    def test_bad_entries_name_the_source_and_file(self, tmp_path):
        missing = str(tmp_path / "nope.conll")
        with pytest.raises(ConfigurationError, match="source 'de': file not found: .*nope.conll"):
            _reader({"de": {"path": missing, "reader": {"type": "xner_conll"}}})
        with pytest.raises(ConfigurationError, match="colour"):
            _reader({"en": {"path": self.en, "reader": {"type": "xner_conll"}, "colour": "red"}})
        with pytest.raises(ConfigurationError, match="empty"):
            _reader({})
