"""
`allennlp xner-self-train` (pseudo-labels from CRF marginals) and a training run on English +
pseudo-labelled target text through the `multi_source` reader. The CRF's marginals themselves:
tests/speed/test_batched_crf.py.
"""

import argparse
import json
import os

import pytest
from allennlp.commands.train import train_model_from_file
from allennlp.common.checks import ConfigurationError

from tests.xner_model_fixture import FIXTURES, ROOT, trained_archive
from xner_allennlp.commands.self_train import self_train
from xner_allennlp.dataset_readers.xner_conll import XnerConllReader
from xner_allennlp.training.self_training import bioul_to_iob2


def test_bioul_to_iob2():
    assert bioul_to_iob2(["U-PER", "O", "B-ORG", "I-ORG", "L-ORG"]) == [
        "B-PER",
        "O",
        "B-ORG",
        "I-ORG",
        "I-ORG",
    ]


def _args(archive, input_file, output_file, **kwargs):
    values = dict(
        archive_file=str(archive),
        input_file=str(input_file),
        output_file=str(output_file),
        input_format="text",
        encoding="utf-8",
        threshold=0.5,
        max_sentences=None,
        batch_size=8,
        cuda_device=-1,
    )
    values.update(kwargs)
    return argparse.Namespace(**values)


@pytest.fixture(scope="module")
def archive():
    return trained_archive()


def _sentences(path, encoding="utf-8"):
    return [(w, t) for _, w, t in XnerConllReader(encoding=encoding).read_sentences(str(path))]


def test_pseudo_labels_are_valid_conll_above_the_threshold(archive, tmp_path):
    # The words of the Spanish dev file only (its tags are never read).
    stats = self_train(
        _args(
            archive,
            FIXTURES / "conll" / "es.dev",
            tmp_path / "pseudo.conll",
            input_format="conll",
            threshold=0.33,
        )
    )
    pseudo = _sentences(tmp_path / "pseudo.conll")
    dev = _sentences(FIXTURES / "conll" / "es.dev", "latin-1")
    assert stats["read"] == len(dev)
    assert 0 < stats["kept"] == len(pseudo) <= stats["read"]
    gold_words = {tuple(w) for w, _ in dev}
    for words, tags in pseudo:
        assert tuple(words) in gold_words
        assert all(t == "O" or t[:2] in ("B-", "I-") for t in tags)
    # Every kept sentence passes the threshold again when re-scored; a stricter threshold keeps
    # a subset.
    strict = self_train(
        _args(
            archive,
            FIXTURES / "conll" / "es.dev",
            tmp_path / "strict.conll",
            input_format="conll",
            threshold=0.34,
        )
    )
    assert strict["kept"] <= stats["kept"]
    kept = {tuple(w) for w, _ in pseudo}
    assert {tuple(w) for w, _ in _sentences(tmp_path / "strict.conll")} <= kept


def test_text_input_and_bad_input(archive, tmp_path):
    text = tmp_path / "raw.txt"
    text.write_text(
        "\ufeffInés visitó Bruselas .\n\nLa Comisión Europea se reunió en Madrid .\n", encoding="utf-8"
    )
    stats = self_train(_args(archive, text, tmp_path / "out.conll", threshold=0.01))
    assert stats["read"] == 2 and stats["kept"] == 2
    assert _sentences(tmp_path / "out.conll")[0][0][0] == "Inés"
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(ValueError, match="empty.txt.*no sentences"):
        self_train(_args(archive, empty, tmp_path / "x.conll"))
    assert not (tmp_path / "x.conll").exists()
    binary = tmp_path / "model.bin"
    binary.write_bytes(b"\x00\x01\x02garbage\x00\n")
    with pytest.raises(ValueError, match="model.bin:1: NUL bytes"):
        self_train(_args(archive, binary, tmp_path / "y.conll"))
    with pytest.raises(ConfigurationError, match="threshold"):
        self_train(_args(archive, text, tmp_path / "z.conll", threshold=0.0))


def test_training_on_english_and_pseudo_labels(archive, tmp_path):
    stats = self_train(
        _args(
            archive,
            FIXTURES / "conll" / "es.dev",
            tmp_path / "pseudo.conll",
            input_format="conll",
            threshold=0.33,
        )
    )
    # Some sentences, or the run would train on English alone (an empty file is an error now).
    assert stats["kept"] > 0
    config = tmp_path / "self_train.jsonnet"
    # The fixture experiment with its training reader turned into two sources.
    config.write_text(
        "local base = import '%s/training_configs/fixture.jsonnet';\n"
        "base + { dataset_reader: { type: 'multi_source', sources: {"
        " en: { path: base.train_data_path, reader: base.dataset_reader },"
        # xner-self-train writes UTF-8 whatever the input's encoding (the fixture dev is latin-1).
        " pseudo: { path: '%s', reader: base.validation_dataset_reader + { encoding: 'utf-8' } } } },"
        " train_data_path: 'en,pseudo', evaluate_on_test: false,"
        " trainer+: { num_epochs: 1 } }\n" % (ROOT, tmp_path / "pseudo.conll"),
        encoding="utf-8",
    )
    os.environ.setdefault("XNER_FIXTURES", str(FIXTURES))
    train_model_from_file(str(config), str(tmp_path / "model"), force=True)
    metrics = json.loads((tmp_path / "model" / "metrics.json").read_text())
    assert "validation_f1-measure-overall" in metrics
