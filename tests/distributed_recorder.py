"""
A trainer callback for tests/training/test_distributed.py (not a test module): at the start of
training each worker writes the words of every training instance its data loader gives it, in
order, to `<serialization_dir>/instances-worker<rank>.json` (rank 0 outside distributed training).
Loaded with `--include-package tests.distributed_recorder`, so spawned workers register it too.
"""

import json
import os

import torch.distributed as dist
from allennlp.common.util import is_distributed
from allennlp.training.callbacks.callback import TrainerCallback


@TrainerCallback.register("xner_test_record_instances")
class RecordInstances(TrainerCallback):
    def on_start(self, trainer, is_primary: bool = True, **kwargs) -> None:
        rank = dist.get_rank() if is_distributed() else 0
        words = [list(i["metadata"]["words"]) for i in trainer.data_loader.iter_instances()]
        path = os.path.join(self.serialization_dir, f"instances-worker{rank}.json")
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(words, handle, ensure_ascii=False)
