"""The Python API (`xner_allennlp.Tagger`) against `allennlp predict` on the fixture model."""

import io
import json
import sys
import tarfile

import pytest
from allennlp.commands import main
from allennlp.common.checks import ConfigurationError

from tests.xner_model_fixture import trained_archive
from xner_allennlp import Tagger

SENTENCES = [
    "El presidente de Unión Europea,  Inés Gutiérrez, dimitirá en marzo (dijo Muñoz).",
    "Joaquín Muñoz visitó Bruselas con la delegación de Países Bajos.",
    "Die Regierung von Würzburg sagte, sie werde Truppen nach Passau schicken.",
]
TOKENS = ["Lucía", "Domínguez", "llegó", "a", "Madrid", "."]


@pytest.fixture(scope="module")
def archive():
    return trained_archive()


@pytest.fixture(scope="module")
def tagger(archive):
    return Tagger.from_archive(str(archive))


def _cli(archive, tmp_path, monkeypatch, lines, *extra):
    source = tmp_path / "input.txt"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    output = tmp_path / "output.jsonl"
    monkeypatch.setattr(
        sys,
        "argv",
        ["allennlp", "predict", str(archive), str(source), "--output-file", str(output), "--silent", *extra],
    )
    main()
    return [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]


def test_tagger_gives_what_allennlp_predict_writes(archive, tagger, tmp_path, monkeypatch):
    lines = SENTENCES + [json.dumps({"tokens": TOKENS}, ensure_ascii=False)]
    expected = _cli(archive, tmp_path, monkeypatch, lines, "--batch-size", "2")
    assert tagger.language == "es"  # from the archive, as the CLI takes it
    assert [tagger(text) for text in SENTENCES] + [tagger(TOKENS)] == expected
    assert tagger.tag_batch(SENTENCES + [TOKENS]) == expected
    first = expected[0]
    assert set(first) == {"tokens", "tags", "entities"} and len(first["tags"]) == len(first["tokens"])
    for entity in (e for result in expected for e in result["entities"]):
        assert set(entity) == {"text", "type", "start", "end"}
    assert tagger.tag_batch([]) == []
    assert tagger("") == {"tokens": [], "tags": [], "entities": []}


def test_language_override(archive, tmp_path, monkeypatch):
    german = Tagger.from_archive(str(archive), language="de", batch_size=1)
    assert german.language == "de"
    expected = _cli(archive, tmp_path, monkeypatch, SENTENCES, "--predictor-args", '{"language": "de"}')
    assert german.tag_batch(SENTENCES) == expected
    with pytest.raises(ConfigurationError, match="'fr' is not supported"):
        Tagger.from_archive(str(archive), language="fr")


def test_bad_archives_name_the_file(archive, tmp_path):
    missing = tmp_path / "missing.tar.gz"
    with pytest.raises(FileNotFoundError, match=str(missing)):
        Tagger.from_archive(str(missing))
    text = tmp_path / "model.tar.gz"
    text.write_text("not an archive\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match=f"{text}: not a readable model archive"):
        Tagger.from_archive(str(text))
    # A valid archive of another model: the same weights as the stock crf_tagger.
    stock = tmp_path / "stock.tar.gz"
    with tarfile.open(archive) as source, tarfile.open(stock, "w:gz") as target:
        for member in source.getmembers():
            content = source.extractfile(member).read() if member.isfile() else None
            if member.name == "config.json":
                config = json.loads(content)
                config["model"]["type"] = "crf_tagger"
                # Parameters only xner_crf_tagger has: a stock archive never carries them.
                for key in ("batched_crf", "target_language"):
                    config["model"].pop(key, None)
                content = json.dumps(config).encode("utf-8")
                member.size = len(content)
            target.addfile(member, io.BytesIO(content) if content is not None else None)
    with pytest.raises(ConfigurationError, match=f"{stock}: not an xner model.*CrfTagger"):
        Tagger.from_archive(str(stock))


def test_archive_predicts_without_the_training_translator_files(archive, tagger, tmp_path):
    # The training reader's dictionary and vector tables are for training only: an archive
    # copied to a machine without them still loads, tags, and tags the same.
    moved = tmp_path / "moved.tar.gz"
    with tarfile.open(archive) as source, tarfile.open(moved, "w:gz") as target:
        for member in source.getmembers():
            content = source.extractfile(member).read() if member.isfile() else None
            if member.name == "config.json":
                config = json.loads(content)
                translator = config["dataset_reader"]["translator"]
                for key in ("dictionary", "source_vectors", "target_vectors"):
                    translator[key] = str(tmp_path / "gone" / f"{key}.txt")
                content = json.dumps(config).encode("utf-8")
                member.size = len(content)
            target.addfile(member, io.BytesIO(content) if content is not None else None)
    assert Tagger.from_archive(str(moved)).tag_batch(SENTENCES) == tagger.tag_batch(SENTENCES)
