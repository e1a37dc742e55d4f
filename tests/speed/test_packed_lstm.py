import pytest
import torch
from allennlp.common import Params
from allennlp.common.testing import AllenNlpTestCase
from allennlp.modules.seq2seq_encoders import Seq2SeqEncoder
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from xner_allennlp.speed.packed_lstm import PackedLstmSeq2SeqEncoder
from xner_allennlp.speed.packed_recurrence import (
    final_states,
    packed_layout,
    run_packed_lstm,
    sequence_outputs,
)


def reference(lstm, inputs, lengths):
    """torch.nn.LSTM on a PackedSequence: outputs (N, L, K*H) and final states (N, K*H)."""
    batch, length, _ = inputs.shape
    nonempty = lengths > 0
    packed = pack_padded_sequence(inputs[nonempty], lengths[nonempty], batch_first=True, enforce_sorted=False)
    output, (hidden, _) = lstm(packed)
    output, _ = pad_packed_sequence(output, batch_first=True, total_length=length)
    outputs = inputs.new_zeros(batch, length, output.size(-1))
    outputs[nonempty] = output
    finals = inputs.new_zeros(batch, output.size(-1))
    finals[nonempty] = torch.cat(list(hidden), -1)
    return outputs, finals


class TestPackedLstm(AllenNlpTestCase):
    def setup_method(self):
        super().setup_method()
        torch.manual_seed(5)
        self.lengths = torch.tensor([3, 0, 6, 1, 6, 2, 4])
        self.inputs = torch.randn(7, 6, 4, dtype=torch.double, requires_grad=True)

    @pytest.mark.parametrize("bidirectional", [True, False])
    def test_outputs_final_states_and_gradients_equal_torch_lstm(self, bidirectional):
        lstm = torch.nn.LSTM(4, 3, batch_first=True, bidirectional=bidirectional).double()
        layout = packed_layout(self.lengths)
        hidden = run_packed_lstm(lstm, self.inputs, layout)
        outputs = sequence_outputs(hidden, layout, (7, 6))
        finals = final_states(hidden, layout)
        expected_outputs, expected_finals = reference(lstm, self.inputs, self.lengths)
        torch.testing.assert_close(outputs, expected_outputs, rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(finals, expected_finals, rtol=1e-12, atol=1e-14)
        w1, w2 = torch.randn_like(outputs), torch.randn_like(finals)
        wrt = [self.inputs] + list(lstm.parameters())
        ours = torch.autograd.grad((outputs * w1).sum() + (finals * w2).sum(), wrt)
        theirs = torch.autograd.grad((expected_outputs * w1).sum() + (expected_finals * w2).sum(), wrt)
        for a, b in zip(ours, theirs):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)

    def test_recurrence_gradcheck(self):
        lstm = torch.nn.LSTM(4, 2, batch_first=True, bidirectional=True).double()
        layout = packed_layout(torch.tensor([3, 1, 2]))
        inputs = torch.randn(3, 3, 4, dtype=torch.double, requires_grad=True)
        assert torch.autograd.gradcheck(
            lambda x, w: run_packed_lstm(lstm, x, layout) * w.sum(),
            (inputs, torch.ones(1, dtype=torch.double, requires_grad=True)),
        )

    def test_layout(self):
        layout = packed_layout(torch.tensor([2, 0, 3]))
        assert layout.batch_sizes == [2, 2, 1]
        assert layout.sequence.tolist() == [2, 0, 2, 0, 2]
        assert layout.forward_position.tolist() == [0, 0, 1, 1, 2]
        assert layout.backward_position.tolist() == [2, 1, 1, 0, 0]
        assert layout.last_row.tolist() == [3, -1, 4]


class TestPackedLstmEncoder(AllenNlpTestCase):
    def pair(self, **config):
        config = {"input_size": 4, "hidden_size": 3, "bidirectional": True, **config}
        stock = Seq2SeqEncoder.from_params(Params(dict(config, type="lstm")))
        ours = Seq2SeqEncoder.from_params(Params(dict(config, type="packed_lstm")))
        assert isinstance(ours, PackedLstmSeq2SeqEncoder)
        ours.load_state_dict(stock.state_dict())
        return stock.double(), ours.double()

    @pytest.mark.parametrize("config", [{}, {"bidirectional": False}, {"num_layers": 2}])
    def test_equals_lstm_encoder(self, config):
        torch.manual_seed(2)
        stock, ours = self.pair(**config)
        assert stock.state_dict().keys() == ours.state_dict().keys()
        assert ours.get_output_dim() == stock.get_output_dim()
        inputs = torch.randn(4, 5, 4, dtype=torch.double, requires_grad=True)
        mask = torch.arange(5).unsqueeze(0) < torch.tensor([[5], [2], [0], [4]])
        expected, actual = stock(inputs, mask), ours(inputs, mask)
        torch.testing.assert_close(actual, expected, rtol=1e-12, atol=1e-14)
        weights = torch.randn_like(expected)
        wrt = [inputs] + list(stock.parameters())
        theirs = torch.autograd.grad((expected * weights).sum(), wrt)
        ours_grads = torch.autograd.grad((actual * weights).sum(), [inputs] + list(ours.parameters()))
        for a, b in zip(ours_grads, theirs):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)

    def test_all_masked_batch_gives_zeros(self):
        _, ours = self.pair()
        out = ours(torch.randn(2, 3, 4, dtype=torch.double), torch.zeros(2, 3, dtype=torch.bool))
        assert out.shape == (2, 3, 6) and out.abs().sum() == 0
