"""
The shipped model (models/, its card models/README.md): what the card says about it holds.
Its F1 is recomputed on the fixtures' dev files only, a smoke check: no real data in tests.
"""

import json
import re
import tarfile

import pytest

from tests.conftest import ROOT
from xner_allennlp.pretrained.resolve import file_sha256, stored_weights, weights_file

NAME = "encoder_any_target"
ARCHIVE = ROOT / "models" / f"{NAME}.tar.gz"
CARD = ROOT / "models" / f"{NAME}.json"
README = ROOT / "models" / "README.md"
ENCODER_DIR = ROOT / "encoders" / "multilingual-e5-small"
MAX_BYTES = 15 * 1024 * 1024


@pytest.fixture(scope="module")
def card():
    return json.loads(CARD.read_text(encoding="utf-8"))


def _encoder_available(sha):
    own = weights_file(str(ENCODER_DIR))
    return (own is not None and file_sha256(own) == sha) or stored_weights(sha) is not None


def test_archive_fits_the_repository_and_matches_its_card(card):
    assert ARCHIVE.stat().st_size <= MAX_BYTES
    assert card["archive_bytes"] == ARCHIVE.stat().st_size
    assert card["archive_sha256"] == file_sha256(str(ARCHIVE))
    with tarfile.open(ARCHIVE) as archive:
        names = archive.getnames()
        record = json.load(archive.extractfile("encoder/weights.json"))
    # The encoder's weights stay out of the archive; it records which ones it needs.
    assert not any(name.endswith("pytorch_model.bin") for name in names)
    assert record["sha256"] == card["encoder"]["sha256"]


def test_readme_states_the_cards_numbers(card):
    readme = README.read_text(encoding="utf-8")
    assert card["encoder"]["sha256"] in readme
    assert f"{card['archive_bytes'] / 1024**2:.1f} MB" in readme
    for language, scores in card["dev"].items():
        row = re.search(rf"^\| {language} \|.*$", readme, re.MULTILINE)
        assert row, language
        assert f"{100 * scores['f1']:.2f}" in row.group(0), language


def test_f1_on_the_fixtures_is_the_cards(card):
    if not _encoder_available(card["encoder"]["sha256"]):
        pytest.skip("the shipped model needs the encoder weights: run `make encoder`")
    from scripts.ship_model import FIXTURE_ENCODINGS, score

    for language, expected in card["fixtures"].items():
        fixture = ROOT / "fixtures" / "conll" / f"{language}.dev"
        result = score(str(ARCHIVE), str(fixture), language, FIXTURE_ENCODINGS[language])
        assert result["sentences"] == expected["sentences"], language
        assert result["f1"] == pytest.approx(expected["f1"], abs=1e-4), language


def test_tagger_api_detects_the_language_and_finds_a_name(card):
    if not _encoder_available(card["encoder"]["sha256"]):
        pytest.skip("the shipped model needs the encoder weights: run `make encoder`")
    from xner_allennlp import Tagger

    tagger = Tagger.from_archive(str(ARCHIVE))
    text = "Angela Merkel traf in Frankfurt den Vorstand der Deutschen Bank."
    result = tagger(text)
    assert result["language"] == "de"
    for entity in result["entities"]:
        assert text[entity["start"] : entity["end"]] == entity["text"]
    assert {"text": "Angela Merkel", "type": "PER", "start": 0, "end": 13} in result["entities"]
