from typing import Dict, List, Tuple

import torch
import torch.distributed as dist
from allennlp.common.util import is_distributed
from allennlp.training.metrics import Metric, SpanBasedF1Measure


@Metric.register("distributed_span_f1")
class DistributedSpanBasedF1Measure(SpanBasedF1Measure):
    """
    allennlp's `span_f1` whose counts add up across distributed workers: `get_metric`
    all-reduces the true-positive, false-positive and false-negative counts of every entity
    type (the union of the workers' types), so each worker reports the numbers one process
    would compute on all the data. In one process it is `span_f1` unchanged (allennlp 2.10's
    `span_f1` refuses to run under `distributed`).

    Registered as a `Metric` with name "distributed_span_f1"; the parameters are `span_f1`'s.
    """

    def get_metric(self, reset: bool = False) -> Dict[str, float]:
        if not is_distributed():
            return super().get_metric(reset)
        true_positives, false_positives, false_negatives = self._reduced_counts()
        metrics: Dict[str, float] = {}
        for tag in true_positives:
            precision, recall, f1 = self._compute_metrics(
                true_positives[tag], false_positives[tag], false_negatives[tag]
            )
            metrics["precision-" + tag] = precision
            metrics["recall-" + tag] = recall
            metrics["f1-measure-" + tag] = f1
        precision, recall, f1 = self._compute_metrics(
            sum(true_positives.values()), sum(false_positives.values()), sum(false_negatives.values())
        )
        metrics["precision-overall"] = precision
        metrics["recall-overall"] = recall
        metrics["f1-measure-overall"] = f1
        if reset:
            self.reset()
        return metrics

    def _reduced_counts(self) -> Tuple[Dict[str, int], Dict[str, int], Dict[str, int]]:
        local = set(self._true_positives) | set(self._false_positives) | set(self._false_negatives)
        gathered: List[List[str]] = [[] for _ in range(dist.get_world_size())]
        dist.all_gather_object(gathered, sorted(local))
        tags = sorted({tag for tags in gathered for tag in tags})
        device = (
            torch.device("cuda", torch.cuda.current_device())
            if dist.get_backend() == "nccl"
            else torch.device("cpu")
        )
        counts = torch.tensor(
            [
                [
                    self._true_positives.get(t, 0),
                    self._false_positives.get(t, 0),
                    self._false_negatives.get(t, 0),
                ]
                for t in tags
            ],
            dtype=torch.long,
            device=device,
        ).reshape(len(tags), 3)
        dist.all_reduce(counts, op=dist.ReduceOp.SUM)
        rows = counts.tolist()
        return (
            {t: r[0] for t, r in zip(tags, rows)},
            {t: r[1] for t, r in zip(tags, rows)},
            {t: r[2] for t, r in zip(tags, rows)},
        )
