"""
A faster CPU path for one-layer (bi)LSTMs over variable-length sequences, computing exactly what
`torch.nn.LSTM` computes on a `PackedSequence` with the same weights (up to float rounding).

Why: on CPU, `torch.nn.LSTM` over a packed sequence runs every time step as its own small
matrix products, forwards and backwards (input projection, recurrent projection, and in the
backward pass their input and weight gradients, each per direction), and accumulates the weight
gradients step by step. Here only the recurrent products stay inside the time loop:

* the input projection of all time steps is one matrix product per direction (and so are its
  gradients, through autograd);
* the recurrence runs both directions together, one `baddbmm` per step forwards and one `bmm`
  per step backwards (a hand-written `autograd.Function`);
* the recurrent weight gradient is one batched matrix product over all steps at the end.

Sequences are laid out like a `PackedSequence`: time-major rows, sorted by decreasing length,
so step `t` holds the first `batch_sizes[t]` sequences. The backward direction reads each
sequence reversed within its own length, so padding never enters the recurrence.

This is for CPU: on a GPU, cuDNN's fused LSTM is faster, and the modules using this fall back
to `torch.nn.LSTM` there.
"""

from typing import List, NamedTuple, Tuple

import torch


class PackedLayout(NamedTuple):
    """Where each (sequence, position) goes in the time-major packed rows."""

    batch_sizes: List[int]
    # For every packed row: the index of its sequence and its position, forwards and reversed.
    sequence: torch.Tensor
    forward_position: torch.Tensor
    backward_position: torch.Tensor
    # The packed row holding each sequence's last step (-1 for empty sequences), by sequence.
    last_row: torch.Tensor


def packed_layout(lengths: torch.Tensor) -> PackedLayout:
    """The packed layout of sequences with these lengths (any order; zero lengths allowed)."""
    lengths = lengths.long()
    sorted_lengths, order = lengths.sort(descending=True, stable=True)
    max_length = int(sorted_lengths[0]) if len(sorted_lengths) else 0
    steps = torch.arange(max_length, device=lengths.device)
    valid = steps.unsqueeze(1) < sorted_lengths.unsqueeze(0)  # (time, rank)
    step, rank = valid.nonzero(as_tuple=True)  # row-major: time-major packed order
    batch_sizes = valid.sum(1).tolist()
    sequence = order[rank]
    row_lengths = sorted_lengths[rank]
    offsets = torch.zeros(max_length + 1, dtype=torch.long, device=lengths.device)
    if max_length:
        offsets[1:] = torch.tensor(batch_sizes, device=lengths.device).cumsum(0)
    last_row = torch.full_like(lengths, -1)
    nonempty = sorted_lengths > 0
    ranks = torch.arange(len(lengths), device=lengths.device)
    last_row[order[nonempty]] = offsets[sorted_lengths[nonempty] - 1] + ranks[nonempty]
    return PackedLayout(batch_sizes, sequence, step, row_lengths - 1 - step, last_row)


