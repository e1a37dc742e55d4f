"""
allennlp's train loop (`TrainModel`, the object `allennlp train` builds from a config's top level)
with a test-set evaluation that cannot cost the run its archive.

allennlp 2.10 evaluates the test set (`evaluate_on_test`) in the primary worker alone, after
the other workers have returned, with the process group still up: the model's metrics then
all-reduce with workers that are gone, gloo fails with "Connection closed by peer", and
`allennlp train` ends without `model.tar.gz` although every epoch was trained. And in any run, a
test file that does not read (a tag the model never saw, a bad line) fails the run after
training, again before the archive is written.
"""

import json
import logging
import os
import tempfile
from typing import Any, Dict

import torch.distributed as dist
from allennlp.commands.train import TrainModel
from allennlp.common.util import is_distributed
from allennlp.data.data_loaders import MultiProcessDataLoader
from allennlp.models.archival import CONFIG_NAME, archive_model

from xner_allennlp.common.files import default_file_mode

logger = logging.getLogger(__name__)

# What allennlp's `archive_model` archives by default.
_BEST_WEIGHTS = "best.th"


@TrainModel.register("default", constructor="from_partial_objects", exist_ok=True)
class XnerTrainModel(TrainModel):
    """
    allennlp's default `TrainModel` (registered again under its name "default", so every config
    gets it), with two changes around `evaluate_on_test`:

    * the archive is written before the test set is evaluated, so a test file that fails to
      read leaves `model.tar.gz` (the final archive is written again afterwards, as always);
    * in distributed training every worker waits until all have finished training; then the
      primary leaves the process group and evaluates the whole test file on its own, as one
      process would (the same numbers as `allennlp evaluate` on the archive).

    Everything else, parameters included, is allennlp's `TrainModel`.
    """

    def run(self) -> Dict[str, Any]:
        metrics = super().run()
        if is_distributed():
            # Only the primary goes on to `finish`: the others return and their processes end,
            # so it must not leave the group while one of them is still in a collective.
            dist.barrier()
        return metrics

    def finish(self, metrics: Dict[str, Any]):
        if self.evaluation_data_loader is not None and self.evaluate_on_test:
            self._archive()
            if is_distributed():
                self._leave_the_group()
        super().finish(metrics)

    def _leave_the_group(self) -> None:
        loader = self.evaluation_data_loader
        if not isinstance(loader, MultiProcessDataLoader):
            logger.warning(
                "evaluate_on_test: skipped after distributed training (a %s cannot read the test "
                "file whole in one worker); run `allennlp evaluate %s/model.tar.gz TEST_FILE`",
                type(loader).__name__,
                self.serialization_dir,
            )
            self.evaluate_on_test = False
            return
        logger.info("evaluating the test set in the primary worker alone")
        # Outside the group, the metrics count this process's predictions alone and the readers
        # do not shard. The loader read and kept this worker's share of the test file when
        # allennlp built the vocabulary: it reads the file again, whole.
        dist.destroy_process_group()
        loader._instances = None

    def _archive(self) -> None:
        if not os.path.isfile(os.path.join(self.serialization_dir, _BEST_WEIGHTS)):
            return  # nothing to archive yet: allennlp's own archiving reports it
        # `include_in_archive` is a top-level key allennlp pops before the train loop is built;
        # the config it saved in the serialization directory still has it.
        with open(os.path.join(self.serialization_dir, CONFIG_NAME), encoding="utf-8") as handle:
            include = json.load(handle).get("include_in_archive")
        logger.info("archiving the model before the test set is evaluated")
        final = os.path.join(self.serialization_dir, "model.tar.gz")
        # Beside the final name and renamed into place: never a half-written model.tar.gz.
        descriptor, temp = tempfile.mkstemp(dir=self.serialization_dir, prefix=".model.tar.gz-")
        os.close(descriptor)
        try:
            archive_model(self.serialization_dir, archive_path=temp, include_in_archive=include)
            os.chmod(temp, default_file_mode())
            os.replace(temp, final)
        finally:
            if os.path.exists(temp):
                os.remove(temp)
