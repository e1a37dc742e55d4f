"""
`allennlp train --recover` after a `kill -9` repeats the uninterrupted run: the same best epoch,
metrics and weights, because the `rng_checkpoint` callback that every config has
(xner_allennlp/training/rng_checkpoint.py) keeps the random number generators' states, which
allennlp's checkpoints leave out, and restores them where the trainer resumes.

The runs train the fixture config on a short copy of its English file, with a checkpoint at
every epoch's end and every few batches. The interrupted run SIGKILLs itself (`xner_test_kill`,
a callback this module registers) a batch into epoch 1, after the checkpoint that ends epoch 0;
recovered, it kills itself again in epoch 3, after a mid-epoch checkpoint; recovered once more,
it finishes.
"""

import json
import os
import pathlib
import random
import select
import signal
import subprocess
import sys
import types
from typing import Dict, Optional, Tuple

import numpy as np
import pytest
import torch
from allennlp.training.callbacks import TrainerCallback

from tests.xner_model_fixture import ROOT, environment, short_fixtures
from xner_allennlp.training.rng_checkpoint import (
    RngCheckpointCallback,
    get_rng_state,
    set_rng_state,
)

CONFIG = str(ROOT / "training_configs" / "fixture.jsonnet")
ALLENNLP = str(pathlib.Path(sys.executable).parent / "allennlp")
TRAIN_SENTENCES = 120  # 15 batches an epoch
EPOCHS = 5
MID_EPOCH_EVERY = 4  # batches between mid-epoch checkpoints
KILL_ENV = "XNER_TEST_KILL_AT"
TIMEOUT = 600


@TrainerCallback.register("xner_test_kill")
class KillCallback(TrainerCallback):
    """SIGKILLs the training process after training batch `B` of epoch `E`, where the
    environment variable XNER_TEST_KILL_AT is "E,B" (does nothing without it)."""

    def on_batch(
        self,
        trainer,
        batch_inputs,
        batch_outputs,
        batch_metrics,
        epoch,
        batch_number,
        is_training,
        is_primary=True,
        **kwargs,
    ):
        target = os.environ.get(KILL_ENV)
        if is_training and target and (epoch, batch_number) == tuple(map(int, target.split(","))):
            os.kill(os.getpid(), signal.SIGKILL)


def _overrides(env: Dict[str, str], checkpoint_every: Optional[int] = None) -> str:
    from allennlp.common import Params

    import xner_allennlp  # noqa: F401 - defines the XNER_* config variables

    # The config's own callbacks (so that the test checks what every config gets) and the
    # killer, in every run alike: --recover wants the config it recovers.
    with environment(**env):
        callbacks = Params.from_file(CONFIG).as_dict(quiet=True)["trainer"]["callbacks"]
    overrides = {
        "trainer.num_epochs": EPOCHS,
        "trainer.callbacks": callbacks + [{"type": "xner_test_kill"}],
    }
    if checkpoint_every is not None:
        overrides["trainer.checkpointer.save_every_num_batches"] = checkpoint_every
    return json.dumps(overrides)


# Each run is `allennlp train` (allennlp's own command-line entry point and arguments) in a
# child process forked from one "zygote" interpreter that has imported allennlp, its plugins and
# this module once: on a busy two-core machine importing them takes longer than training the
# fixture model, once per process. The children share nothing but those imports; each
# SIGKILL or exit is the child's alone. Protocol: one JSON line of runs ({"argv", "log", and
# "env": variables to set, null to unset}) in, forked side by side, one JSON line of their
# exit codes (-9: killed) out.
_ZYGOTE = r"""
import json, os, sys, traceback
import allennlp.__main__
from allennlp.common.plugins import import_plugins
import_plugins()
import tests.training.test_recover
for line in sys.stdin:
    children = []
    for run in json.loads(line):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                log = os.open(run["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
                os.dup2(log, 1)
                os.dup2(log, 2)
                os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
                for key, value in run["env"].items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value
                sys.argv = run["argv"]
                allennlp.__main__.run()
                code = 0
            except SystemExit as exit:
                code = exit.code if isinstance(exit.code, int) else 1
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        children.append(pid)
    codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]
    print(json.dumps(codes), flush=True)
"""


