"""
The encoder backend end to end on the fixtures: `training_configs/encoder/fixture.jsonnet`
trained with the tiny random encoder (a copy of fixtures/encoder/tiny-bert, so that it can be
moved away), `allennlp evaluate` on the archive, and the `xner_tagger` predictor on raw text
after the checkpoint directory is gone (config and tokenizer from the archive, weights from the
encoder store).
"""

import json
import os
import shutil
import sys
import tarfile
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
import torch
from allennlp.commands import main
from allennlp.common import Params
from allennlp.common.checks import ConfigurationError
from allennlp.data import DatasetReader
from allennlp.models.archival import load_archive
from allennlp.predictors import Predictor
from transformers import AutoTokenizer

from tests.commands.test_cli import one_line_error
from tests.conftest import FIXTURES, ROOT
from tests.predictors.test_predictor import SENTENCES, check_offsets, stub_tags
from tests.xner_model_fixture import environment, short_copy
from xner_allennlp.predictors.xner_tagger import XnerTaggerPredictor
from xner_allennlp.pretrained.resolve import file_sha256
from xner_allennlp.token_embedders.cached_transformer_mismatched import (
    CachedTransformerMismatchedEmbedder,
)

CONFIG = str(ROOT / "training_configs" / "encoder" / "fixture.jsonnet")
TRAIN_SENTENCES = 150
# Words the tiny tokenizer cuts into many pieces, in each language.
LONG_WORDS = {
    "es": "Xochimilco-Quetzalcóatl dijo que la Comisión Europea investigará a Bruselas.",
    "de": "Die Zwischenstaatlichkeitsverhandlungen in Würzburg scheiterten, sagte Größmann.",
    "bn": "চ্যাম্পিয়নশিপের ফাইনালে মুর্তজাকে দেখা গেছে।",
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from allennlp.commands.train import train_model_from_file

    work = tmp_path_factory.mktemp("encoder_pipeline")
    data = work / "fixtures"
    (data / "conll").mkdir(parents=True)
    for name in ("es.dev", "es.test"):
        shutil.copy(FIXTURES / "conll" / name, data / "conll" / name)
    short_copy(FIXTURES / "conll" / "en.train", TRAIN_SENTENCES, data / "conll" / "en.train")
    for name in ("vectors", "dictionaries"):
        os.symlink(FIXTURES / name, data / name)
    shutil.copytree(FIXTURES / "encoder" / "tiny-bert", data / "encoder" / "tiny-bert")
    env = {
        "XNER_FIXTURES": str(data),
        "XNER_FEATURE_CACHE": str(work / "features"),
        "XNER_ENCODER_STORE": str(work / "store"),
        "XNER_VECTOR_CACHE": str(work / "vector-cache"),
        "XNER_NUM_THREADS": "1",
    }
    with environment(**env):
        train_model_from_file(CONFIG, str(work / "model"), force=True)
    return SimpleNamespace(
        work=work,
        data=data,
        model=work / "model",
        archive=work / "model" / "model.tar.gz",
        checkpoint=data / "encoder" / "tiny-bert",
        env=env,
    )


@pytest.fixture(autouse=True)
def _pipeline_environment(trained, monkeypatch):
    for key, value in trained.env.items():
        monkeypatch.setenv(key, value)


@contextmanager
def checkpoint_moved(trained):
    moved = trained.work / "moved-tiny-bert"
    shutil.move(str(trained.checkpoint), str(moved))
    try:
        yield moved
    finally:
        shutil.move(str(moved), str(trained.checkpoint))


def feature_caches(trained):
    return sorted((trained.work / "features").glob("*.sqlite"))


def test_train_archive_and_evaluate(trained, tmp_path, monkeypatch):
    metrics = json.loads((trained.model / "metrics.json").read_text())
    assert "test_f1-measure-overall" in metrics and metrics["epoch"] == 2  # 3 epochs
    with tarfile.open(trained.archive) as archive:
        names = archive.getnames()
        weights = torch.load(archive.extractfile("weights.th"), map_location="cpu")
        record = json.load(archive.extractfile("encoder/weights.json"))
    # The encoder's small files travel in the archive, its frozen weights do not.
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        assert f"encoder/{name}" in names
    assert not [n for n in names if n.endswith("pytorch_model.bin")]
    assert not [k for k in weights if ".transformer." in k]
    assert any("_scalar_mix" in k for k in weights)
    # They are in the store, under their SHA-256 (a copy, so rewriting the checkpoint in place
    # leaves it intact).
    sha = file_sha256(str(trained.checkpoint / "pytorch_model.bin"))
    assert record["sha256"] == sha
    stored = trained.work / "store" / sha / "pytorch_model.bin"
    assert file_sha256(str(stored)) == sha
    assert not os.path.samefile(stored, trained.checkpoint / "pytorch_model.bin")
    # Training filled one feature cache ...
    assert len(feature_caches(trained)) == 1

    output = tmp_path / "metrics.json"
    monkeypatch.setattr(
        sys,
        "argv",
        [
            "allennlp",
            "evaluate",
            str(trained.archive),
            str(trained.data / "conll" / "es.test"),
            "--output-file",
            str(output),
            "--cuda-device",
            "-1",
        ],
    )
    main()
    evaluated = json.loads(output.read_text())
    assert evaluated["f1-measure-overall"] == pytest.approx(metrics["test_f1-measure-overall"], abs=1e-6)
    # ... which evaluating the archive reads (same encoder, same fingerprint).
    assert len(feature_caches(trained)) == 1


def _predict_everything(predictor, check_words=True):
    """(language, sentence) -> output, with the real model; and the same with stub tags (so
    that there are entities), the model still run underneath."""
    real, stubbed = {}, {}
    for language in ("es", "de", "bn"):
        tagger = XnerTaggerPredictor(predictor._model, predictor._dataset_reader, language=language)
        for sentence in (SENTENCES[language], LONG_WORDS[language]):
            real[language, sentence] = tagger.predict_json(tagger.load_line(sentence + "\n"))
        model_run = tagger.predict_batch_instance

        def with_stub_tags(instances):
            outputs = model_run(instances)
            for instance, output in zip(instances, outputs):
                words = instance["metadata"]["words"]
                assert len(output["tags"]) == len(words)  # one tag per word, whatever its pieces
                output["tags"] = stub_tags(words)
            return outputs

        tagger.predict_batch_instance = with_stub_tags
        for sentence in (SENTENCES[language], LONG_WORDS[language]):
            stubbed[language, sentence] = tagger.predict(sentence)
    return real, stubbed


def test_predictor_after_the_checkpoint_is_moved(trained):
    tokenizer = AutoTokenizer.from_pretrained(str(trained.checkpoint))
    assert len(tokenizer.tokenize("Zwischenstaatlichkeitsverhandlungen")) >= 10
    assert len(tokenizer.tokenize("Xochimilco-Quetzalcóatl")) >= 10
    before, _ = _predict_everything(Predictor.from_path(str(trained.archive), "xner_tagger"))
    with checkpoint_moved(trained):
        predictor = Predictor.from_path(str(trained.archive), "xner_tagger")
        embedder = predictor._model.text_field_embedder.token_embedder_encoder
        assert isinstance(embedder, CachedTransformerMismatchedEmbedder)
        after, stubbed = _predict_everything(predictor)
        # Weights from the store: the same model, the same tags.
        assert after == before
        for (language, sentence), output in after.items():
            assert output["tokens"] and len(output["tags"]) == len(output["tokens"])
            assert all(tag[0] in "BILUO" for tag in output["tags"])
            check_offsets(sentence, output)
        for (language, sentence), output in stubbed.items():
            assert output["entities"], (language, sentence)
            check_offsets(sentence, output)
        texts = {e["text"] for output in stubbed.values() for e in output["entities"]}
        for word in ("Zwischenstaatlichkeitsverhandlungen", "Quetzalcóatl", "চ্যাম্পিয়নশিপের", "Größmann"):
            assert word in " ".join(texts), word
        # The features of the training run's cache are the ones read.
        assert embedder.cache.path == str(feature_caches(trained)[0])
    assert len(feature_caches(trained)) == 1


def test_moved_checkpoint_and_empty_store_is_a_clear_error(trained, monkeypatch):
    empty = trained.work / "empty-store"
    monkeypatch.setenv("XNER_ENCODER_STORE", str(empty))
    with checkpoint_moved(trained):
        with pytest.raises(ConfigurationError) as error:
            load_archive(str(trained.archive))
    message = str(error.value)
    sha = file_sha256(str(trained.checkpoint / "pytorch_model.bin"))
    assert "encoder weights" in message and sha[:12] in message
    assert str(empty) in message and "XNER_ENCODER_STORE" in message
    assert "make encoder" in message and "xner-encoder" in message


def test_serving_without_the_encoder_weights_is_one_line(trained, monkeypatch, capsys):
    monkeypatch.setenv("XNER_ENCODER_STORE", str(trained.work / "empty-store-serve"))
    with checkpoint_moved(trained):
        line = one_line_error(monkeypatch, capsys, "xner-serve", trained.archive, "--port", "0")
    assert line.startswith("error: the encoder weights this model was trained with"), line
    assert "XNER_ENCODER_STORE" in line


def test_encoder_directory_without_config(trained, monkeypatch):
    no_config = trained.work / "not-a-checkpoint"
    no_config.mkdir(exist_ok=True)
    (no_config / "pytorch_model.bin").write_bytes(b"")
    monkeypatch.setenv("XNER_ENCODER", str(no_config))
    config = Params.from_file(CONFIG).as_dict(quiet=True)
    assert config["model"]["text_field_embedder"]["token_embedders"]["encoder"]["model_name"] == str(
        no_config
    )
    pattern = rf"encoder directory {no_config} has no config\.json"
    with pytest.raises(ConfigurationError, match=pattern):
        DatasetReader.from_params(Params(config["dataset_reader"]))
    with pytest.raises(ConfigurationError, match=pattern):
        CachedTransformerMismatchedEmbedder(str(no_config))
    missing = trained.work / "no-such-encoder"
    with pytest.raises(ConfigurationError, match=rf"encoder directory {missing} does not exist"):
        CachedTransformerMismatchedEmbedder(str(missing))


@contextmanager
def checkpoint_weights_replaced(trained):
    """The checkpoint directory rebuilt with other weights (same architecture)."""
    weights = trained.checkpoint / "pytorch_model.bin"
    original = trained.work / "original-weights.bin"
    shutil.copy(str(weights), str(original))
    state = torch.load(str(weights), map_location="cpu")
    torch.save({k: v + 1.0 if v.is_floating_point() else v for k, v in state.items()}, str(weights))
    try:
        yield
    finally:
        shutil.move(str(original), str(weights))


def test_changed_checkpoint_weights_use_the_stored_original(trained, monkeypatch):
    before, _ = _predict_everything(Predictor.from_path(str(trained.archive), "xner_tagger"))
    with checkpoint_weights_replaced(trained):
        after, _ = _predict_everything(Predictor.from_path(str(trained.archive), "xner_tagger"))
        assert after == before
        monkeypatch.setenv("XNER_ENCODER_STORE", str(trained.work / "empty-store-2"))
        with pytest.raises(ConfigurationError, match="not the encoder this model was trained with"):
            load_archive(str(trained.archive))
