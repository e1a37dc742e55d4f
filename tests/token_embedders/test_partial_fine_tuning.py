"""
`cached_transformer_mismatched` with `train_layers`: the top layers of the tiny fixture encoder
fine-tuned on cached states of the frozen lower ones.
"""

import json
import sqlite3
import tarfile

import pytest
import torch
from allennlp.commands.train import train_model_from_file
from allennlp.common.checks import ConfigurationError
from allennlp.common.testing import AllenNlpTestCase
from allennlp.models.archival import load_archive
from allennlp.predictors import Predictor

from tests.conftest import ROOT
from tests.token_embedders.test_cached_transformer import FP16, SENTENCES, TINY, batch, embedder
from xner_allennlp.predictors.xner_tagger import XnerTaggerPredictor

CONFIG = ROOT / "training_configs" / "encoder" / "fixture.jsonnet"


class TestPartialFineTuning(AllenNlpTestCase):
    def setup_method(self):
        super().setup_method()
        self.inputs = batch(SENTENCES)
        self.mask = self.inputs["mask"]

    def test_untrained_top_layers_give_the_frozen_features(self):
        # Windows of 8 pieces: long sentences go through the top layers window by window too.
        for max_length in (512, 8):
            frozen = embedder(layers=[0, 1, 2], layer_mix="mean", max_length=max_length)
            with torch.no_grad():
                expected = frozen(**self.inputs)
            # train_layers 0 is the frozen embedder itself; 1 and 2 split the same weights
            # into a cached lower part and a recomputed top part.
            for train_layers in (0, 1, 2):
                partial = embedder(
                    layers=[0, 1, 2], layer_mix="mean", max_length=max_length, train_layers=train_layers
                )
                with torch.no_grad():
                    ours = partial(**self.inputs)
                torch.testing.assert_close(ours[self.mask], expected[self.mask], **FP16)
                assert ours[~self.mask].abs().sum() == 0
                if train_layers == 0:
                    assert torch.equal(ours, expected)

    def test_only_the_top_layers_and_the_mix_receive_gradients(self):
        partial = embedder(layers=[1, 2], layer_mix="scalar_mix", train_layers=1).train()
        trainable = {name for name, p in partial.named_parameters() if p.requires_grad}
        assert trainable and all(
            n.startswith(("transformer.encoder.layer.1.", "_scalar_mix.")) for n in trainable
        )
        partial(**self.inputs).sum().backward()
        for name, parameter in partial.named_parameters():
            if name.startswith("transformer.encoder.layer.1."):
                assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
            elif name.startswith("transformer."):
                assert parameter.grad is None, name
        assert all(p.grad is not None for p in partial._scalar_mix.parameters())

    def test_state_dict_holds_the_top_layers_only(self):
        keys = embedder(layers=[1, 2], train_layers=1).state_dict().keys()
        transformer = [k for k in keys if k.startswith("transformer.")]
        assert transformer and all(k.startswith("transformer.encoder.layer.1.") for k in transformer)
        assert not any(k.startswith("transformer.") for k in embedder(layers=[1, 2]).state_dict())

    def test_bad_train_layers(self):
        for value in (-1, 3, 1.5, "2"):
            with pytest.raises(
                ConfigurationError, match=r"train_layers \(XNER_TRAIN_LAYERS\) must be an integer in 0\.\.2"
            ):
                embedder(train_layers=value)
        with pytest.raises(ConfigurationError, match="set one of them"):
            embedder(train_layers=1, train_parameters=True)
        with pytest.raises(ConfigurationError, match="mixes none of them"):
            embedder(layers=[0, 1], cache_layers=[0, 1, 2], train_layers=1)

    def test_precompute_fills_both_caches_once_per_distinct_sentence(self):
        partial = embedder(layers=[1, 2], train_layers=1)
        twice = SENTENCES + SENTENCES[:2]
        assert partial.precompute(**batch(twice)) == len(SENTENCES)
        assert partial.precompute(**batch(twice)) == 0
        assert len(partial.cache.memory) == len(partial.piece_cache.memory) == len(SENTENCES)

    def test_missing_or_corrupted_cache_entries_are_recomputed(self):
        cache_dir = self.TEST_DIR / "features"
        first = embedder(layers=[1, 2], train_layers=1, cache_dir=str(cache_dir))
        with torch.no_grad():
            expected = first(**self.inputs)
        paths = sorted(cache_dir.glob("*.sqlite"))
        assert len(paths) == 2  # the frozen layers' word features and the boundary states
        # One entry gone from each file, another cut short: both are recomputed, never zeros.
        for path in paths:
            with sqlite3.connect(path) as db:
                keys = [row[0] for row in db.execute("SELECT key FROM features ORDER BY key")]
                db.execute("DELETE FROM features WHERE key = ?", (keys[0],))
                db.execute("UPDATE features SET value = substr(value, 1, 10) WHERE key = ?", (keys[1],))
        second = embedder(layers=[1, 2], train_layers=1, cache_dir=str(cache_dir))
        with torch.no_grad():
            again = second(**self.inputs)
        assert torch.equal(again, expected)
        assert second.cache.misses == 2 and second.piece_cache.misses == 2


def test_fine_tuned_archive_reloads_and_tags_identically(tmp_path, monkeypatch):
    monkeypatch.setenv("XNER_TRAIN_LAYERS", "1")
    monkeypatch.setenv("XNER_NUM_EPOCHS", "2")
    monkeypatch.setenv("XNER_FEATURE_CACHE", str(tmp_path / "features"))
    # Big enough a step that the trained layer visibly moves in two tiny epochs.
    monkeypatch.setenv("XNER_ENCODER_LR", "0.01")
    model = train_model_from_file(str(CONFIG), str(tmp_path / "run"))
    archive_file = tmp_path / "run" / "model.tar.gz"
    with tarfile.open(archive_file) as archive:
        archive.extract("weights.th", tmp_path)
    weights = torch.load(tmp_path / "weights.th", map_location="cpu")
    prefix = "text_field_embedder.token_embedder_encoder.transformer."
    stored = [k[len(prefix) :] for k in weights if k.startswith(prefix)]
    # Only the trained top layer travels in the archive; the rest comes from the encoder store.
    assert stored and all(k.startswith("encoder.layer.1.") for k in stored)
    original = torch.load(f"{TINY}/pytorch_model.bin", map_location="cpu")
    changed = [k for k in stored if not torch.equal(weights[prefix + k], original[k])]
    assert changed
    lower = "encoder.layer.0.attention.self.query.weight"
    reloaded = load_archive(str(archive_file)).model
    embedder_module = reloaded.text_field_embedder.token_embedder_encoder
    assert torch.equal(embedder_module.transformer.state_dict()[lower], original[lower])
    key = "encoder.layer.1.output.dense.weight"
    assert torch.equal(embedder_module.transformer.state_dict()[key], weights[prefix + key])
    sentences = [{"sentence": s} for s in SENTENCES]
    from_archive = Predictor.from_path(str(archive_file))
    # The trained model as it left training and the reloaded archive tag alike.
    in_memory = XnerTaggerPredictor(model.eval(), from_archive._dataset_reader)
    assert json.dumps(in_memory.predict_batch_json(sentences)) == json.dumps(
        from_archive.predict_batch_json(sentences)
    )