class _Runner:
    """The zygote process: `train` forks `allennlp train` runs from it and waits for them."""

    def __init__(self, env: Dict[str, str], logs: pathlib.Path) -> None:
        self._logs = logs
        self._count = 0
        self._stderr = logs / "zygote.log"
        with open(self._stderr, "w") as stderr:
            self._process = subprocess.Popen(
                [sys.executable, "-c", _ZYGOTE],
                cwd=ROOT,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                start_new_session=True,
            )

    def train(self, *runs: Tuple[pathlib.Path, str, Tuple[str, ...], Optional[str]]):
        """Runs (serialization dir, overrides, extra arguments, kill_at) side by side; returns
        each one's exit code and output."""
        requests, logs = [], []
        for directory, overrides, extra, kill_at in runs:
            self._count += 1
            log = self._logs / f"run{self._count}-{directory.name}.log"
            argv = [
                ALLENNLP,
                "train",
                CONFIG,
                "-s",
                str(directory),
                "-o",
                overrides,
                "--include-package",
                "tests.training.test_recover",
                *extra,
            ]
            requests.append({"argv": argv, "env": {KILL_ENV: kill_at}, "log": str(log)})
            logs.append(log)
        self._process.stdin.write(json.dumps(requests) + "\n")
        self._process.stdin.flush()
        ready, _, _ = select.select([self._process.stdout], [], [], TIMEOUT)
        line = self._process.stdout.readline() if ready else ""
        if not line:
            raise AssertionError(
                "no answer from the training processes (hung or crashed): "
                + self._stderr.read_text(errors="replace")[-3000:]
            )
        codes = json.loads(line)
        return [(code, log.read_text(errors="replace")) for code, log in zip(codes, logs)]

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.stdin.close()
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                # Its own session: the zygote and any child it left.
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()


def _checkpoints(directory: pathlib.Path):
    names = sorted(path.name for path in directory.glob("training_state_*.th"))
    return [name[len("training_state_") : -len(".th")] for name in names]


def _result(directory: pathlib.Path):
    metrics = json.loads((directory / "metrics.json").read_text())
    metrics = {
        key: value
        for key, value in metrics.items()
        if key != "training_duration" and not key.endswith("memory_MB")
    }
    weights = torch.load(directory / "best.th", map_location="cpu", weights_only=True)
    return metrics, weights


