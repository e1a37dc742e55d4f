from typing import List, Optional

import torch
from allennlp.modules import ConditionalRandomField


def _positions_inside(lengths: torch.Tensor, length: int) -> torch.Tensor:
    """(B, L): whether each position lies inside its row's first `lengths` positions."""
    return torch.arange(length, device=lengths.device).unsqueeze(0) < lengths.unsqueeze(1)


def _prefix_lengths(mask: torch.Tensor, min_length: int = 1) -> Optional[torch.Tensor]:
    """The length of each row when every row of a non-empty `mask` is a prefix of at least
    `min_length` positions, else None."""
    lengths = mask.sum(1)
    if mask.size(0) == 0 or not bool((lengths >= min_length).all()):
        return None
    if not bool((mask == _positions_inside(lengths, mask.size(1))).all()):
        return None
    return lengths


class _LogPartition(torch.autograd.Function):
    """
    log Z per sentence (the CRF's forward algorithm), as allennlp's `_input_likelihood`
    computes it (to float rounding), with the gradient from the forward-backward marginals
    instead of autograd through every time step.

    logits (B, L, N), transitions (N, N), start and end (N,) or None, lengths (B,) >= 1.
    """

    @staticmethod
    def forward(ctx, logits, transitions, start, end, lengths):
        batch_size, length, num_tags = logits.shape
        inside = _positions_inside(lengths, length).unsqueeze(2)  # (B, L, 1)
        # allennlp's _input_likelihood, with torch's fused logsumexp (equal to float rounding).
        alpha = logits[:, 0] if start is None else start.view(1, num_tags) + logits[:, 0]
        alphas = [alpha]
        for i in range(1, length):
            inner = (alpha.unsqueeze(2) + logits[:, i].unsqueeze(1)) + transitions.unsqueeze(0)
            alpha = torch.where(inside[:, i], torch.logsumexp(inner, 1), alpha)
            alphas.append(alpha)
        stops = alpha if end is None else alpha + end.view(1, num_tags)
        log_z = torch.logsumexp(stops, -1)
        alphas = torch.stack(alphas, 1)
        ctx.save_for_backward(logits, transitions, start, end, lengths, alphas, log_z)
        return log_z

    @staticmethod
    def backward(ctx, grad_log_z):
        logits, transitions, start, end, lengths, alphas, log_z = ctx.saved_tensors
        batch_size, length, num_tags = logits.shape
        inside = _positions_inside(lengths, length).unsqueeze(2)  # (B, L, 1)
        # beta[:, t, i]: log-sum over the rest of the sentence from tag i at t (emission at t
        # excluded); END (or 0) at each sentence's last position.
        beta = logits.new_zeros(batch_size, num_tags) if end is None else end.expand(batch_size, -1)
        betas = [beta]
        for t in range(length - 2, -1, -1):
            inner = transitions.unsqueeze(0) + (logits[:, t + 1] + beta).unsqueeze(1)
            beta = torch.where(inside[:, t + 1], torch.logsumexp(inner, 2), beta)
            betas.append(beta)
        betas = torch.stack(betas[::-1], 1)  # (B, L, N)
        weight = grad_log_z.view(batch_size, 1, 1) * inside
        log_z = log_z.view(batch_size, 1, 1)
        unary = (alphas + betas - log_z).exp() * weight  # d log Z / d logits
        grad_transitions = grad_start = grad_end = None
        if ctx.needs_input_grad[1] and length > 1:
            pairwise = (
                alphas[:, :-1].unsqueeze(3)
                + transitions.view(1, 1, num_tags, num_tags)
                + (logits[:, 1:] + betas[:, 1:]).unsqueeze(2)
                - log_z.unsqueeze(3)
            ).exp()
            grad_transitions = (pairwise * weight[:, 1:].unsqueeze(3)).sum((0, 1))
        elif ctx.needs_input_grad[1]:
            grad_transitions = torch.zeros_like(transitions)
        if start is not None and ctx.needs_input_grad[2]:
            grad_start = unary[:, 0].sum(0)
        if end is not None and ctx.needs_input_grad[3]:
            last = (lengths - 1).view(batch_size, 1, 1).expand(-1, 1, num_tags)
            grad_end = unary.gather(1, last).squeeze(1).sum(0)
        return unary, grad_transitions, grad_start, grad_end, None


