"""
`allennlp xner-serve` as a user runs it: it serves the fixture model over loopback until
interrupted, and a port in use, a language without a tokenizer, a missing archive are one line.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.commands.test_cli import one_line_error
from tests.conftest import ROOT
from tests.service.server import post_json, request
from tests.xner_model_fixture import trained_archive

ALLENNLP = os.path.join(os.path.dirname(sys.executable), "allennlp")


@pytest.fixture(scope="module")
def archive():
    return trained_archive()


def test_serves_over_loopback_until_interrupted(archive, tmp_path):
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    with open(out, "w") as stdout, open(err, "w") as stderr:
        server = subprocess.Popen(
            [ALLENNLP, "xner-serve", str(archive), "--port", "0", "--batch-size", "2", "--language", "de"],
            cwd=ROOT,
            stdout=stdout,
            stderr=stderr,
            env=dict(os.environ, ALLENNLP_LOG_LEVEL="WARNING"),
        )
    try:
        deadline = time.monotonic() + 300
        while not out.read_text():
            assert server.poll() is None, err.read_text()[-3000:]
            assert time.monotonic() < deadline, "xner-serve did not start"
            time.sleep(0.1)
        line = out.read_text()
        prefix = f"xner-serve: {archive} (language de) at http://127.0.0.1:"
        assert line.startswith(prefix) and line.endswith("/\n"), line
        url = line[len("xner-serve: ") :].split(" at ")[1].strip().rstrip("/")
        status, _, body = request(url + "/health")
        health = json.loads(body)
        assert status == 200 and (health["language"], health["batch_size"]) == ("de", 2)
        status, answer = post_json(url + "/tag", {"texts": ["Die Regierung von Würzburg.", "Passau."]})
        assert status == 200
        tokens = [["Die", "Regierung", "von", "Würzburg", "."], ["Passau", "."]]
        assert [a["tokens"] for a in answer] == tokens
        server.send_signal(signal.SIGINT)
        assert server.wait(60) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert "Traceback" not in err.read_text()


def test_a_port_in_use_is_one_line(archive, monkeypatch, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = one_line_error(monkeypatch, capsys, "xner-serve", archive, "--port", port)
    assert line == (
        f"error: --port {port}: 127.0.0.1:{port} is already in use (another xner-serve?); "
        "choose another --port, or 0 for any free one"
    )


@pytest.mark.parametrize(
    "args, expected",
    [
        (
            ["--language", "fr"],
            "error: xner_tagger: language 'fr' is not supported; supported: bn (Bengali), de (German), ",
        ),
        (["--port", "-1"], "error: argument --port: expected an integer >= 0 (0: any free port), got -1"),
        (["--batch-size", "0"], "error: argument --batch-size: expected an integer >= 1, got 0"),
        (["--max-request-bytes", "x"], "error: argument --max-request-bytes: expected an integer, got 'x'"),
        (["--host", "10.255.255.1"], "error: --host 10.255.255.1: not an address of this machine"),
        (["--num-threads", "many"], "error: num_threads must be a positive integer or 'auto', got 'many'"),
    ],
)
def test_bad_options_are_one_line(archive, args, expected, monkeypatch, capsys):
    line = one_line_error(monkeypatch, capsys, "xner-serve", archive, "--port", "0", *args)
    assert line.startswith(expected), line


def test_a_missing_archive_is_one_line(tmp_path, monkeypatch, capsys):
    line = one_line_error(monkeypatch, capsys, "xner-serve", tmp_path / "none.tar.gz", "--port", "0")
    assert line == f"error: model archive not found: {tmp_path / 'none.tar.gz'}"
