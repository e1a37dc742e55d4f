"""
The configs' `speed` field (XNER_SPEED): `false` builds allennlp's stock modules, `true` (the
default) their drop-in versions from xner_allennlp/speed/, with the same parameters and the
same outputs.
"""

import copy
import subprocess
import sys

import pytest
import torch
from allennlp.common import Params
from allennlp.data import Batch, DatasetReader, Vocabulary
from allennlp.models import Model
from allennlp.modules import ConditionalRandomField
from allennlp.modules.seq2seq_encoders import LstmSeq2SeqEncoder
from allennlp.modules.token_embedders import TokenCharactersEncoder

from tests.conftest import FIXTURES, ROOT
from xner_allennlp.models.crf_tagger import XnerCrfTagger
from xner_allennlp.speed import (
    BatchedConditionalRandomField,
    PackedLstmSeq2SeqEncoder,
    UniqueCharacterEncoder,
)
from xner_allennlp.training.span_f1 import DistributedSpanBasedF1Measure

CONFIGS = {
    "static": ROOT / "training_configs" / "fixture.jsonnet",
    "encoder": ROOT / "training_configs" / "encoder" / "fixture.jsonnet",
}
STOCK = {"encoder": "lstm", "characters": "character_encoding", "batched_crf": False}
FAST = {"encoder": "packed_lstm", "characters": "unique_character_encoding", "batched_crf": True}


def _config(monkeypatch, speed, name="static"):
    # None: unset, which the package defines as "" (the config's default).
    monkeypatch.setenv("XNER_SPEED", "" if speed is None else speed)
    return Params.from_file(str(CONFIGS[name])).as_dict(quiet=True)


def _types(config):
    model = config["model"]
    return {
        "encoder": model["encoder"]["type"],
        "characters": model["text_field_embedder"]["token_embedders"]["token_characters"]["type"],
        "batched_crf": model["batched_crf"],
    }


@pytest.mark.parametrize("speed, expected", [(None, FAST), ("true", FAST), ("false", STOCK)])
def test_the_switch_picks_the_module_types(monkeypatch, speed, expected):
    config = _config(monkeypatch, speed)
    assert _types(config) == expected
    # Everything else is the same config.
    other = _config(monkeypatch, "false" if expected is FAST else "true")
    for key in ("encoder", "batched_crf"):
        other["model"].pop(key), config["model"].pop(key)
    for embedders in (config, other):
        embedders["model"]["text_field_embedder"]["token_embedders"]["token_characters"].pop("type")
    assert config == other


def test_the_encoder_configs_follow_the_switch(monkeypatch):
    off = _config(monkeypatch, "false", "encoder")["model"]
    on = _config(monkeypatch, "true", "encoder")["model"]
    assert (off["encoder"]["type"], off["batched_crf"]) == ("lstm", False)
    assert (on["encoder"]["type"], on["batched_crf"]) == ("packed_lstm", True)


def test_anything_but_true_or_false_is_an_error(monkeypatch):
    with pytest.raises(Exception, match="XNER_SPEED must be true or false"):
        _config(monkeypatch, "fast")


@pytest.fixture(scope="module")
def data():
    """The fixture config's target reader, Spanish dev instances and their vocabulary."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("XNER_FIXTURES", str(FIXTURES))
        config = _config(monkeypatch, "true")
    reader = DatasetReader.from_params(Params(copy.deepcopy(config["validation_dataset_reader"])))
    instances = list(reader.read(config["validation_data_path"]))[:12]
    vocab = Vocabulary.from_params(Params(copy.deepcopy(config["vocabulary"])), instances=instances)
    return instances, vocab


def _model(monkeypatch, speed, vocab):
    config = _config(monkeypatch, speed)
    torch.manual_seed(5)
    return Model.from_params(Params(config["model"]), vocab=vocab)


def test_off_builds_the_stock_modules_and_on_the_speed_ones(monkeypatch, data):
    _, vocab = data
    off, on = _model(monkeypatch, "false", vocab), _model(monkeypatch, "true", vocab)
    characters = "token_embedder_token_characters"
    # Off: exactly allennlp's classes (not subclasses).
    assert type(off.encoder) is LstmSeq2SeqEncoder
    assert type(getattr(off.text_field_embedder, characters)) is TokenCharactersEncoder
    assert type(off.crf) is ConditionalRandomField
    assert isinstance(on.encoder, PackedLstmSeq2SeqEncoder)
    assert isinstance(getattr(on.text_field_embedder, characters), UniqueCharacterEncoder)
    assert isinstance(on.crf, BatchedConditionalRandomField)
    # Both: xner_crf_tagger's span metric, default predictor and target language.
    for model in (off, on):
        assert isinstance(model, XnerCrfTagger)
        assert isinstance(model._f1_metric, DistributedSpanBasedF1Measure)
        assert model.default_predictor == "xner_tagger"
        assert model.target_language == "es"


def test_off_and_on_have_the_same_parameters_and_outputs(monkeypatch, data):
    instances, vocab = data
    off, on = _model(monkeypatch, "false", vocab), _model(monkeypatch, "true", vocab)
    # Same seed, same initialisation: the same parameters under the same names.
    off_state, on_state = off.state_dict(), on.state_dict()
    assert list(off_state) == list(on_state)
    for name in off_state:
        assert torch.equal(off_state[name], on_state[name]), name
    batch = Batch(copy.deepcopy(instances))
    batch.index_instances(vocab)
    tensors = batch.as_tensor_dict()
    results = []
    for model in (off, on):
        model.eval()  # no dropout: the two compute the same function
        output = model(**tensors)
        output["loss"].backward()
        gradients = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        results.append((output, gradients))
    (off_out, off_grad), (on_out, on_grad) = results
    assert on_out["tags"] == off_out["tags"]
    torch.testing.assert_close(on_out["logits"], off_out["logits"], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(on_out["loss"], off_out["loss"], rtol=1e-5, atol=1e-4)
    assert set(on_grad) == set(off_grad)
    for name in off_grad:
        torch.testing.assert_close(on_grad[name], off_grad[name], rtol=1e-4, atol=1e-5, msg=name)


def test_importing_the_package_registers_the_speed_modules():
    # Archives store these names, not module paths; a fresh interpreter, so that no test's
    # imports do the registering.
    code = (
        "import xner_allennlp\n"
        "from allennlp.modules import Seq2SeqEncoder, TokenEmbedder\n"
        "from xner_allennlp.speed import PackedLstmSeq2SeqEncoder, UniqueCharacterEncoder\n"
        "assert Seq2SeqEncoder.by_name('packed_lstm') is PackedLstmSeq2SeqEncoder\n"
        "assert TokenEmbedder.by_name('unique_character_encoding') is UniqueCharacterEncoder\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
