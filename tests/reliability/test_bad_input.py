"""
Bad input, one test per rule (docs/usage.md, "Input rules"; README, "Errors"): each ends in one
line naming the file and line (or the option), exit status 2 for the commands, no traceback
unless XNER_DEBUG=1, and no output file, not even a partial one. The test names say the rule.
"""

import io
import json
import re
import sys

import pytest
from allennlp.commands import main

from tests.conftest import FIXTURES
from tests.xner_model_fixture import trained_archive
from xner_allennlp.common.errors import LINE_SEPARATORS, InputFormatError
from xner_allennlp.dataset_readers.xner_conll import XnerConllReader
from xner_allennlp.predictors.xner_tagger import XnerTaggerPredictor

SEPARATORS = sorted(LINE_SEPARATORS)  # U+000B, U+000C, U+0085, U+2028, U+2029
SEPARATOR_IDS = [f"U+{ord(c):04X}" for c in SEPARATORS]
_PROGRESS = re.compile(r"[\w ]+: +(\d+it|\d+%)")


@pytest.fixture(scope="module")
def archive():
    return trained_archive()


def command(monkeypatch, capsys, *args):
    """Runs `allennlp ARGS` in this process: (exit status, stderr)."""
    monkeypatch.setattr(sys, "argv", ["allennlp", *map(str, args)])
    capsys.readouterr()
    try:
        main()
        status = 0
    except SystemExit as exit_info:
        status = exit_info.code
    err = capsys.readouterr().err
    # Progress bars (tqdm: lines redrawn after carriage returns) are no part of the message.
    lines = [line.rsplit("\r", 1)[-1] for line in err.split("\n")]
    return status, "\n".join(line for line in lines if not _PROGRESS.match(line))


def one_line_error(monkeypatch, capsys, *args) -> str:
    status, err = command(monkeypatch, capsys, *args)
    assert status == 2, err[-3000:]
    assert err.count("\n") == 1 and err.startswith("error: "), err[-3000:]
    assert "Traceback" not in err
    return err.strip()


def predict(archive, source, output, *extra):
    return ["predict", archive, source, "--output-file", output, "--silent", *extra]


# ---------------------------------------------------------------- allennlp predict: decoding


def test_predict_bytes_not_utf8_are_an_error_at_file_line(archive, tmp_path, monkeypatch, capsys):
    source = tmp_path / "latin1.txt"
    source.write_bytes("Hola Madrid .\nInés visitó Logroño .\n".encode("latin-1"))
    output = tmp_path / "out.jsonl"
    line = one_line_error(monkeypatch, capsys, *predict(archive, source, output))
    assert line.startswith(f"error: {source}:2: not UTF-8 (invalid continuation byte at byte 3); ")
    assert "--encoding latin-1" in line and "iconv" in line
    assert not output.exists()


def test_predict_encoding_option_reads_the_file_in_that_encoding(archive, tmp_path, monkeypatch, capsys):
    text = 'Inés Gutiérrez visitó Logroño .\n\n{"tokens": ["Muñoz", "habló"]}\n'
    latin1, utf8 = tmp_path / "latin1.txt", tmp_path / "utf8.txt"
    latin1.write_bytes(text.encode("latin-1"))
    utf8.write_bytes(text.encode("utf-8"))
    outputs = []
    for source, extra in ((latin1, ["--encoding", "latin-1"]), (utf8, [])):
        output = tmp_path / f"{source.stem}.jsonl"
        status, err = command(monkeypatch, capsys, *predict(archive, source, output, *extra))
        assert status == 0, err[-3000:]
        outputs.append(output.read_bytes())
    assert outputs[0] == outputs[1]
    assert [json.loads(line)["tokens"][0] for line in outputs[0].decode("utf-8").splitlines()] == [
        "Inés",
        "Muñoz",
    ]


def test_predict_unknown_encoding_names_the_option(archive, tmp_path, monkeypatch, capsys):
    source = tmp_path / "in.txt"
    source.write_text("Hola\n", encoding="utf-8")
    line = one_line_error(
        monkeypatch, capsys, *predict(archive, source, tmp_path / "o.jsonl", "--encoding", "klingon")
    )
    assert line == "error: argument --encoding: unknown encoding 'klingon'"


