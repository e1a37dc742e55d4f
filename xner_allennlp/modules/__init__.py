"""
The drop-in speed modules that used to live here are in `xner_allennlp.speed`; their old paths
(`modules.packed_lstm`, `modules.seq2seq_encoders`, `modules.conditional_random_field`)
re-export them. The encoder feature cache is `xner_allennlp.token_embedders.feature_cache`,
beside the one embedder that uses it.
"""

from xner_allennlp.speed import BatchedConditionalRandomField, PackedLstmSeq2SeqEncoder

__all__ = [
    "BatchedConditionalRandomField",
    "PackedLstmSeq2SeqEncoder",
]