def test_recover_after_kill_repeats_the_uninterrupted_run(tmp_path):
    data = short_fixtures(tmp_path, TRAIN_SENTENCES)
    env = dict(
        os.environ,
        XNER_FIXTURES=str(data),
        XNER_VECTOR_CACHE=str(tmp_path / "vector-cache"),
        XNER_NUM_THREADS="1",
        OMP_NUM_THREADS="1",
    )
    # Checkpoints at each epoch's end and every few batches, in all the runs alike.
    overrides = _overrides(env, checkpoint_every=MID_EPOCH_EVERY)
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    runner = _Runner(env, tmp_path)
    try:
        # The uninterrupted run, and beside it the run that dies a batch into epoch 1: its
        # last checkpoint ends epoch 0.
        (code, output), (killed_code, killed_output) = runner.train(
            (whole, overrides, (), None), (killed, overrides, (), "1,1")
        )
        assert code == 0, output[-3000:]
        assert killed_code == -signal.SIGKILL, killed_output[-3000:]
        assert _checkpoints(killed) == ["e1_b0"]

        # Recovered from there, it dies again after the mid-epoch checkpoint of epoch 3; and
        # recovered from that one, it finishes.
        kill_batch = MID_EPOCH_EVERY + 2
        [(code, output)] = runner.train((killed, overrides, ("--recover",), f"3,{kill_batch}"))
        assert code == -signal.SIGKILL, output[-3000:]
        assert "states of the checkpoint after 1 epoch(s) and 0 batch(es)" in output
        assert _checkpoints(killed) == [f"e3_b{MID_EPOCH_EVERY}"]
        [(code, output)] = runner.train((killed, overrides, ("--recover",), None))
        assert code == 0, output[-3000:]
        resumed = f"states of the checkpoint after 3 epoch(s) and {MID_EPOCH_EVERY} batch(es)"
        assert resumed in output
    finally:
        runner.close()

    expected_metrics, expected_weights = _result(whole)
    metrics, weights = _result(killed)
    print(
        f"best epoch {metrics['best_epoch']} (uninterrupted {expected_metrics['best_epoch']}), "
        f"test F1 {metrics['test_f1-measure-overall']:.6f} "
        f"(uninterrupted {expected_metrics['test_f1-measure-overall']:.6f}), test loss "
        f"{metrics['test_loss']:.6f} (uninterrupted {expected_metrics['test_loss']:.6f})"
    )
    assert expected_metrics["epoch"] == EPOCHS - 1
    assert metrics["best_epoch"] == expected_metrics["best_epoch"]
    assert metrics.keys() == expected_metrics.keys()
    for key, value in expected_metrics.items():
        assert metrics[key] == pytest.approx(value, abs=1e-6), key
    assert weights.keys() == expected_weights.keys()
    for name, tensor in expected_weights.items():
        assert torch.allclose(weights[name], tensor, atol=1e-6), name


def test_rng_states_survive_a_weights_only_round_trip(tmp_path):
    def draw():
        return random.random(), np.random.randn(), np.random.rand(), torch.rand(3).tolist()

    saved = get_rng_state()
    try:
        random.seed(1)
        np.random.seed(2)
        torch.manual_seed(3)
        np.random.randn()  # leaves numpy a cached gaussian, part of its state
        torch.save(get_rng_state(torch.device("cpu")), tmp_path / "state.th")
        expected = draw()
        random.seed(0)
        np.random.seed(0)
        torch.manual_seed(0)
        set_rng_state(torch.load(tmp_path / "state.th", weights_only=True))
        assert draw() == expected
    finally:
        set_rng_state(saved)


def test_worker_state_files_go_with_their_checkpoints(tmp_path):
    # What a non-primary distributed worker writes at each epoch's end (rank 0 here).
    callback = RngCheckpointCallback(str(tmp_path))
    for epochs in (1, 2):
        callback._position = (epochs, 0)
        callback._write_worker_file(callback._state(get_rng_state()))
    (tmp_path / "model_state_e2_b0.th").touch()  # the checkpointer has deleted e1_b0
    callback._remove_stale_files()
    assert sorted(path.name for path in tmp_path.glob("rng_state_*")) == ["rng_state_e2_b0_w0.th"]
    assert callback._read_worker_file(2, 0)["epochs_completed"] == 2
    assert callback._read_worker_file(1, 0) is None


def test_the_amp_gradient_scaler_state_is_kept(tmp_path):
    # use_amp (the gpu profile): the loss scale and its growth count, which allennlp's
    # checkpoints leave out, come back too (a CPU scaler stands in for the CUDA one).
    def trainer():
        return types.SimpleNamespace(
            cuda_device=torch.device("cpu"), data_loader=[], _scaler=torch.amp.GradScaler("cpu")
        )

    saved = get_rng_state()
    try:
        trained = trainer()
        trained._scaler.load_state_dict(dict(trained._scaler.state_dict(), scale=512.0, _growth_tracker=7))
        callback = RngCheckpointCallback(str(tmp_path))
        callback.on_start(trained)
        checkpoint = callback.state_dict()

        resumed = trainer()
        callback = RngCheckpointCallback(str(tmp_path))
        callback.load_state_dict(checkpoint)
        callback.on_start(resumed)
        assert resumed._scaler.state_dict() == trained._scaler.state_dict()
    finally:
        set_rng_state(saved)
