import numpy as np
import pytest
import torch
from allennlp.common import Params
from allennlp.common.checks import ConfigurationError
from allennlp.common.testing import AllenNlpTestCase
from allennlp.data import Vocabulary
from allennlp.modules.token_embedders import TokenEmbedder

from xner_allennlp.common.errors import InputFormatError
from xner_allennlp.data.vector_vocabulary import VectorVocabulary
from xner_allennlp.dataset_readers.xner_conll import XnerConllReader
from xner_allennlp.token_embedders.aligned_vectors import AlignedVectorsEmbedder


class TestAlignedVectors(AllenNlpTestCase):
    def setup_method(self):
        super().setup_method()
        self.en = self.TEST_DIR / "en.vec"
        self.en.write_text("3 2\nthe 1 0\nhouse 0 1\nsaid 0.5 0.5\n")
        self.es = self.TEST_DIR / "es.vec"
        self.es.write_text("3 2\ncasa 0.1 0.9\nthe 7 7\nmadrid -1 -1\n")

    def vocab(self, *words):
        vocab = Vocabulary()
        vocab.add_tokens_to_namespace(list(words), "tokens")
        return vocab

    def embed(self, embedder, vocab, *words):
        ids = torch.tensor([[vocab.get_token_index(w, "tokens") for w in words]])
        return embedder(ids)[0]

    def test_merge_first_file_wins_and_padding_is_zero(self):
        vocab = self.vocab("the", "casa", "madrid")
        embedder = AlignedVectorsEmbedder(2, [str(self.en), str(self.es)], vocab=vocab)
        out = self.embed(embedder, vocab, "the", "casa", "madrid")
        np.testing.assert_allclose(out.numpy(), [[1, 0], [0.1, 0.9], [-1, -1]], rtol=1e-6)
        assert embedder(torch.tensor([[0]])).abs().sum() == 0

    def test_oov_rows_are_seeded_uniform_and_frozen(self):
        vocab = self.vocab(*[f"unseen{i}" for i in range(200)])
        first = AlignedVectorsEmbedder(2, str(self.en), vocab=vocab)
        second = AlignedVectorsEmbedder(2, str(self.en), vocab=vocab)
        rows = first.weight[2:]
        assert rows.abs().max() <= 0.1 and rows.abs().max() > 0.05
        assert torch.equal(first.weight, second.weight)
        assert list(first.parameters()) == []
        assert "weight" in first.state_dict()

    def test_trainable_oov_trains_only_the_rows_without_vectors(self):
        vocab = self.vocab("the", "zzz")
        embedder = AlignedVectorsEmbedder(2, str(self.en), vocab=vocab, trainable_oov=True)
        optimizer = torch.optim.SGD(embedder.parameters(), lr=1.0)
        before = self.embed(embedder, vocab, "the", "zzz").detach().clone()
        self.embed(embedder, vocab, "the", "zzz").sum().backward()
        optimizer.step()
        after = self.embed(embedder, vocab, "the", "zzz").detach()
        assert torch.equal(after[0], before[0])
        assert not torch.equal(after[1], before[1])

    def test_dimension_mismatch_names_the_key(self):
        with pytest.raises(ConfigurationError, match="embedding_dim is 3 .* dimension 2"):
            AlignedVectorsEmbedder(3, str(self.en), vocab=self.vocab("the"))

    def test_nonsense_parameters_are_refused_with_their_key(self):
        with pytest.raises(ConfigurationError, match="max_words must be at least 1, got 0"):
            AlignedVectorsEmbedder(2, str(self.en), max_words=0, vocab=self.vocab("the"))
        with pytest.raises(ConfigurationError, match="embedding_dim must be at least 1, got -2"):
            AlignedVectorsEmbedder(-2, str(self.en), vocab=self.vocab("the"))
        with pytest.raises(ConfigurationError, match="max_vector_words must be at least 1, got -1"):
            VectorVocabulary.from_instances_and_vectors([], vector_files=[str(self.es)],
                                                        max_vector_words=-1)  # fmt: skip

    def test_truncated_vector_file_is_an_error(self):
        # A download cut short: the header promises more rows than the file has.
        self.es.write_text("30 2\ncasa 0.1 0.9\nthe 7 7\n")
        with pytest.raises(
            InputFormatError, match=r"es\.vec:1: the header promises 30 vectors, but the file has only 2"
        ):
            AlignedVectorsEmbedder(2, [str(self.en), str(self.es)], vocab=self.vocab("casa"))

    def test_missing_vector_file_is_named(self):
        with pytest.raises(FileNotFoundError, match="missing.vec"):
            AlignedVectorsEmbedder(2, str(self.TEST_DIR / "missing.vec"), vocab=self.vocab("a"))

    def test_from_params(self):
        vocab = self.vocab("casa")
        embedder = TokenEmbedder.from_params(
            Params({"type": "aligned_vectors", "embedding_dim": 2, "pretrained_file": [str(self.es)]}),
            vocab=vocab,
        )
        np.testing.assert_allclose(self.embed(embedder, vocab, "casa").numpy(), [[0.1, 0.9]], rtol=1e-6)

    def test_zero_shot_word_seen_only_at_prediction_gets_its_aligned_vector(self):
        # The vocabulary is built from English training instances plus the target table; a
        # Spanish word that no data file contains still maps to its own aligned vector.
        reader = XnerConllReader()
        instances = [reader.text_to_instance(["The", "house"], ["O", "O"])]
        vocab = VectorVocabulary.from_instances_and_vectors(instances, vector_files=[str(self.es)])
        embedder = AlignedVectorsEmbedder(2, [str(self.en), str(self.es)], vocab=vocab)
        prediction = reader.text_to_instance(["Madrid"])
        prediction.index_fields(vocab)
        ids = prediction.as_tensor_dict()["tokens"]["tokens"]["tokens"]
        assert vocab.get_token_from_index(int(ids[0]), "tokens") == "madrid"
        np.testing.assert_allclose(embedder(ids[None])[0].numpy(), [[-1, -1]])

    def test_extend_vocab_looks_new_words_up(self):
        vocab = self.vocab("the")
        embedder = AlignedVectorsEmbedder(2, [str(self.en), str(self.es)], vocab=vocab)
        vocab.add_tokens_to_namespace(["madrid", "nothing"], "tokens")
        embedder.extend_vocab(vocab)
        out = self.embed(embedder, vocab, "the", "madrid", "nothing")
        np.testing.assert_allclose(out[:2].numpy(), [[1, 0], [-1, -1]])
        assert out[2].abs().max() <= 0.1


