"""
`allennlp xner-cache`: fills the on-disk feature cache of `training_configs/encoder/fixture.jsonnet`
(tiny encoder) for its train, dev and test files, so that the embedder a training run builds
computes nothing afterwards; what is cached already is not computed again; user errors are one
line.
"""

import json
import re
import shutil

import pytest
from allennlp.common import Params
from allennlp.data import Batch, DatasetReader, Instance, Vocabulary
from allennlp.modules.token_embedders import TokenEmbedder

from tests.commands.test_cli import allennlp_main, one_line_error
from tests.conftest import FIXTURES, ROOT
from tests.xner_model_fixture import short_copy
from xner_allennlp.commands.cache import cached_embedders, data_files, encoder_field

CONFIG = str(ROOT / "training_configs" / "encoder" / "fixture.jsonnet")
SUMMARY = re.compile(r"^(\w+) (\S+) \(encoder\): (\d+) sentences, (\d+) computed", re.M)


TRAIN_SENTENCES = 100


@pytest.fixture
def caches(tmp_path, monkeypatch):
    """Private caches, and the fixture config on the first 100 sentences of en.train (with
    their translations) to keep the tests fast."""
    monkeypatch.setenv("XNER_FEATURE_CACHE", str(tmp_path / "features"))
    monkeypatch.setenv("XNER_ENCODER_STORE", str(tmp_path / "store"))
    short_copy(FIXTURES / "conll" / "en.train", TRAIN_SENTENCES, tmp_path / "en.train")
    return tmp_path


def config_args(caches, **overrides):
    overrides = dict({"train_data_path": str(caches / "en.train")}, **overrides)
    return [CONFIG, "-o", json.dumps(overrides)]


def summaries(output):
    return {
        key: (path, int(sentences), int(computed))
        for key, path, sentences, computed in SUMMARY.findall(output)
    }


def training_embedder(config, serialization_dir):
    """The embedder as `allennlp train` builds it (with its serialization directory)."""
    ((name, params),) = cached_embedders(config)
    params = dict(params, serialization_dir=str(serialization_dir))
    return name, TokenEmbedder.from_params(Params(params)).eval()


def batches(config, name, size=64, keys=None):
    """The encoder's tensors of the config's data files (those of `keys`), as training batches them."""
    for key, path, reader_params in data_files(config):
        if keys is not None and key not in keys:
            continue
        reader = DatasetReader.from_params(Params(json.loads(json.dumps(reader_params))))
        instances = [Instance({"tokens": encoder_field(i, name)}) for i in reader.read(path)]
        for first in range(0, len(instances), size):
            batch = Batch(instances[first : first + size])
            batch.index_instances(Vocabulary())
            yield batch.as_tensor_dict()["tokens"][name]


def test_xner_cache_fills_every_file_so_that_training_computes_nothing(caches, capsys, monkeypatch):
    config_file, _, overrides = config_args(caches)
    config = Params.from_file(config_file, overrides).as_dict(quiet=True)
    # A training run that already cached the first dev sentences.
    name, early = training_embedder(config, caches / "early-run")
    dev = next(batches(config, name, size=5, keys=["validation_data_path"]))
    early(**dev)
    assert early.cache.misses == 5
    allennlp_main(monkeypatch, "xner-cache", *config_args(caches))
    first = summaries(capsys.readouterr().out)
    assert sorted(first) == ["test_data_path", "train_data_path", "validation_data_path"]
    assert first["validation_data_path"][1:] == (80, 75)
    # en.train is English + its word-by-word translation (a sentence that repeats is computed once).
    train = sum(len(t["token_ids"]) for t in batches(config, name, keys=["train_data_path"]))
    assert first["train_data_path"][1] == train and train > TRAIN_SENTENCES
    assert train / 2 < first["train_data_path"][2] <= train
    # Every file, again: nothing computed.
    allennlp_main(monkeypatch, "xner-cache", *config_args(caches))
    assert all(computed == 0 for _, _, computed in summaries(capsys.readouterr().out).values())
    # The embedder of a new training run finds every sentence of every file in the cache.
    _, trained = training_embedder(config, caches / "run")
    assert trained.cache.path == early.cache.path

    def encode(*args, **kwargs):
        raise AssertionError("a sentence was computed")

    monkeypatch.setattr(trained, "_encode", encode)
    count = 0
    for tensors in batches(config, name):
        trained(**tensors)
        count += len(tensors["token_ids"])
    assert count == train + 160 and trained.cache.misses == 0 and trained.cache.hits == count


def test_overrides_and_precision_reach_the_cache(caches, capsys, monkeypatch):
    monkeypatch.setenv("XNER_ENCODER_PRECISION", "int8")
    overrides = config_args(caches, test_data_path=None, evaluate_on_test=False)
    allennlp_main(monkeypatch, "xner-cache", *overrides, "--batch-size", "32")
    output = capsys.readouterr().out
    assert sorted(summaries(output)) == ["train_data_path", "validation_data_path"]
    assert len(list((caches / "features").glob("*.sqlite"))) == 1
    monkeypatch.setenv("XNER_ENCODER_PRECISION", "float32")
    allennlp_main(monkeypatch, "xner-cache", *overrides)
    # Another precision: its own cache, every sentence computed.
    assert summaries(capsys.readouterr().out)["validation_data_path"][2] == 80
    assert len(list((caches / "features").glob("*.sqlite"))) == 2


def test_user_errors_are_one_line(caches, capsys, monkeypatch):
    static = str(ROOT / "training_configs" / "fixture.jsonnet")
    assert "no cached_transformer_mismatched token embedder" in one_line_error(
        monkeypatch, capsys, "xner-cache", static
    )
    in_memory = json.dumps({"model.text_field_embedder.token_embedders.encoder.cache_dir": None})
    assert "'encoder': cache_dir is None" in one_line_error(
        monkeypatch, capsys, "xner-cache", CONFIG, "-o", in_memory
    )
    assert "config not found" in one_line_error(
        monkeypatch, capsys, "xner-cache", str(caches / "none.jsonnet")
    )
    monkeypatch.setenv("XNER_ENCODER_PRECISION", "int4")
    assert "precision 'int4' is not one of float32, int8" in one_line_error(
        monkeypatch, capsys, "xner-cache", CONFIG
    )
    monkeypatch.setenv("XNER_ENCODER_PRECISION", "float32")
    # A bad line in a data file: its file and line, and nothing half-reported.
    broken = caches / "es.dev"
    shutil.copy(FIXTURES / "conll" / "es.dev", broken)
    lines = broken.read_text(encoding="latin-1").splitlines()
    lines[6] = lines[6].split()[0]  # no tag column
    broken.write_text("\n".join(lines) + "\n", encoding="latin-1")
    line = one_line_error(
        monkeypatch,
        capsys,
        "xner-cache",
        CONFIG,
        "-o",
        json.dumps({"validation_data_path": str(broken), "train_data_path": str(caches / "en.train")}),
    )
    assert f"{broken}:7:" in line and "has no tag column" in line
    assert one_line_error(monkeypatch, capsys, "xner-cache", CONFIG, "--batch-size", "0").startswith(
        "error: argument --batch-size: expected an integer >= 1"
    )
