from typing import Optional, cast

import torch
from allennlp.modules.seq2seq_encoders import LstmSeq2SeqEncoder, Seq2SeqEncoder

from xner_allennlp.speed.packed_recurrence import (
    packed_layout,
    run_packed_lstm,
    sequence_outputs,
    supports_fast_path,
)


@Seq2SeqEncoder.register("packed_lstm")
class PackedLstmSeq2SeqEncoder(LstmSeq2SeqEncoder):
    """
    allennlp's `lstm` `Seq2SeqEncoder`, computed faster on CPU: same constructor, same
    parameters under the same names (weights load into either), same output up to float
    rounding. A one-layer, non-stateful LSTM on CPU runs through
    `xner_allennlp.speed.packed_recurrence` (input projection of all steps in one matrix product,
    both directions in one recurrent product per step); anything else (several layers, GPU...)
    runs as in `lstm`.

    Registered as a `Seq2SeqEncoder` with name "packed_lstm".

    # Parameters

    Those of allennlp's `lstm` (`LstmSeq2SeqEncoder`): `input_size`, `hidden_size`,
    `num_layers`, `bias`, `dropout`, `bidirectional`, `stateful`.
    """

    def forward(
        self, inputs: torch.Tensor, mask: torch.BoolTensor, hidden_state: Optional[torch.Tensor] = None
    ) -> torch.Tensor:
        if (
            mask is None
            or hidden_state is not None
            or self.stateful
            or not supports_fast_path(self._module, inputs)
        ):
            return super().forward(inputs, mask, hidden_state)
        batch_size, length = mask.shape
        layout = packed_layout(mask.sum(1))
        if not layout.batch_sizes:
            return inputs.new_zeros(batch_size, length, self.get_output_dim())
        # LstmSeq2SeqEncoder wraps a torch.nn.LSTM (its wrapper's attribute is typed as a Module).
        hidden = run_packed_lstm(cast(torch.nn.LSTM, self._module), inputs, layout)
        return sequence_outputs(hidden, layout, (batch_size, length))
