from typing import List, Optional

import torch
from allennlp.modules import ConditionalRandomField


class BatchedViterbiConditionalRandomField(ConditionalRandomField):
    """
    allennlp's `ConditionalRandomField` with `viterbi_tags` decoding the whole batch at once:
    same parameters, same log-likelihood, the same best paths and scores (the same float
    operations, one tensor operation per time step for the batch instead of one per time step
    per sentence).

    Why: `crf_tagger` calls `viterbi_tags` on every batch, training included (for its
    metrics), and allennlp decodes sentence by sentence with several small operations per
    token: a few percent of a training step on CPU, more at inference.

    Only the best path (`top_k` of `None` or 1) with masks that are a prefix of each row is
    batched; anything else is decoded by allennlp's implementation. Not registered: the
    `xner_crf_tagger` model swaps it in for its stock CRF (same state, so weights load either
    way).
    """

    def viterbi_tags(self, logits: torch.Tensor, mask: torch.BoolTensor = None, top_k: int = None):
        batch_size, max_length, num_tags = logits.shape
        if mask is None:
            mask = torch.ones(batch_size, max_length, dtype=torch.bool, device=logits.device)
        lengths = mask.sum(1)
        positions = torch.arange(max_length, device=mask.device)
        prefix = bool((mask == (positions.unsqueeze(0) < lengths.unsqueeze(1))).all())
        if top_k not in (None, 1) or not prefix or batch_size == 0:
            return super().viterbi_tags(logits, mask, top_k)
        with torch.no_grad():
            paths = self._batched_viterbi(logits.detach(), lengths)
        if top_k is None:
            return paths
        return [[path] for path in paths]

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
        previous = previous.tolist()
        paths = []
        for b, (length, tag, score) in enumerate(
            zip(lengths.tolist(), last.tolist(), final_scores.tolist())
        ):
            path: List[int] = []
            if length:
                path.append(previous[b][tag])
                for step in range(length - 1, 0, -1):
                    path.append(pointers[step][b][path[-1]])
                path.reverse()
            paths.append((path, score))
        return paths


def with_batched_viterbi(crf: Optional[torch.nn.Module]) -> Optional[torch.nn.Module]:
    """`crf` decoding with `BatchedViterbiConditionalRandomField` if it is allennlp's plain
    `ConditionalRandomField` (its subclasses, with other potentials, are left as they are)."""
    if type(crf) is ConditionalRandomField:
        crf.__class__ = BatchedViterbiConditionalRandomField
    return crf