class BatchedConditionalRandomField(ConditionalRandomField):
    """
    allennlp's `ConditionalRandomField`, same parameters, computed with fewer, larger tensor
    operations:

    * `viterbi_tags` decodes the whole batch at once: the same best paths and scores (the same
      float operations, one tensor operation per time step for the batch instead of several per
      token per sentence). `crf_tagger` decodes every batch, training batches included (for its
      metrics).
    * the log-likelihood's partition function runs allennlp's forward algorithm (the same value
      to float rounding) with a hand-written backward pass from the forward-backward marginals,
      instead of autograd through a dozen operations per time step; the gold path's score is
      summed in one go (equal to float rounding).

    Only masks that are a prefix of each row are handled here (at least one position for the
    likelihood; decoding gives an empty sentence an empty path, as allennlp does), and only the
    best path (`top_k` of `None` or 1); anything else goes to allennlp's implementation.
    Not registered: the `xner_crf_tagger` model swaps it in for its stock CRF when its
    `batched_crf` parameter is true (same state, so weights load either way).

    # Parameters

    Those of allennlp's `ConditionalRandomField`: `num_tags`, `constraints`,
    `include_start_end_transitions`.
    """

    def _input_likelihood(self, logits: torch.Tensor, transitions: torch.Tensor, mask: torch.BoolTensor):
        lengths = _prefix_lengths(mask)
        if lengths is None:
            return super()._input_likelihood(logits, transitions, mask)
        start = self.start_transitions if self.include_start_end_transitions else None
        end = self.end_transitions if self.include_start_end_transitions else None
        return _LogPartition.apply(logits, transitions, start, end, lengths)

    def _joint_likelihood(
        self,
        logits: torch.Tensor,
        transitions: torch.Tensor,
        tags: torch.Tensor,
        mask: torch.BoolTensor,
    ):
        lengths = _prefix_lengths(mask)
        if lengths is None:
            return super()._joint_likelihood(logits, transitions, tags, mask)
        emissions = logits.gather(2, tags.unsqueeze(2)).squeeze(2)
        steps = transitions[tags[:, :-1], tags[:, 1:]]
        score = (emissions * mask).sum(1) + (steps * mask[:, 1:]).sum(1)
        if self.include_start_end_transitions:
            last_tags = tags.gather(1, (lengths - 1).unsqueeze(1)).squeeze(1)
            score = score + self.start_transitions[tags[:, 0]] + self.end_transitions[last_tags]
        return score

    def viterbi_tags(
        self, logits: torch.Tensor, mask: Optional[torch.Tensor] = None, top_k: Optional[int] = None
    ):
        if mask is None:
            mask = torch.ones(logits.shape[:2], dtype=torch.bool, device=logits.device)
        lengths = _prefix_lengths(mask, min_length=0)
        if top_k not in (None, 1) or lengths is None:
            # allennlp annotates masks as the legacy `torch.BoolTensor` class, which no tensor is to
            # mypy; a bool tensor is what it takes.
            return super().viterbi_tags(logits, mask, top_k)  # type: ignore[arg-type]
        with torch.no_grad():
            paths = self._batched_viterbi(logits.detach(), lengths)
        if top_k is None:
            return paths
        return [[path] for path in paths]

    def marginals(self, logits: torch.Tensor, mask: torch.BoolTensor) -> torch.Tensor:
        """
        P(tag at position t = i | sentence) under the constrained CRF that `viterbi_tags`
        decodes (disallowed transitions at -10000), `(batch, length, num_tags)`; zeros at masked
        positions. The forward-backward marginals are the gradient of log Z by the logits.
        """
        num_tags = logits.shape[2]
        lengths = _prefix_lengths(mask)
        if lengths is None:
            raise ValueError("marginals need masks that are a prefix of each row, at least one position")
        full = self._transitions(num_tags, logits.device)
        transitions = full[:num_tags, :num_tags]
        start, end = full[num_tags, :num_tags], full[:num_tags, num_tags + 1]
        with torch.enable_grad():
            scores = logits.detach().float().requires_grad_()
            log_z = _LogPartition.apply(scores, transitions, start, end, lengths)
            (grad,) = torch.autograd.grad(log_z.sum(), scores)
        return grad

    def _transitions(self, num_tags: int, device: torch.device) -> torch.Tensor:
        # As in ConditionalRandomField.viterbi_tags: the transition matrix with START and END
        # tags, constraints applied as -10000.
        start_tag, end_tag = num_tags, num_tags + 1
        mask = self._constraint_mask.detach()
        transitions = torch.full((num_tags + 2, num_tags + 2), -10000.0, device=device)
        transitions[:num_tags, :num_tags] = self.transitions.detach() * mask[
            :num_tags, :num_tags
        ] + -10000.0 * (1 - mask[:num_tags, :num_tags])
        if self.include_start_end_transitions:
            transitions[start_tag, :num_tags] = self.start_transitions.detach() * mask[
                start_tag, :num_tags
            ] + -10000.0 * (1 - mask[start_tag, :num_tags])
            transitions[:num_tags, end_tag] = self.end_transitions.detach() * mask[
                :num_tags, end_tag
            ] + -10000.0 * (1 - mask[:num_tags, end_tag])
        else:
            transitions[start_tag, :num_tags] = -10000.0 * (1 - mask[start_tag, :num_tags])
            transitions[:num_tags, end_tag] = -10000.0 * (1 - mask[:num_tags, end_tag])
        return transitions

    def _batched_viterbi(self, logits: torch.Tensor, lengths: torch.Tensor) -> List[tuple]:
        batch_size, max_length, num_tags = logits.shape
        states = num_tags + 2
        start_tag, end_tag = num_tags, num_tags + 1
        transitions = self._transitions(num_tags, logits.device)
        # Scores of every tag at each step, START and END unreachable in between (-10000).
        emissions = logits.new_full((batch_size, max_length, states), -10000.0)
        emissions[:, :, :num_tags] = logits
        scores = logits.new_full((batch_size, states), -10000.0)
        scores[:, start_tag] = 0.0
        backpointers = []
        for step in range(max_length):
            best, previous = (scores.unsqueeze(2) + transitions).max(1)
            active = (lengths > step).unsqueeze(1)
            # A sentence that has ended keeps its scores until the END step below.
            scores = torch.where(active, emissions[:, step] + best, scores)
            backpointers.append(previous)
        final_emissions = logits.new_full((states,), -10000.0)
        final_emissions[end_tag] = 0.0
        best, previous = (scores.unsqueeze(2) + transitions).max(1)
        final = final_emissions + best
        final_scores, last = final.max(1)
        pointers = torch.stack(backpointers).tolist() if backpointers else []
        last_pointers = previous.tolist()
        paths = []
        for b, (length, tag, score) in enumerate(zip(lengths.tolist(), last.tolist(), final_scores.tolist())):
            path: List[int] = []
            if length:
                path.append(last_pointers[b][tag])
                for step in range(length - 1, 0, -1):
                    path.append(pointers[step][b][path[-1]])
                path.reverse()
            paths.append((path, score))
        return paths


def batched_crf(crf: Optional[torch.nn.Module]) -> Optional[torch.nn.Module]:
    """
    `crf`, computing with `BatchedConditionalRandomField` if it is allennlp's plain
    `ConditionalRandomField` (its subclasses, with other potentials, are left as they are).
    The class is swapped in place, so its parameters, buffers and state-dict keys are untouched.
    """
    if type(crf) is ConditionalRandomField:
        crf.__class__ = BatchedConditionalRandomField
    return crf
