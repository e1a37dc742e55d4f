"""Moved to `xner_allennlp.speed.packed_recurrence`; this path stays importable."""

from xner_allennlp.speed.packed_recurrence import (
    PackedLayout,
    final_states,
    lstm_directions,
    packed_layout,
    recurrence,
    run_packed_lstm,
    run_packed_rows,
    sequence_outputs,
    supports_fast_path,
)

__all__ = [
    "PackedLayout",
    "final_states",
    "lstm_directions",
    "packed_layout",
    "recurrence",
    "run_packed_lstm",
    "run_packed_rows",
    "sequence_outputs",
    "supports_fast_path",
]
