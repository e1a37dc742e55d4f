"""
End-to-end: `allennlp train` and `allennlp evaluate` as a user runs them, and the check that the
aligned space, not the character features, carries the zero-shot transfer.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import FIXTURES, ROOT

ALLENNLP = os.path.join(os.path.dirname(sys.executable), "allennlp")
OVERRIDES = {"trainer": {"num_epochs": 15}}


def run(*args, env=None):
    result = subprocess.run(
        [ALLENNLP, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def train_and_evaluate(tmp_path, name, target_vectors):
    env = dict(os.environ, XNER_FIXTURES=str(FIXTURES), XNER_VECTOR_CACHE=str(tmp_path / "cache"))
    model_dir = tmp_path / name
    overrides = dict(OVERRIDES)
    overrides["vocabulary"] = {"vector_files": [str(target_vectors)]}
    overrides["model"] = {
        "text_field_embedder": {
            "token_embedders": {
                "tokens": {"pretrained_file": [str(FIXTURES / "vectors" / "wiki.multi.en.vec"), str(target_vectors)]}
            }
        }
    }
    run("train", "training_configs/fixture.jsonnet", "-s", str(model_dir), "-o", json.dumps(overrides), env=env)
    metrics_file = tmp_path / f"{name}-test.json"
    run(
        "evaluate",
        str(model_dir / "model.tar.gz"),
        str(FIXTURES / "conll" / "es.test"),
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
    aligned = train_and_evaluate(tmp_path, "aligned", FIXTURES / "vectors" / "wiki.multi.es.vec")
    for key in ("f1-measure-overall", "precision-overall", "recall-overall", "f1-measure-PER"):
        assert key in aligned
    permuted_vectors = tmp_path / "wiki.multi.es.permuted.vec"
    permuted_copy(FIXTURES / "vectors" / "wiki.multi.es.vec", permuted_vectors)
    permuted = train_and_evaluate(tmp_path, "permuted", permuted_vectors)
    print(f"zero-shot es test F1: aligned {aligned['f1-measure-overall']:.3f}, "
          f"permuted {permuted['f1-measure-overall']:.3f}")
    assert aligned["f1-measure-overall"] > permuted["f1-measure-overall"] + 0.15