def _forward_steps(
    gates_x: torch.Tensor, w_hh: torch.Tensor, batch_sizes: List[int]
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    directions, rows, four_h = gates_x.shape
    hidden_size = four_h // 4
    h2, h3 = 2 * hidden_size, 3 * hidden_size
    w_hh_t = w_hh.transpose(1, 2)
    acts = torch.empty_like(gates_x)
    cells = gates_x.new_empty(directions, rows, hidden_size)
    tanh_cells = torch.empty_like(cells)
    hidden = torch.empty_like(cells)
    offset = 0
    previous = 0
    for step in range(len(batch_sizes)):
        n = batch_sizes[step]
        if step == 0:
            pre = gates_x[:, offset : offset + n]
        else:
            pre = torch.baddbmm(gates_x[:, offset : offset + n], hidden[:, previous : previous + n], w_hh_t)
        act = acts[:, offset : offset + n]
        torch.sigmoid(pre, out=act)
        torch.tanh(pre[:, :, h2:h3], out=act[:, :, h2:h3])
        cell = cells[:, offset : offset + n]
        torch.mul(act[:, :, :hidden_size], act[:, :, h2:h3], out=cell)
        if step > 0:
            cell.addcmul_(act[:, :, hidden_size:h2], cells[:, previous : previous + n])
        tanh_cell = tanh_cells[:, offset : offset + n]
        torch.tanh(cell, out=tanh_cell)
        torch.mul(act[:, :, h3:], tanh_cell, out=hidden[:, offset : offset + n])
        previous = offset
        offset += n
    return acts, cells, tanh_cells, hidden


def _backward_steps(
    grad_hidden: torch.Tensor,
    coefficient: torch.Tensor,
    dc_dh: torch.Tensor,
    forget: torch.Tensor,
    w_hh: torch.Tensor,
    batch_sizes: List[int],
) -> torch.Tensor:
    directions, rows, four_h = coefficient.shape
    hidden_size = four_h // 4
    h3 = 3 * hidden_size
    grad_gates = torch.empty_like(coefficient)
    dh_next = grad_hidden.new_empty(0)
    dc_next = grad_hidden.new_empty(0)
    offset = rows
    for step in range(len(batch_sizes) - 1, -1, -1):
        n = batch_sizes[step]
        offset -= n
        dh = grad_hidden[:, offset : offset + n]
        if dh_next.numel() > 0:
            dh = dh.clone()
            dh[:, : dh_next.size(1)] += dh_next
        dc = dh * dc_dh[:, offset : offset + n]
        if dc_next.numel() > 0:
            dc[:, : dc_next.size(1)] += dc_next
        grad = grad_gates[:, offset : offset + n]
        coeff = coefficient[:, offset : offset + n]
        torch.mul(
            coeff[:, :, :h3].view(directions, n, 3, hidden_size),
            dc.unsqueeze(2),
            out=grad[:, :, :h3].view(directions, n, 3, hidden_size),
        )
        torch.mul(coeff[:, :, h3:], dh, out=grad[:, :, h3:])
        if step > 0:
            dh_next = torch.bmm(grad, w_hh)
            dc_next = dc * forget[:, offset : offset + n]
    return grad_gates


class _LstmRecurrence(torch.autograd.Function):
    """
    The recurrence of one LSTM layer, `K` directions at once, over packed rows.

    gates_x: (K, T, 4H) input projections plus both biases; w_hh: (K, 4H, H). Returns the
    hidden states (K, T, H). The initial states are zero.
    """

    @staticmethod
    def forward(ctx, gates_x: torch.Tensor, w_hh: torch.Tensor, batch_sizes: Tuple[int, ...]):
        acts, cells, tanh_cells, hidden = _forward_steps(gates_x, w_hh, list(batch_sizes))
        ctx.batch_sizes = batch_sizes
        ctx.save_for_backward(w_hh, acts, cells, tanh_cells, hidden)
        return hidden

    @staticmethod
    def backward(ctx, grad_hidden: torch.Tensor):
        w_hh, acts, cells, tanh_cells, hidden = ctx.saved_tensors
        batch_sizes = list(ctx.batch_sizes)
        hidden_size = acts.size(2) // 4
        h2, h3 = 2 * hidden_size, 3 * hidden_size
        first = batch_sizes[0]
        # Row of the same sequence one step earlier, for every row of step >= 1.
        starts = [0]
        for n in batch_sizes[:-1]:
            starts.append(starts[-1] + n)
        previous_rows = torch.cat(
            [torch.arange(starts[s - 1], starts[s - 1] + n) for s, n in enumerate(batch_sizes) if s]
            or [torch.zeros(0, dtype=torch.long)]
        ).to(acts.device)
        cells_before = torch.zeros_like(cells)
        cells_before[:, first:] = cells[:, previous_rows]
        # Everything that does not depend on the incoming gradient, for all steps at once:
        # d(pre-activation gate) = coefficient * dc (i, f, g) or * dh (o).
        i = acts[..., :hidden_size]
        f = acts[..., hidden_size:h2]
        g = acts[..., h2:h3]
        o = acts[..., h3:]
        coefficient = torch.empty_like(acts)
        torch.mul(g, i * (1 - i), out=coefficient[..., :hidden_size])
        torch.mul(cells_before, f * (1 - f), out=coefficient[..., hidden_size:h2])
        torch.mul(i, 1 - g * g, out=coefficient[..., h2:h3])
        torch.mul(tanh_cells, o * (1 - o), out=coefficient[..., h3:])
        dc_dh = o * (1 - tanh_cells * tanh_cells)
        grad_gates = _backward_steps(grad_hidden.contiguous(), coefficient, dc_dh, f, w_hh, batch_sizes)
        grad_w_hh = None
        if ctx.needs_input_grad[1]:
            if len(batch_sizes) > 1:
                grad_w_hh = torch.bmm(grad_gates[:, first:].transpose(1, 2), hidden[:, previous_rows])
            else:
                grad_w_hh = torch.zeros_like(w_hh)
        return grad_gates, grad_w_hh, None


def lstm_directions(lstm: torch.nn.LSTM) -> List[Tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """(w_ih (4H, D), w_hh (4H, H), b_ih + b_hh (4H)) per direction of a one-layer LSTM."""
    suffixes = ["", "_reverse"] if lstm.bidirectional else [""]
    directions = []
    for s in suffixes:
        w_ih = getattr(lstm, "weight_ih_l0" + s)
        w_hh = getattr(lstm, "weight_hh_l0" + s)
        if lstm.bias:
            bias = getattr(lstm, "bias_ih_l0" + s) + getattr(lstm, "bias_hh_l0" + s)
        else:
            bias = w_ih.new_zeros(w_ih.size(0))
        directions.append((w_ih, w_hh, bias))
    return directions


def supports_fast_path(lstm: torch.nn.Module, inputs: torch.Tensor) -> bool:
    """Whether `lstm` on `inputs` can run here: a plain one-layer LSTM, on CPU."""
    return (
        inputs.device.type == "cpu"
        and isinstance(lstm, torch.nn.LSTM)
        and type(lstm).forward is torch.nn.LSTM.forward
        and lstm.num_layers == 1
        and lstm.batch_first
        and getattr(lstm, "proj_size", 0) == 0
    )


def run_packed_lstm(lstm: torch.nn.LSTM, inputs: torch.Tensor, layout: PackedLayout) -> torch.Tensor:
    """
    Hidden states (K, T, H) of `lstm` over `inputs` (N, L, D), rows in `layout`'s packed order:
    direction 0 reads the sequences forwards, direction 1 (bidirectional) reversed.
    """
    flat = inputs.reshape(-1, inputs.size(-1))
    length = inputs.size(1)
    rows = [layout.sequence * length + layout.forward_position]
    if lstm.bidirectional:
        rows.append(layout.sequence * length + layout.backward_position)
    return run_packed_rows(lstm, flat, torch.stack(rows), layout.batch_sizes)


def run_packed_rows(
    lstm: torch.nn.LSTM, flat_inputs: torch.Tensor, rows: torch.Tensor, batch_sizes: List[int]
) -> torch.Tensor:
    """Like `run_packed_lstm`, with the inputs' rows for each direction given: rows (K, T)."""
    directions = lstm_directions(lstm)
    # One matrix product per direction for the input projection of every step (the weights
    # are used in place: stacking them would copy them at every call).
    gates_x = torch.stack(
        [
            torch.addmm(bias, flat_inputs.index_select(0, rows[k]), w_ih.t())
            for k, (w_ih, _, bias) in enumerate(directions)
        ]
    )
    w_hh = torch.stack([w for _, w, _ in directions])
    return recurrence(gates_x, w_hh, batch_sizes)


def recurrence(gates_x: torch.Tensor, w_hh: torch.Tensor, batch_sizes: List[int]) -> torch.Tensor:
    """
    Hidden states (K, T, H) of the LSTM recurrence over packed rows, given the input
    projections plus biases `gates_x` (K, T, 4H) and the recurrent weights `w_hh` (K, 4H, H).
    """
    return _LstmRecurrence.apply(gates_x, w_hh, tuple(batch_sizes))


def final_states(hidden: torch.Tensor, layout: PackedLayout) -> torch.Tensor:
    """(N, K*H): each sequence's last hidden state per direction, zeros for empty sequences."""
    directions, _, hidden_size = hidden.shape
    last = layout.last_row
    nonempty = last >= 0
    out = hidden.new_zeros(len(last), directions * hidden_size)
    if bool(nonempty.any()):
        picked = hidden[:, last[nonempty]]  # (K, n, H)
        values = picked.transpose(0, 1).reshape(-1, directions * hidden_size)
        if bool(nonempty.all()):
            return values
        out = out.index_copy(0, nonempty.nonzero().squeeze(1), values)
    return out


def sequence_outputs(hidden: torch.Tensor, layout: PackedLayout, shape: Tuple[int, int]) -> torch.Tensor:
    """(N, L, K*H): the hidden state of every position, zeros at padding."""
    directions, _, hidden_size = hidden.shape
    batch, length = shape
    parts = []
    positions = [layout.forward_position, layout.backward_position]
    for k in range(directions):
        index = layout.sequence * length + positions[k]
        parts.append(hidden.new_zeros(batch * length, hidden_size).index_copy(0, index, hidden[k]))
    return torch.cat(parts, -1).view(batch, length, directions * hidden_size)
