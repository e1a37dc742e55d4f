from allennlp.common import Params
from allennlp.common.testing import AllenNlpTestCase
from allennlp.data import DatasetReader, Vocabulary
from allennlp.data.data_loaders import DataLoader

from xner_allennlp.dataset_readers.xner_conll import XnerConllReader


class TestTrainingPipeline(AllenNlpTestCase):
    def test_instances_are_built_once_not_per_epoch(self):
        # The configs' data loader keeps the instances (and so the normalisation, romanization
        # and translation done while reading) in memory after the first pass: later epochs
        # only re-batch them.
        config = Params.from_file("training_configs/fixture.jsonnet").as_dict(quiet=True)
        calls = []
        original = XnerConllReader.text_to_instance

        def counting(self, *args, **kwargs):
            calls.append(1)
            return original(self, *args, **kwargs)

        XnerConllReader.text_to_instance = counting
        try:
            reader = DatasetReader.from_params(Params(config["dataset_reader"]))
            loader = DataLoader.from_params(
                Params(config["data_loader"]), reader=reader, data_path=config["train_data_path"]
            )
            vocab = Vocabulary.from_instances(loader.iter_instances())
            loader.index_with(vocab)
            built = len(calls)
            sentences = sum(1 for _ in loader.iter_instances())
            for _ in range(2):
                assert sum(len(batch["tags"]) for batch in loader) == sentences
        finally:
            XnerConllReader.text_to_instance = original
        assert built == sentences > 0
        assert len(calls) == built

    def test_configs_use_the_fast_modules(self):
        config = Params.from_file("training_configs/fixture.jsonnet").as_dict(quiet=True)
        model = config["model"]
        assert model["text_field_embedder"]["token_embedders"]["token_characters"]["type"] == (
            "unique_character_encoding"
        )
        assert model["encoder"]["type"] == "packed_lstm"
        assert model["batched_crf"] is True
        assert model["target_language"] == "es"
        assert config["data_loader"]["batch_sampler"]["type"] == "bucket"
        assert "torch_threads" in [c["type"] for c in config["trainer"]["callbacks"]]