def test_predict_stdin_not_utf8_is_an_error_at_its_line(archive, tmp_path, monkeypatch, capsys):
    stdin = io.TextIOWrapper(io.BytesIO("Hola\n\nMu\xf1oz\n".encode("latin-1")), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", stdin)
    output = tmp_path / "out.jsonl"
    line = one_line_error(monkeypatch, capsys, *predict(archive, "-", output))
    assert line.startswith("error: <stdin>:3: not UTF-8 (invalid continuation byte at byte 3)")
    assert not output.exists()


# ---------------------------------------------------------------- allennlp predict: text and lines


def test_predict_lone_surrogate_is_an_error_at_its_line_not_a_crash_writing(
    archive, tmp_path, monkeypatch, capsys
):
    source = tmp_path / "in.jsonl"
    source.write_text(
        'Hola Madrid .\n\n{"sentence": "Mu\\ud800oz"}\n', encoding="utf-8"
    )  # a JSON escape of half a surrogate pair, on line 3
    output = tmp_path / "out.jsonl"
    output.write_text("old\n", encoding="utf-8")
    line = one_line_error(monkeypatch, capsys, *predict(archive, source, output))
    assert line.startswith(f"error: {source}:3: lone surrogate U+D800 at column 3: not a character")
    assert output.read_text(encoding="utf-8") == "old\n"  # untouched, not partly rewritten
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "vector-cache") == [
        "in.jsonl",
        "out.jsonl",
    ]


@pytest.mark.parametrize("char", SEPARATORS, ids=SEPARATOR_IDS)
def test_predict_line_separator_is_an_error_at_its_line(char, archive, tmp_path, monkeypatch, capsys):
    source = tmp_path / "in.txt"
    source.write_text(f"Hola Madrid .\nNueva{char}York\n", encoding="utf-8")
    output = tmp_path / "out.jsonl"
    line = one_line_error(monkeypatch, capsys, *predict(archive, source, output))
    assert line.startswith(f"error: {source}:2: line separator U+{ord(char):04X} at column 6")
    assert not output.exists()


def test_predict_bad_json_line_names_the_file_line_not_the_predictor_count(
    archive, tmp_path, monkeypatch, capsys
):
    source = tmp_path / "in.jsonl"
    # allennlp skips blank lines: the predictor sees this as its 2nd line, the file has it on 4.
    source.write_text('Hola .\n\n\n{"sentence": "x", "tokens": ["x"]}\n', encoding="utf-8")
    output = tmp_path / "out.jsonl"
    line = one_line_error(monkeypatch, capsys, *predict(archive, source, output))
    assert line.startswith(f'error: {source}:4: a JSON input needs exactly one of "sentence"')
    assert not output.exists()


def test_predict_error_late_in_the_file_leaves_no_partial_output(archive, tmp_path, monkeypatch, capsys):
    source = tmp_path / "in.jsonl"
    source.write_text("Hola Madrid .\n" * 5 + '{"tokens": "not a list"}\n', encoding="utf-8")
    output = tmp_path / "out.jsonl"
    line = one_line_error(monkeypatch, capsys, *predict(archive, source, output, "--batch-size", "2"))
    assert line.startswith(f"error: {source}:6: ")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "vector-cache") == ["in.jsonl"]


def test_predict_missing_input_file_is_named(archive, tmp_path, monkeypatch, capsys):
    line = one_line_error(monkeypatch, capsys, *predict(archive, tmp_path / "none.txt", tmp_path / "o.jsonl"))
    assert line == f"error: input file not found: {tmp_path / 'none.txt'}"


def test_predict_bad_predictor_args_name_the_option(archive, tmp_path, monkeypatch, capsys):
    source = tmp_path / "in.txt"
    source.write_text("Hola\n", encoding="utf-8")
    line = one_line_error(
        monkeypatch,
        capsys,
        *predict(archive, source, tmp_path / "o.jsonl", "--predictor-args", "{language: es"),
    )
    assert line.startswith("error: --predictor-args: not valid JSON")


