"""Faster drop-in versions of allennlp modules (same parameters, same outputs)."""
from xner_allennlp.modules.seq2seq_encoders import PackedLstmSeq2SeqEncoder
from xner_allennlp.modules.conditional_random_field import BatchedConditionalRandomField
