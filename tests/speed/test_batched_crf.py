import copy
import itertools
import math

import pytest
import torch
from allennlp.common import Params
from allennlp.common.testing import AllenNlpTestCase
from allennlp.data import Vocabulary
from allennlp.models import Model
from allennlp.modules import ConditionalRandomField
from allennlp.modules.conditional_random_field import allowed_transitions

from xner_allennlp.models.crf_tagger import XnerCrfTagger
from xner_allennlp.speed.batched_crf import (
    BatchedConditionalRandomField,
    batched_crf,
)

LABELS = ["O", "B-PER", "I-PER", "L-PER", "U-PER", "B-LOC", "I-LOC", "L-LOC", "U-LOC"]


def crf_pair(constrained: bool, start_end: bool):
    torch.manual_seed(11)
    constraints = allowed_transitions("BIOUL", dict(enumerate(LABELS))) if constrained else None
    stock = ConditionalRandomField(len(LABELS), constraints, include_start_end_transitions=start_end)
    return stock, batched_crf(copy.deepcopy(stock))


class TestBatchedCrf(AllenNlpTestCase):
    @pytest.mark.parametrize("constrained", [True, False])
    @pytest.mark.parametrize("start_end", [True, False])
    def test_same_paths_and_scores_as_allennlp(self, constrained, start_end):
        stock, ours = crf_pair(constrained, start_end)
        assert isinstance(ours, BatchedConditionalRandomField)
        generator = torch.Generator().manual_seed(3)
        for _ in range(25):
            batch = int(torch.randint(1, 12, (1,), generator=generator))
            length = int(torch.randint(1, 20, (1,), generator=generator))
            logits = torch.randn(batch, length, len(LABELS), generator=generator) * 3
            # Any lengths, empty sentences included; the longest fills the batch.
            lengths = torch.randint(0, length + 1, (batch,), generator=generator)
            lengths[0] = length
            mask = torch.arange(length).unsqueeze(0) < lengths.unsqueeze(1)
            for top_k in (None, 1):
                assert ours.viterbi_tags(logits, mask, top_k=top_k) == stock.viterbi_tags(
                    logits, mask, top_k=top_k
                )

    def test_falls_back_to_allennlp_for_top_k_and_holes_in_the_mask(self):
        stock, ours = crf_pair(True, True)
        logits = torch.randn(3, 6, len(LABELS))
        mask = torch.tensor([[1, 1, 0, 1, 1, 0], [1] * 6, [1, 0, 0, 0, 0, 0]]).bool()
        assert ours.viterbi_tags(logits, mask) == stock.viterbi_tags(logits, mask)
        full = torch.ones(3, 6, dtype=torch.bool)
        assert ours.viterbi_tags(logits, full, top_k=3) == stock.viterbi_tags(logits, full, top_k=3)
        assert ours.viterbi_tags(logits) == stock.viterbi_tags(logits)

    def test_state_unchanged(self):
        stock, ours = crf_pair(True, True)
        assert stock.state_dict().keys() == ours.state_dict().keys()
        for name, value in stock.state_dict().items():
            assert torch.equal(value, ours.state_dict()[name])

    @pytest.mark.parametrize("start_end", [True, False])
    def test_log_likelihood_and_gradients_equal_allennlp(self, start_end):
        stock, ours = crf_pair(True, start_end)
        stock, ours = stock.double(), ours.double()
        if start_end:  # non-zero start and end scores, so that their gradients show
            torch.nn.init.normal_(stock.start_transitions)
            torch.nn.init.normal_(stock.end_transitions)
            ours.load_state_dict(stock.state_dict())
        generator = torch.Generator().manual_seed(5)
        for length in (1, 2, 7, 12):
            batch = 6
            logits = torch.randn(batch, length, len(LABELS), generator=generator, dtype=torch.double)
            logits.requires_grad_(True)
            tags = torch.randint(0, len(LABELS), (batch, length), generator=generator)
            lengths = torch.randint(1, length + 1, (batch,), generator=generator)
            lengths[0] = length
            mask = torch.arange(length).unsqueeze(0) < lengths.unsqueeze(1)
            expected, actual = stock(logits, tags, mask), ours(logits, tags, mask)
            torch.testing.assert_close(actual, expected, rtol=1e-12, atol=1e-12)

            def wrt(crf):
                return [logits] + [p for p in crf.parameters() if p.requires_grad]

            theirs = torch.autograd.grad(expected, wrt(stock), allow_unused=True)
            mine = torch.autograd.grad(actual, wrt(ours), allow_unused=True)
            for a, b in zip(mine, theirs):
                # allennlp leaves the transitions out of the graph for one-token batches.
                b = torch.zeros_like(a) if b is None else b
                torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)

    def test_log_likelihood_gradcheck(self):
        _, ours = crf_pair(True, True)
        ours = ours.double()
        logits = torch.randn(3, 4, len(LABELS), dtype=torch.double, requires_grad=True)
        tags = torch.randint(0, len(LABELS), (3, 4))
        mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0]]).bool()
        assert torch.autograd.gradcheck(lambda x: ours(x, tags, mask), (logits,))

    def test_log_likelihood_falls_back_for_other_masks(self):
        stock, ours = crf_pair(True, True)
        logits = torch.randn(2, 4, len(LABELS))
        tags = torch.randint(0, len(LABELS), (2, 4))
        holes = torch.tensor([[1, 0, 1, 1], [1, 1, 1, 1]]).bool()
        assert torch.equal(ours(logits, tags, holes), stock(logits, tags, holes))

    def test_xner_crf_tagger_uses_it_and_takes_crf_tagger_params(self):
        vocab = Vocabulary()
        vocab.add_tokens_to_namespace(["a", "b"], "tokens")
        vocab.add_tokens_to_namespace(LABELS, "labels")
        config = {
            "text_field_embedder": {"token_embedders": {"tokens": {"type": "embedding", "embedding_dim": 4}}},
            "encoder": {"type": "lstm", "input_size": 4, "hidden_size": 3, "bidirectional": True},
            "label_encoding": "BIOUL",
            "include_start_end_transitions": False,
        }
        ours = Model.from_params(Params(dict(copy.deepcopy(config), type="xner_crf_tagger")), vocab=vocab)
        stock = Model.from_params(Params(dict(copy.deepcopy(config), type="crf_tagger")), vocab=vocab)
        assert isinstance(ours, XnerCrfTagger)
        assert isinstance(ours.crf, BatchedConditionalRandomField)
        assert not ours.crf.include_start_end_transitions
        ours.load_state_dict(stock.state_dict())
        tokens = {"tokens": {"tokens": torch.tensor([[2, 3, 2], [3, 2, 0]])}}
        ours.eval(), stock.eval()
        assert ours(tokens)["tags"] == stock(tokens)["tags"]

    def test_batched_crf_false_keeps_allennlps_crf(self):
        vocab = Vocabulary()
        vocab.add_tokens_to_namespace(["a", "b"], "tokens")
        vocab.add_tokens_to_namespace(LABELS, "labels")
        config = {
            "type": "xner_crf_tagger",
            "text_field_embedder": {"token_embedders": {"tokens": {"type": "embedding", "embedding_dim": 4}}},
            "encoder": {"type": "lstm", "input_size": 4, "hidden_size": 3, "bidirectional": True},
            "label_encoding": "BIOUL",
            "batched_crf": False,
        }
        model = Model.from_params(Params(config), vocab=vocab)
        assert type(model.crf) is ConditionalRandomField


