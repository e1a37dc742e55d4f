"""
Drop-in speed modules: faster computations of three stock allennlp modules, each with the
same constructor, the same parameters under the same names (weights load into either) and the
same outputs up to float rounding.

* `packed_lstm` (`packed_lstm.py`) for allennlp's `lstm` `Seq2SeqEncoder`: a one-layer LSTM
  on CPU computes the input projection of all steps in one product and both directions in one
  recurrent product per step (`packed_recurrence.py`);
* `unique_character_encoding` (`unique_character_encoding.py`) for the `character_encoding`
  `TokenEmbedder`: each distinct word of a batch encoded once, its LSTM through
  `packed_recurrence.py`;
* `BatchedConditionalRandomField` (`batched_crf.py`) for the `ConditionalRandomField` of
  `crf_tagger`: Viterbi decoding and the likelihood's gradient for the whole batch at once.

The configs switch all three with one field, `speed` in `training_configs/base.libsonnet`
(`XNER_SPEED`, default `true`); `false` builds the stock modules (and `xner_crf_tagger` with
`batched_crf: false`). tests/speed/test_speed_switch.py checks that both build the same parameters
and outputs; benchmarks/README.md has what each module saves.
"""

from xner_allennlp.speed.batched_crf import BatchedConditionalRandomField, batched_crf
from xner_allennlp.speed.packed_lstm import PackedLstmSeq2SeqEncoder
from xner_allennlp.speed.unique_character_encoding import UniqueCharacterEncoder

__all__ = [
    "BatchedConditionalRandomField",
    "batched_crf",
    "PackedLstmSeq2SeqEncoder",
    "UniqueCharacterEncoder",
]
