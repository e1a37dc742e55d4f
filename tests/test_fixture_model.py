import json

from allennlp.common.testing import ModelTestCase

from tests.conftest import FIXTURES, ROOT

CONFIG = ROOT / "training_configs" / "fixture.jsonnet"


class TestFixtureCrfTagger(ModelTestCase):
    def setup_method(self):
        super().setup_method()
        self.set_up_model(CONFIG, FIXTURES / "conll" / "en.train")

    def test_can_train_save_and_load(self):
        self.ensure_model_can_train_save_and_load(
            CONFIG, overrides=json.dumps({"trainer.num_epochs": 2})
        )

    def test_word_vectors_are_frozen_buffers(self):
        embedder = self.model._text_field_embedder._token_embedders["tokens"]
        names = [name for name, _ in self.model.named_parameters()]
        assert not any("token_embedder_tokens" in name for name in names)
        assert bool(embedder.has_vector[1:].any())
