import json
import sys
import tarfile

import numpy as np
import pytest
import torch
from allennlp.commands import main
from allennlp.common.testing import ModelTestCase
from allennlp.models.archival import load_archive

from tests.conftest import FIXTURES, ROOT
from tests.xner_model_fixture import trained_archive
from xner_allennlp.common.errors import InputFormatError
from xner_allennlp.common.word_vectors import load_word_vectors

CONFIG = ROOT / "training_configs" / "fixture.jsonnet"


class TestFixtureCrfTagger(ModelTestCase):
    def setup_method(self):
        super().setup_method()
        self.set_up_model(CONFIG, FIXTURES / "conll" / "en.train")

    def test_can_train_save_and_load(self):
        # ModelTestCase re-reads validation_data_path with the *training* reader, which here is
        # English UTF-8 while the validation file is Spanish latin-1: check on English dev.
        overrides = {
            "trainer.num_epochs": 2,
            "validation_data_path": str(FIXTURES / "conll" / "en.dev"),
            # The check compares two loaders' batches, so they must come in the same order.
            "data_loader.batch_sampler.shuffle": False,
        }
        self.ensure_model_can_train_save_and_load(CONFIG, overrides=json.dumps(overrides))

    def test_batch_predictions_are_consistent(self):
        # Each fixture sentence alone and all of them in one padded batch give the same logits
        # (up to each sentence's length), mask, decoded tags and words; nothing is ignored but
        # the loss, which allennlp's check always skips. Padding must not change the packed
        # LSTM's outputs, the unique-word character encoding or the batched CRF's paths.
        self.ensure_batch_predictions_are_consistent()

    def test_word_vectors_are_frozen_buffers(self):
        embedder = self.model.text_field_embedder._token_embedders["tokens"]
        names = [name for name, _ in self.model.named_parameters()]
        assert not any("token_embedder_tokens" in name for name in names)
        assert bool(embedder.has_vector[1:].any())

    def test_word_in_no_data_file_gets_its_aligned_vector(self):
        # A Spanish word with a vector that none of the fixture corpora contains: it can only
        # reach the vocabulary through the target vector table.
        corpus_words = set()
        for path in (FIXTURES / "conll").iterdir():
            for line in path.read_bytes().decode("latin-1").split("\n"):
                if line.strip():
                    corpus_words.add(line.split()[0].lower())
        table = load_word_vectors(str(FIXTURES / "vectors" / "wiki.multi.es.vec"))
        unseen = [w for w in table.words if w not in corpus_words and w.isalpha()]
        assert unseen
        word = unseen[0]
        index = self.vocab.get_token_index(word, "tokens")
        assert index != self.vocab.get_token_index("@@UNKNOWN@@", "tokens")
        embedder = self.model.text_field_embedder._token_embedders["tokens"]
        embedded = embedder(torch.tensor([[index]]))[0, 0]
        np.testing.assert_allclose(embedded.numpy(), table.vector(word))


def test_evaluate_on_a_tag_the_model_never_saw(tmp_path, monkeypatch):
    # The fixture model knows PER/LOC/ORG/MISC: allennlp's data loader used to stop on a bare
    # KeyError('B-EVENT') when it indexed the gold tags.
    data = tmp_path / "es.events"
    text = "Ana B-PER\nvisitó O\n\nla O\nFeria B-EVENT\nde I-EVENT\nAbril I-EVENT\nen O\n"
    data.write_bytes(text.encode("latin-1"))
    monkeypatch.setattr(sys, "argv", ["allennlp", "evaluate", str(trained_archive()), str(data)])
    with pytest.raises(InputFormatError) as error:
        main()
    message = str(error.value)
    assert message.startswith(f"{data}:5: tag 'B-EVENT' (entity type EVENT, in BIOUL) is not a tag")
    known = message.split("it knows ")[1].split(". ")[0].split(", ")
    assert {"O", "B-PER", "L-PER", "U-PER", "U-LOC", "U-ORG", "U-MISC"} <= set(known)
    assert "tag_map" in message and "drop_tag_types" in message


def _archive_with_model_config(tmp_path, edit):
    """A copy of the fixture archive whose config's model section went through `edit`."""
    with tarfile.open(trained_archive()) as archive:
        archive.extractall(tmp_path / "files")
    config_file = tmp_path / "files" / "config.json"
    config = json.loads(config_file.read_text())
    edit(config["model"])
    config_file.write_text(json.dumps(config))
    path = tmp_path / "model.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for entry in sorted((tmp_path / "files").iterdir()):
            archive.add(entry, arcname=entry.name)
    return path


@pytest.mark.parametrize(
    "edit, language",
    [
        # The config's field, whatever the file names say.
        (lambda model: model.update(target_language="de"), "de"),
        # Archives from before the field: the language of the file names (wiki.multi.es.vec).
        (lambda model: model.pop("target_language"), "es"),
    ],
)
def test_target_language_comes_from_the_archive_config(tmp_path, edit, language):
    model = load_archive(str(_archive_with_model_config(tmp_path, edit))).model
    assert model.target_language == language