class TestMarginals(AllenNlpTestCase):
    def test_marginals_equal_brute_force_under_the_constraints(self):
        labels = {0: "O", 1: "B-PER", 2: "I-PER", 3: "L-PER", 4: "U-PER"}
        crf = BatchedConditionalRandomField(
            5, allowed_transitions("BIOUL", labels), include_start_end_transitions=False
        )
        torch.manual_seed(0)
        crf.transitions.data.normal_()
        logits = torch.randn(2, 4, 5)
        mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]]).bool()
        marginals = crf.marginals(logits, mask)
        full = crf._transitions(5, "cpu")
        transitions, start, end = full[:5, :5], full[5, :5], full[:5, 6]
        for row, length in ((0, 4), (1, 3)):
            probs, total = torch.zeros(length, 5, dtype=torch.float64), 0.0
            for path in itertools.product(range(5), repeat=length):
                score = start[path[0]] + end[path[-1]]
                score = score + sum(logits[row, t, path[t]] for t in range(length))
                score = score + sum(transitions[path[t], path[t + 1]] for t in range(length - 1))
                weight = math.exp(float(score))
                total += weight
                for t in range(length):
                    probs[t, path[t]] += weight
            assert torch.allclose(marginals[row, :length].double(), probs / total, atol=1e-5)
        assert torch.all(marginals[1, 3] == 0)
        # A disallowed tag (I-PER first, L-PER after O) gets no probability.
        assert float(marginals[:, 0, 2].max()) < 1e-6
