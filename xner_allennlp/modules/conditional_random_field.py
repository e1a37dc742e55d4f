"""Moved to `xner_allennlp.speed.batched_crf`; this path stays importable."""

from xner_allennlp.speed.batched_crf import BatchedConditionalRandomField, batched_crf

__all__ = [
    "BatchedConditionalRandomField",
    "batched_crf",
]