def test_predict_traceback_only_with_xner_debug(archive, tmp_path, monkeypatch):
    source = tmp_path / "latin1.txt"
    source.write_bytes("Mu\xf1oz\n".encode("latin-1"))
    monkeypatch.setenv("XNER_DEBUG", "1")
    monkeypatch.setattr(sys, "argv", ["allennlp", *map(str, predict(archive, source, tmp_path / "o"))])
    with pytest.raises(InputFormatError, match=r"latin1.txt:1: not UTF-8"):
        main()


# ---------------------------------------------------------------- line separators in every reader


@pytest.mark.parametrize("char", SEPARATORS, ids=SEPARATOR_IDS)
def test_conll_line_separator_in_a_token_is_an_error_at_its_line(char, tmp_path):
    path = tmp_path / "es.test"
    path.write_text(f"-DOCSTART- O\n\nEl O\nNueva{char}York B-LOC\n\n", encoding="utf-8")
    with pytest.raises(InputFormatError, match=rf"es.test:4: line separator U\+{ord(char):04X} at column 6"):
        list(XnerConllReader().read(str(path)))


@pytest.mark.parametrize("char", [c for c in SEPARATORS if ord(c) <= 0xFF], ids=SEPARATOR_IDS[:3])
def test_conll_line_separator_in_a_latin1_file_is_an_error_too(char, tmp_path):
    path = tmp_path / "es.test"
    path.write_bytes(f"El O\nNueva{char}York B-LOC\n\n".encode("latin-1"))
    with pytest.raises(InputFormatError, match=rf"es.test:2: line separator U\+{ord(char):04X}"):
        list(XnerConllReader(encoding="latin-1").read(str(path)))


@pytest.mark.parametrize("char", SEPARATORS, ids=SEPARATOR_IDS)
def test_predictor_line_separator_in_text_or_json_is_an_error_at_its_line(char, archive):
    from allennlp.models.archival import load_archive

    predictor = XnerTaggerPredictor.from_archive(load_archive(archive), "xner_tagger")
    predictor.load_line("Hola Madrid .")
    with pytest.raises(InputFormatError, match=rf"input:2: line separator U\+{ord(char):04X} at column 6"):
        predictor.load_line(f"Nueva{char}York")
    escaped = json.dumps({"tokens": ["Hola", f"Nueva{char}York"]})  # \u escape in the JSON
    with pytest.raises(InputFormatError, match=rf"input:3: line separator U\+{ord(char):04X}"):
        predictor.load_line(escaped)
    with pytest.raises(InputFormatError, match=rf"line separator U\+{ord(char):04X}"):
        predictor.predict_json({"sentence": f"Nueva{char}York"})


@pytest.mark.parametrize("char", SEPARATORS, ids=SEPARATOR_IDS)
def test_self_train_line_separator_is_an_error_at_its_line(char, archive, tmp_path, monkeypatch, capsys):
    source = tmp_path / "es.txt"
    source.write_text(f"Hola Madrid .\nNueva{char}York .\n", encoding="utf-8")
    output = tmp_path / "pseudo.conll"
    line = one_line_error(monkeypatch, capsys, "xner-self-train", archive, source, "--output-file", output)
    assert line.startswith(f"error: {source}:2: line separator U+{ord(char):04X} at column 6")
    assert not output.exists()


def test_conll_and_text_without_line_separators_still_read(tmp_path):
    # The rule is for the five characters only: other Unicode spaces stay inside the token.
    path = tmp_path / "es.test"
    path.write_text("Logroño\u00a0Capital B-LOC\nx\u2009y O\n\n", encoding="utf-8")
    [instance] = list(XnerConllReader().read(str(path)))
    assert instance["metadata"]["words"] == ["Logroño\u00a0Capital", "x\u2009y"]
    assert list(XnerConllReader(encoding="latin-1").read(str(FIXTURES / "conll" / "es.test")))
