"""Moved to `xner_allennlp.speed.packed_lstm`; this path stays importable."""

from xner_allennlp.speed.packed_lstm import PackedLstmSeq2SeqEncoder

__all__ = [
    "PackedLstmSeq2SeqEncoder",
]
