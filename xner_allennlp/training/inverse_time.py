import torch
from allennlp.training.learning_rate_schedulers import LearningRateScheduler
from allennlp.training.learning_rate_schedulers.learning_rate_scheduler import (
    _PyTorchLearningRateSchedulerWrapper,
)


class _InverseTime:
    # A class, not a lambda, so that the scheduler's state can be pickled with the model.
    def __init__(self, decay: float) -> None:
        self.decay = decay

    def __call__(self, epoch: int) -> float:
        return 1.0 / (1.0 + self.decay * epoch)


@LearningRateScheduler.register("inverse_time")
class InverseTimeLearningRateScheduler(_PyTorchLearningRateSchedulerWrapper):
    """
    The paper's (and Lample et al.'s) decay: the first epoch runs at the optimizer's `lr`, and
    after epoch `e` (0-based) the rate becomes `lr / (1 + decay * (e + 1))`.

    Registered as a `LearningRateScheduler` with name "inverse_time".

    # Parameters

    decay : `float`, optional (default = `0.05`)
    last_epoch : `int`, optional (default = `-1`)
    """

    def __init__(self, optimizer: torch.optim.Optimizer, decay: float = 0.05, last_epoch: int = -1) -> None:
        super().__init__(
            # allennlp 2.10 annotates torch 1.12's `_LRScheduler`; torch 2's LambdaLR derives from
            # its successor `LRScheduler`, which the wrapper drives the same way.
            torch.optim.lr_scheduler.LambdaLR(  # type: ignore[arg-type]
                optimizer, _InverseTime(decay), last_epoch=last_epoch
            )
        )