class TestWordDropout(AllenNlpTestCase):
    def test_training_replaces_word_vectors_with_random_rows_and_evaluation_never(self):
        vec = self.TEST_DIR / "de.vec"
        vec.write_text("2 4\nhaus 1 0 0 0\nstadt 0 1 0 0\n")
        vocab = Vocabulary()
        vocab.add_tokens_to_namespace(["haus", "stadt"], "tokens")
        embedder = AlignedVectorsEmbedder(4, str(vec), word_dropout=0.5, vocab=vocab)
        tokens = torch.tensor([[vocab.get_token_index("haus")] * 2000 + [0]])
        embedder.eval()
        np.testing.assert_array_equal(embedder(tokens)[0, :-1].numpy(), np.tile([1, 0, 0, 0], (2000, 1)))
        embedder.train()
        torch.manual_seed(0)
        rows = embedder(tokens)[0].numpy()
        dropped = ~np.all(rows[:-1] == [1, 0, 0, 0], axis=1)
        assert 0.45 < dropped.mean() < 0.55
        assert np.abs(rows[:-1][dropped]).max() <= 0.1 and len(np.unique(rows[:-1][dropped][:, 0])) > 100
        assert not rows[-1].any()  # padding stays zero
        with pytest.raises(ConfigurationError, match=r"word_dropout must be in \[0, 1\), got 1.5"):
            AlignedVectorsEmbedder(4, str(vec), word_dropout=1.5, vocab=vocab)
