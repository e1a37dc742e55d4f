import copy

import pytest
import torch
from allennlp.common import Params
from allennlp.common.testing import AllenNlpTestCase
from allennlp.data import Vocabulary
from allennlp.modules.token_embedders import TokenCharactersEncoder, TokenEmbedder

from xner_allennlp.speed.unique_character_encoding import UniqueCharacterEncoder


def lstm_config(embedding_dim=6, hidden_size=5, bidirectional=True, num_layers=1):
    return {
        "embedding": {"embedding_dim": embedding_dim, "vocab_namespace": "token_characters"},
        "encoder": {
            "type": "lstm",
            "input_size": embedding_dim,
            "hidden_size": hidden_size,
            "bidirectional": bidirectional,
            "num_layers": num_layers,
        },
    }


def cnn_config():
    return {
        "embedding": {"embedding_dim": 6, "vocab_namespace": "token_characters"},
        "encoder": {"type": "cnn", "embedding_dim": 6, "num_filters": 4, "ngram_filter_sizes": [2, 3]},
    }


class TestUniqueCharacterEncoding(AllenNlpTestCase):
    def setup_method(self):
        super().setup_method()
        torch.manual_seed(3)
        self.vocab = Vocabulary()
        self.vocab.add_tokens_to_namespace(list("abcdefghij"), "token_characters")
        # (batch, tokens, characters): repeated words (in and across sentences), words that
        # differ only after a shared prefix, one-character words, padding words and a fully
        # padded sentence.
        self.chars = torch.tensor(
            [
                [[2, 3, 4, 0], [5, 0, 0, 0], [2, 3, 4, 0], [2, 3, 4, 5], [0, 0, 0, 0]],
                [[5, 0, 0, 0], [6, 7, 8, 9], [2, 3, 4, 0], [10, 11, 0, 0], [11, 0, 0, 0]],
                [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]],
            ]
        )

    def pair(self, config, dropout=0.0):
        params = dict(config, dropout=dropout)
        # Params consume their dicts: each embedder gets its own copy.
        stock = TokenEmbedder.from_params(
            Params(copy.deepcopy(dict(params, type="character_encoding"))), vocab=self.vocab
        )
        ours = TokenEmbedder.from_params(
            Params(copy.deepcopy(dict(params, type="unique_character_encoding"))), vocab=self.vocab
        )
        assert isinstance(ours, UniqueCharacterEncoder)
        ours.load_state_dict(stock.state_dict())
        return stock.double(), ours.double()

    def assert_same(self, stock, ours, chars):
        expected = stock(chars)
        actual = ours(chars)
        assert actual.shape == expected.shape
        torch.testing.assert_close(actual, expected, rtol=1e-10, atol=1e-12)
        weights = torch.randn_like(expected)
        stock_grads = torch.autograd.grad((expected * weights).sum(), list(stock.parameters()))
        our_grads = torch.autograd.grad((actual * weights).sum(), list(ours.parameters()))
        for (name, _), a, b in zip(ours.named_parameters(), our_grads, stock_grads):
            torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-11, msg=name)

    def test_same_parameters_as_character_encoding(self):
        stock, ours = self.pair(lstm_config())
        assert {n: p.shape for n, p in stock.state_dict().items()} == {
            n: p.shape for n, p in ours.state_dict().items()
        }
        assert ours.get_output_dim() == stock.get_output_dim() == 10

    @pytest.mark.parametrize("bidirectional", [True, False])
    def test_lstm_output_and_gradients_equal_character_encoding(self, bidirectional):
        stock, ours = self.pair(lstm_config(bidirectional=bidirectional))
        self.assert_same(stock, ours, self.chars)

    def test_other_encoders_equal_character_encoding(self):
        stock, ours = self.pair(lstm_config(num_layers=2))
        self.assert_same(stock, ours, self.chars)
        # allennlp's CnnEncoder is float32-only (its masking overflows in float64).
        stock, ours = self.pair(cnn_config())
        stock, ours = stock.float(), ours.float()
        torch.testing.assert_close(ours(self.chars), stock(self.chars), rtol=1e-6, atol=1e-7)

    def test_padding_words_are_zero(self):
        _, ours = self.pair(lstm_config())
        out = ours(self.chars)
        assert out[2].abs().sum() == 0
        assert out[0, 4].abs().sum() == 0
        assert ours(torch.zeros(2, 3, 4, dtype=torch.long)).abs().sum() == 0

    def test_dropout_is_applied_after_encoding(self):
        stock, ours = self.pair(lstm_config(), dropout=0.5)
        stock.eval()
        ours.eval()
        torch.testing.assert_close(ours(self.chars), stock(self.chars))
        ours.train()
        torch.manual_seed(0)
        dropped = ours(self.chars)
        assert (dropped == 0).sum() > (ours.eval()(self.chars) == 0).sum()

    def test_weights_load_both_ways_in_a_model_config(self):
        # A model trained with character_encoding loads into unique_character_encoding (same
        # state-dict keys), and the reverse.
        stock, ours = self.pair(lstm_config())
        fresh = TokenEmbedder.from_params(
            Params(dict(lstm_config(), type="character_encoding")), vocab=self.vocab
        ).double()
        fresh.load_state_dict(ours.state_dict())
        torch.testing.assert_close(fresh(self.chars), ours(self.chars))

    def test_single_precision_matches_to_float_rounding(self):
        stock, ours = self.pair(lstm_config(embedding_dim=30, hidden_size=20))
        stock, ours = stock.float(), ours.float()
        torch.testing.assert_close(ours(self.chars), stock(self.chars), rtol=1e-5, atol=1e-6)

    def test_is_a_drop_in_for_token_characters_encoder(self):
        _, ours = self.pair(lstm_config())
        stock = TokenCharactersEncoder(ours._embedding._module, ours._encoder._module)
        assert set(stock.state_dict()) == set(ours.state_dict())
