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
    result = subprocess.run(
        [ALLENNLP, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
    )
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
    permuted_copy(FIXTURES / "vectors" / "wiki.multi.es.vec", permuted_fixtures / "vectors" / "wiki.multi.es.vec")
    permuted = train_and_evaluate(tmp_path, "permuted", permuted_fixtures)
    print(f"zero-shot es test F1: aligned {aligned['f1-measure-overall']:.3f}, "
          f"permuted {permuted['f1-measure-overall']:.3f}")
    assert aligned["f1-measure-overall"] > permuted["f1-measure-overall"] + 0.15
