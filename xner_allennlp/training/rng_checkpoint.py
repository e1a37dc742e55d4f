"""
Random-number-generator states in allennlp's checkpoints, so that `allennlp train --recover`
continues a killed run exactly as the uninterrupted run would have gone on.

allennlp 2.10's checkpoints hold the model, optimizer, schedulers, metric tracker and callback
states, but none of the generators: a recovered run shuffles its batches (the `bucket` sampler
draws padding noise and shuffles with python's `random`, the validation loader too) and draws
its dropout masks (torch) from other states than the uninterrupted run, and ends elsewhere.
"""

import glob
import logging
import os
import random
import re
from typing import Any, Dict, Iterator, Optional, Tuple, cast

import numpy as np
import torch
import torch.distributed as dist
from allennlp.common.util import is_distributed
from allennlp.training.callbacks import TrainerCallback

from xner_allennlp.common.files import atomic_open

logger = logging.getLogger(__name__)

VERSION = 1
# A state dict of this callback carries this key (checkpoints match callback states to
# callbacks by position, so a checkpoint written with another callback list may hand us a
# foreign state).
_KEY = "xner_rng_checkpoint"

RngState = Dict[str, Any]


def get_rng_state(device: Optional[torch.device] = None) -> RngState:
    """
    The states of python's `random`, numpy's global generator, torch's CPU generator and, when
    `device` is a CUDA device, that device's generator, in types that `torch.load(...,
    weights_only=True)` reads back.
    """
    # numpy's stubs type the default (legacy) state as "dict or tuple"; it is the tuple.
    legacy_state = cast(Tuple[str, np.ndarray, int, int, float], np.random.get_state())
    kind, keys, position, has_gauss, cached_gaussian = legacy_state
    state: RngState = {
        "python": random.getstate(),
        "numpy": (
            kind,
            torch.from_numpy(keys.astype(np.int64)),
            int(position),
            int(has_gauss),
            float(cached_gaussian),
        ),
        "torch": torch.get_rng_state(),
    }
    if device is not None and device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: RngState, device: Optional[torch.device] = None) -> None:
    """Sets the generators to a `get_rng_state` result (the CUDA one when `device` is CUDA)."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, position, has_gauss, cached_gaussian = state["numpy"]
    keys = keys.numpy().astype(np.uint32)
    np.random.set_state((kind, keys, position, has_gauss, cached_gaussian))
    torch.set_rng_state(state["torch"])
    if device is not None and device.type == "cuda":
        if "cuda" in state:
            torch.cuda.set_rng_state(state["cuda"], device)
        else:
            logger.warning("The checkpoint has no CUDA generator state (it was trained on CPU).")


def _rank() -> int:
    return dist.get_rank() if is_distributed() else 0


@TrainerCallback.register("rng_checkpoint")
class RngCheckpointCallback(TrainerCallback):
    """
    Saves the states of the random number generators (python `random`, numpy, torch CPU and the
    trainer's CUDA device) with every checkpoint and, when `allennlp train --recover` resumes
    from one, restores them where the uninterrupted run stood, so that the recovered run draws
    the same batches and dropout masks and ends with the same model and metrics. With
    `use_amp` it keeps the gradient scaler's state too (its loss scale and growth count), which
    allennlp's checkpoints leave out as well.

    The states travel inside the trainer state that allennlp already saves
    (`training_state_e*_b*.th`, through this callback's `state_dict`), so the checkpointer's
    `keep_most_recent_by_*` deletes them with their checkpoint. In distributed training
    allennlp saves only the primary worker's trainer state (unless the model is sharded), so
    every other worker writes its own states for each end-of-epoch checkpoint to
    `rng_state_e{epochs}_b0_w{rank}.th` next to it, and removes the files whose checkpoint the
    checkpointer has deleted.

    Where the states are restored: a recovering trainer loads the last checkpoint (`epochs`
    completed, `batches` into the next epoch), and then, to keep its counters, replays every
    epoch before it by drawing (and discarding) all its batches from the data loader, which
    shuffles and so moves python's generator on. Restoring in `on_start` would be undone by that
    replay; so `on_start` puts a thin wrapper around `trainer.data_loader` that restores the
    states when the trainer starts drawing the batches of the epoch it resumes (after a
    mid-epoch checkpoint: the states of that epoch's start, so that it draws the same order,
    and then the checkpoint's states before the first batch it trains on), and then hands the
    trainer its own data loader back.

    A data loader that keeps its position across epochs (`batches_per_epoch`) replays with other
    states than the uninterrupted run drew with, so its order is not reproduced. Neither is the
    order of a non-primary distributed worker resumed from a mid-epoch checkpoint (which it has
    no states for). A checkpoint without states (written without this callback) resumes with a
    warning.

    Registered as a `TrainerCallback` with name "rng_checkpoint".

    # Parameters

    serialization_dir : `str`
        The run's directory (allennlp passes it), where non-primary distributed workers write
        their `rng_state_*_w{rank}.th` files.
    """

    _file_re = re.compile(r"rng_state_e(\d+)_b(\d+)_w(\d+)\.th$")

    def __init__(self, serialization_dir: str) -> None:
        super().__init__(serialization_dir)
        self._device: Optional[torch.device] = None
        # (epochs completed, batches of the next epoch completed) as of the last hook: the
        # position of a checkpoint saved now.
        self._position: Tuple[int, int] = (0, 0)
        # The states when the current epoch started drawing its batches.
        self._epoch_start: Optional[RngState] = None
        # From the checkpoint being recovered: this worker's state dict, and the checkpoint's
        # position (the primary's state dict says it to every worker).
        self._resume_state: Optional[Dict[str, Any]] = None
        self._resume_position: Optional[Tuple[int, int]] = None
        self._resume_scaler: Optional[Dict[str, Any]] = None

    # Checkpoint state.

    def state_dict(self) -> Dict[str, Any]:
        return self._state(get_rng_state(self._device))

    def _state(self, rng: RngState) -> Dict[str, Any]:
        epochs, batches = self._position
        scaler = getattr(self.trainer, "_scaler", None)
        return {
            _KEY: VERSION,
            "rank": _rank(),
            "epochs_completed": epochs,
            "batches_in_epoch_completed": batches,
            "rng": rng,
            # Only a mid-epoch checkpoint needs the states its epoch's order was drawn with.
            "epoch_start": self._epoch_start if batches > 0 else None,
            "grad_scaler": scaler.state_dict() if scaler is not None else None,
        }

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        if state_dict.get(_KEY) != VERSION:
            return
        self._resume_position = (
            state_dict["epochs_completed"],
            state_dict["batches_in_epoch_completed"],
        )
        if state_dict["rank"] == _rank():
            self._resume_state = state_dict
        # The gradients are all-reduced, so every worker's scaler is in the primary's state.
        self._resume_scaler = state_dict.get("grad_scaler")

    # Training hooks.

    def on_start(self, trainer, is_primary: bool = True, **kwargs) -> None:
        super().on_start(trainer, is_primary, **kwargs)
        device = trainer.cuda_device
        self._device = device if isinstance(device, torch.device) else None
        scaler = getattr(trainer, "_scaler", None)
        if scaler is not None and self._resume_scaler:
            scaler.load_state_dict(self._resume_scaler)
        state = self._resume_state
        if state is None and self._resume_position is not None:
            state = self._read_worker_file(*self._resume_position)
        resuming = (
            self._resume_position is not None
            or getattr(trainer, "_start_after_epochs_completed", 0) > 0
            or getattr(trainer, "_start_after_batches_in_epoch_completed", 0) > 0
        )
        if state is None:
            if resuming:
                logger.warning(
                    "The checkpoint being recovered has no random number generator states for "
                    "this worker: the recovered run will not repeat the uninterrupted one."
                )
            self._epoch_start = get_rng_state(self._device)
            return
        epochs = state["epochs_completed"]
        batches = state["batches_in_epoch_completed"]
        self._position = (epochs, batches)
        self._epoch_start = state["epoch_start"] if batches > 0 else state["rng"]
        group = getattr(trainer, "_num_gradient_accumulation_steps", 1) or 1
        trainer.data_loader = _ResumingDataLoader(
            trainer,
            trainer.data_loader,
            self._device,
            epochs,
            batches * group,
            state["rng"],
            self._epoch_start,
        )
        logger.info(
            "Random number generator states of the checkpoint after %d epoch(s) and %d batch(es) "
            "are restored when the trainer reaches it.",
            epochs,
            batches,
        )

    def on_batch(
        self,
        trainer,
        batch_inputs,
        batch_outputs,
        batch_metrics,
        epoch: int,
        batch_number: int,
        is_training: bool,
        is_primary: bool = True,
        batch_grad_norm: Optional[float] = None,
        **kwargs,
    ) -> None:
        if is_training:
            self._position = (epoch, batch_number)

    def on_epoch(self, trainer, metrics, epoch: int, is_primary: bool = True, **kwargs) -> None:
        # The trainer saves its end-of-epoch checkpoint after the callbacks' on_epoch and draws
        # nothing random before the next epoch's batches.
        self._position = (epoch + 1, 0)
        self._epoch_start = get_rng_state(self._device)
        if is_distributed() and not is_primary:
            self._remove_stale_files()
            self._write_worker_file(self._state(self._epoch_start))

    def on_end(self, trainer, metrics=None, epoch=None, is_primary: bool = True, **kwargs) -> None:
        if is_distributed() and not is_primary:
            self._remove_stale_files()

    # Non-primary workers' files.

    def _worker_file(self, epochs: int, batches: int) -> str:
        return os.path.join(self.serialization_dir, f"rng_state_e{epochs}_b{batches}_w{_rank()}.th")

    def _write_worker_file(self, state: Dict[str, Any]) -> None:
        path = self._worker_file(state["epochs_completed"], state["batches_in_epoch_completed"])
        # Whole or absent: the primary worker may read it as soon as it exists.
        with atomic_open(path, "wb") as handle:
            torch.save(state, handle)

    def _read_worker_file(self, epochs: int, batches: int) -> Optional[Dict[str, Any]]:
        path = self._worker_file(epochs, batches)
        if not os.path.isfile(path):
            return None
        state = torch.load(path, map_location="cpu", weights_only=True)
        return state if state.get(_KEY) == VERSION and state["rank"] == _rank() else None

    def _remove_stale_files(self) -> None:
        # Files of this worker whose checkpoint (model_state_e{E}_b{B}[_w*].th) is gone.
        pattern = os.path.join(self.serialization_dir, f"rng_state_e*_b*_w{_rank()}.th")
        for path in glob.glob(pattern):
            match = self._file_re.search(os.path.basename(path))
            if match is None:
                continue
            epochs, batches = match.group(1), match.group(2)
            checkpoint = f"model_state_e{epochs}_b{batches}*.th"
            if not glob.glob(os.path.join(self.serialization_dir, checkpoint)):
                os.remove(path)


class _ResumingDataLoader:
    """
    Stands in for the trainer's data loader while a recovering trainer replays the epochs
    before its checkpoint: passes them through, restores the generator states when the
    resumed epoch starts drawing batches, and puts the trainer's own loader back.
    """

    def __init__(
        self, trainer, loader, device, epochs: int, skipped_batches: int, rng: RngState, epoch_start: RngState
    ) -> None:
        self._trainer = trainer
        self._loader = loader
        self._device = device
        self._epochs = epochs
        self._skipped_batches = skipped_batches
        self._rng = rng
        self._epoch_start = epoch_start
        self._iterated = 0

    def __len__(self) -> int:
        return len(self._loader)

    def __getattr__(self, name: str) -> Any:
        # Only for what this class does not define itself (so never for `_loader`).
        if name == "_loader":
            raise AttributeError(name)
        return getattr(self._loader, name)

    def __iter__(self) -> Iterator:
        epoch, self._iterated = self._iterated, self._iterated + 1
        if epoch < self._epochs:
            return iter(self._loader)
        self._trainer.data_loader = self._loader
        if self._skipped_batches == 0:
            set_rng_state(self._rng, self._device)
            return iter(self._loader)
        set_rng_state(self._epoch_start, self._device)
        return self._mid_epoch(iter(self._loader))

    def _mid_epoch(self, batches: Iterator) -> Iterator:
        # The trainer skips the batches it trained on before the checkpoint, then trains on.
        for _ in range(self._skipped_batches):
            try:
                yield next(batches)
            except StopIteration:
                return
        set_rng_state(self._rng, self._device)
        yield from batches
