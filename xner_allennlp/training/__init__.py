from xner_allennlp.training.inverse_time import InverseTimeLearningRateScheduler
from xner_allennlp.training.rng_checkpoint import RngCheckpointCallback
from xner_allennlp.training.threads import TorchThreadsCallback
from xner_allennlp.training.train_loop import XnerTrainModel

__all__ = [
    "InverseTimeLearningRateScheduler",
    "RngCheckpointCallback",
    "TorchThreadsCallback",
    "XnerTrainModel",
]
