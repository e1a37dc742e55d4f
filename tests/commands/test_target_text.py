"""
`allennlp xner-target-text` as a user runs it, on a cache laid out here (a stamp and its files,
so nothing is fetched) or a text file of one's own.
"""

import json
import sys

import pytest

from tests.conftest import FIXTURES
from xner_allennlp.target_text.sources import STAMP

GERMAN = "Der Hund ist nicht in der Stadt, aber er wird sich mit uns auf den Weg machen.\n"


def run(monkeypatch, *args):
    from allennlp.commands import main

    monkeypatch.setattr(sys, "argv", ["allennlp", "xner-target-text", *map(str, args)])
    main()


def one_line_error(monkeypatch, capsys, *args):
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        run(monkeypatch, *args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    return err.strip()


def fake_cache(root, language, name, text):
    directory = root / language / "raw" / "dataset-build"
    directory.mkdir(parents=True)
    (directory / name).write_text(text, encoding="utf-8")
    stamp = {"package": "dataset-build", "version": "0.1.11", "licence": "BSD-2-Clause", "files": [name]}
    (directory / STAMP).write_text(json.dumps(stamp), encoding="utf-8")
    return directory / name


def test_a_cache_of_another_language_is_one_line_naming_the_file(tmp_path, monkeypatch, capsys):
    cached = fake_cache(tmp_path, "bn", "ben.txt", GERMAN * 3)
    line = one_line_error(monkeypatch, capsys, "--language", "bn", "--cache-dir", tmp_path, "--dev", "none")
    assert line == (
        f"error: {cached}: 0% of its letters are Bengali script; expected Bengali (bn) text, at least "
        "50% Bengali letters; run with --refresh to fetch the sources again"
    )
    assert not (tmp_path / "bn" / "sentences.txt").exists()


def test_an_empty_cache_is_one_line_naming_the_file(tmp_path, monkeypatch, capsys):
    cached = fake_cache(tmp_path, "bn", "ben.txt", "")
    line = one_line_error(monkeypatch, capsys, "--language", "bn", "--cache-dir", tmp_path, "--dev", "none")
    assert line.startswith(f"error: {cached}: no text (empty or blank); expected Bengali (bn) text from ")


def test_bad_options(tmp_path, monkeypatch, capsys):
    line = one_line_error(
        monkeypatch, capsys, "--language", "de", "--text-file", tmp_path / "none.txt", "--dev", "none"
    )
    assert line == f"error: --text-file not found: {tmp_path / 'none.txt'}"
    line = one_line_error(monkeypatch, capsys, "--language", "de", "--dev", tmp_path / "none.conll")
    assert line == f"error: --dev file not found: {tmp_path / 'none.conll'}"
    line = one_line_error(monkeypatch, capsys, "--language", "de", "--min-tokens", "5", "--max-tokens", "3")
    assert line == "error: --min-tokens 5 is above --max-tokens 3"


def test_text_file_with_the_dev_file(tmp_path, monkeypatch, capsys):
    text = tmp_path / "de.txt"
    text.write_text(
        "Die Preise stiegen im Mai um 95 Prozent. Der Hund bellt in Bonn.\n" + GERMAN, encoding="utf-8"
    )
    output = tmp_path / "out.txt"
    dev = FIXTURES / "conll" / "de.dev"
    run(monkeypatch, "--language", "de", "--text-file", text, "--dev", dev, "--output-file", output)
    out = capsys.readouterr().out
    assert f"dropped 1 sentences that are in the dev/test files: {dev} (80 sentences)" in out
    assert output.read_text(encoding="utf-8").splitlines() == [
        "Der Hund bellt in Bonn .",
        "Der Hund ist nicht in der Stadt , aber er wird sich mit uns auf den Weg machen .",
    ]


def test_no_dev_file_under_the_data_root_is_an_error(tmp_path, monkeypatch, capsys):
    text = tmp_path / "de.txt"
    text.write_text(GERMAN, encoding="utf-8")
    line = one_line_error(
        monkeypatch, capsys, "--language", "de", "--text-file", text, "--data-dir", tmp_path
    )
    assert line.startswith(f"error: no dev or test file of de under the data root {tmp_path} ")
    output = tmp_path / "out.txt"
    run(monkeypatch, "--language", "de", "--text-file", text, "--dev", "none", "--output-file", output)
    assert "--dev none" in capsys.readouterr().out and output.exists()
