import logging
from typing import Union

import torch
from allennlp.common.checks import ConfigurationError
from allennlp.training.callbacks import TrainerCallback

from xner_allennlp.common.cpus import idle_cpus

logger = logging.getLogger(__name__)

AUTO = "auto"


def auto_threads(own_threads: int = 1) -> int:
    """
    Torch threads for the cores this process can actually use: the CPUs it may run on, less
    the load other processes put on them (`idle_cpus`: the 1-minute load average, less
    `own_threads`, this process's own busy threads). On a busy shared machine OpenMP threads
    that do not each get a core spin at every parallel region while they wait for one another,
    which can make training many times slower than one thread; on an idle machine this is
    every CPU, as torch's default.
    """
    return idle_cpus(own_threads)


def resolve_threads(num_threads: Union[int, str, None], own_threads: int = 1) -> int:
    """`num_threads` as a number: an int, a numeric string, or "auto" / "" / None."""
    if num_threads is None or num_threads == "" or num_threads == AUTO:
        return auto_threads(own_threads)
    try:
        value = int(num_threads)
    except (TypeError, ValueError):
        raise ConfigurationError(
            f"num_threads must be a positive integer or {AUTO!r}, got {num_threads!r}"
        ) from None
    if value < 1:
        raise ConfigurationError(f"num_threads must be a positive integer or {AUTO!r}, got {value}")
    return value


def set_torch_threads(num_threads: Union[int, str, None], own_threads: int = 1) -> int:
    threads = resolve_threads(num_threads, own_threads)
    if torch.get_num_threads() != threads:
        logger.info("torch threads: %d -> %d", torch.get_num_threads(), threads)
        torch.set_num_threads(threads)
    return threads


@TrainerCallback.register("torch_threads")
class TorchThreadsCallback(TrainerCallback):
    """
    Sets the number of torch (intra-op) threads when training starts and, with `"auto"`,
    again at the start of every epoch, so that a run on a shared machine follows the load.

    Registered as a `TrainerCallback` with name "torch_threads".

    # Parameters

    num_threads : `int` or `str`, optional (default = `"auto"`)
        A number of threads, or `"auto"` (`auto_threads()`: the CPUs not busy with other
        processes, at least one).
    """

    def __init__(self, serialization_dir: str, num_threads: Union[int, str] = AUTO) -> None:
        super().__init__(serialization_dir)
        resolve_threads(num_threads)  # fail on a bad value when the config is read
        self.num_threads = num_threads

    def on_start(self, trainer, is_primary: bool = True, **kwargs) -> None:
        super().on_start(trainer, is_primary, **kwargs)
        threads = set_torch_threads(self.num_threads)
        logger.info("training with %d torch thread(s) (num_threads=%s)", threads, self.num_threads)

    def on_epoch(self, trainer, metrics, epoch: int, is_primary: bool = True, **kwargs) -> None:
        if self.num_threads in (AUTO, "", None):
            # During training this process keeps about as many threads busy as torch runs.
            set_torch_threads(self.num_threads, own_threads=torch.get_num_threads())
