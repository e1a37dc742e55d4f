"""
The encoder backend's feature cache (`feature_cache`). The drop-in speed modules that used to
live here are in `xner_allennlp.speed`; their old paths (`modules.packed_lstm`,
`modules.seq2seq_encoders`, `modules.conditional_random_field`) re-export them.
"""

from xner_allennlp.speed import BatchedConditionalRandomField, PackedLstmSeq2SeqEncoder

__all__ = [
    "BatchedConditionalRandomField",
    "PackedLstmSeq2SeqEncoder",
]
