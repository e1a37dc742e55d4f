import json
import tarfile

import numpy as np
import pytest
import torch
from allennlp.common import Params
from allennlp.common.checks import ConfigurationError
from allennlp.common.testing import AllenNlpTestCase
from allennlp.data import Token, Vocabulary
from allennlp.data.fields import TextField
from allennlp.models.archival import load_archive

from tests.xner_model_fixture import ROOT, environment, short_fixtures
from xner_allennlp.alignment.composition import SubwordComposer, ngram_hashes
from xner_allennlp.common.word_vectors import load_word_vectors
from xner_allennlp.data.token_indexers.single_id_with_ngrams_indexer import SingleIdWithNgramsIndexer
from xner_allennlp.evaluation.evaluate import aligned_vectors_lookup
from xner_allennlp.token_embedders.aligned_vectors import AlignedVectorsEmbedder
from xner_allennlp.token_embedders.subword_composition import SubwordComposition


def _table(seed=0):
    """German-like compounds whose vectors are sums of their parts' vectors."""
    rng = np.random.default_rng(seed)
    parts = {p: rng.normal(size=4) for p in ["bundes", "regierung", "land", "tag", "haus", "stadt"]}
    words, rows = [], []
    for a in parts:
        for b in parts:
            if a != b and a + b != "bundestag":  # held out
                words.append(a + b)
                rows.append(parts[a] + parts[b])
    matrix = np.stack(rows).astype(np.float32)
    return words, matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def _unit(rows):
    return rows / np.linalg.norm(rows, axis=-1, keepdims=True)


class TestSubwordComposition(AllenNlpTestCase):
    def setup_method(self):
        super().setup_method()
        self.words, self.matrix = _table()
        self.composer = SubwordComposer(l2=1e-2).fit(self.words, self.matrix)
        self.file = str(self.TEST_DIR / "composition-de.npz")
        self.composer.save(self.file)
        self.vec = self.TEST_DIR / "de.vec"
        self.vec.write_text(
            f"{len(self.words)} 4\n"
            + "".join(
                w + " " + " ".join(f"{v:.7f}" for v in row) + "\n" for w, row in zip(self.words, self.matrix)
            )
        )

    def hashes(self, *words):
        width = max(len(ngram_hashes(w)) for w in words)
        padded = torch.full((len(words), width), -1, dtype=torch.long)
        for row, word in enumerate(words):
            values = ngram_hashes(word)
            padded[row, : len(values)] = torch.tensor(values)
        return padded

    def test_saved_composer_composes_as_the_fitted_one(self):
        loaded = SubwordComposer.load(self.file)
        np.testing.assert_allclose(
            loaded(["bundestag", "landhaus"]), self.composer(["bundestag", "landhaus"])
        )
        assert (loaded.min_n, loaded.max_n, loaded.buckets) == (3, 6, 2**18)

    def test_module_gives_a_table_word_its_vector_and_an_unseen_word_the_composers(self):
        module = SubwordComposition(self.file)
        composed, found = module(self.hashes("landhaus", "bundestag", "qqqq"))
        assert found.tolist() == [True, True, False]
        # A table word's own vector back, within the ridge fit's tolerance ...
        truth = self.matrix[self.words.index("landhaus")]
        assert float(composed[0].numpy() @ truth) > 0.95
        # ... and for a word no table holds, exactly the composer's vector, unit length.
        np.testing.assert_allclose(
            composed[1].numpy(), _unit(self.composer(["bundestag"]))[0], rtol=1e-5, atol=1e-6
        )
        again, _ = SubwordComposition(self.file)(self.hashes("bundestag"))
        np.testing.assert_array_equal(again[0].numpy(), composed[1].numpy())

    def test_embedder_composes_vocabulary_words_without_a_vector_and_unknown_words(self):
        vocab = Vocabulary()
        vocab.add_tokens_to_namespace(["landhaus", "stadttag", "qqqq"], "tokens")
        # stadttag is in the vocabulary but has no vector: composed when the embedder is built.
        self.vec.write_text(self.vec.read_text().replace("\nstadttag ", "\nxstadttag "))
        embedder = AlignedVectorsEmbedder(
            4, str(self.vec), composition=SubwordComposition(self.file), vocab=vocab
        )
        plain = AlignedVectorsEmbedder(4, str(self.vec), vocab=vocab)
        index = vocab.get_token_index
        rows = embedder(torch.tensor([[index("stadttag"), index("qqqq"), index("landhaus")]]))[0].numpy()
        np.testing.assert_allclose(rows[0], _unit(self.composer(["stadttag"]))[0], rtol=1e-5, atol=1e-6)
        # No n-gram of qqqq is in the table: its random row stays; a table word keeps its vector.
        np.testing.assert_array_equal(rows[1], plain.weight[index("qqqq")].numpy())
        np.testing.assert_allclose(rows[2], self.matrix[self.words.index("landhaus")], rtol=1e-6)
        assert bool(embedder.has_vector[index("stadttag")]) and not bool(plain.has_vector[index("stadttag")])

        # A word outside the vocabulary, through the indexer: composed at prediction.
        indexer = SingleIdWithNgramsIndexer()
        field = TextField([Token(w) for w in ["landhaus", "bundestag", "qqqq"]], {"tokens": indexer})
        field.index(vocab)
        tensors = field.as_tensor(field.get_padding_lengths())["tokens"]
        assert (tensors["ngrams"][0] == -1).all() and (tensors["ngrams"][2] == -1).all()
        out = embedder(tensors["tokens"].unsqueeze(0), tensors["ngrams"].unsqueeze(0))[0].numpy()
        np.testing.assert_allclose(out[1], _unit(self.composer(["bundestag"]))[0], rtol=1e-5, atol=1e-6)
        unknown = embedder(tensors["tokens"].unsqueeze(0))[0].numpy()
        np.testing.assert_array_equal(
            unknown[1], embedder.weight[vocab.get_token_index("@@UNKNOWN@@")].numpy()
        )
        np.testing.assert_array_equal(out[[0, 2]], unknown[[0, 2]])

    def test_rows_come_back_from_a_state_dict_without_the_file(self):
        vocab = Vocabulary()
        vocab.add_tokens_to_namespace(["landhaus"], "tokens")
        trained = AlignedVectorsEmbedder(
            4, str(self.vec), composition=SubwordComposition(self.file), vocab=vocab
        )
        # What archive loading builds: allennlp drops every `pretrained_file`.
        loaded = AlignedVectorsEmbedder(4, composition=SubwordComposition(), vocab=vocab)
        loaded.load_state_dict(trained.state_dict())
        hashes = self.hashes("bundestag").unsqueeze(0)
        tokens = torch.tensor([[vocab.get_token_index("@@UNKNOWN@@")]])
        np.testing.assert_array_equal(loaded(tokens, hashes).numpy(), trained(tokens, hashes).numpy())

    def test_bad_composition_files_are_named(self):
        text = self.TEST_DIR / "not.npz"
        text.write_text("hello\n")
        with pytest.raises(ConfigurationError, match="not.npz is not a subword composition file"):
            SubwordComposition(str(text))
        with pytest.raises(ConfigurationError, match="missing.npz is not a subword composition file"):
            SubwordComposition(str(self.TEST_DIR / "missing.npz"))
        vocab = Vocabulary()
        with pytest.raises(
            ConfigurationError, match="embedding_dim is 8 but the composition's rows have dimension 4"
        ):
            AlignedVectorsEmbedder(8, composition=SubwordComposition(self.file), vocab=vocab)


def test_fixture_model_composes_a_word_first_seen_at_prediction(tmp_path):
    """Trains the fixture config with XNER_COMPOSITION, loads the archive with the .npz gone,
    and checks the vector a word outside the vocabulary gets when the predictor reads it."""
    from allennlp.commands.train import train_model_from_file
    from allennlp.predictors import Predictor

    data = short_fixtures(tmp_path, 40)
    table = load_word_vectors(str(data / "vectors" / "wiki.multi.es.vec"))
    composer = SubwordComposer(buckets=2**14).fit(table.words, table.matrix)
    composition = tmp_path / "composition-es.npz"
    composer.save(str(composition))
    with environment(
        XNER_FIXTURES=str(data), XNER_VECTOR_CACHE=str(tmp_path / "cache"), XNER_COMPOSITION=str(composition)
    ):
        train_model_from_file(
            str(ROOT / "training_configs" / "fixture.jsonnet"),
            str(tmp_path / "model"),
            overrides='{"trainer": {"num_epochs": 1}, "evaluate_on_test": false}',
            force=True,
        )
    archive = tmp_path / "model" / "model.tar.gz"
    with tarfile.open(archive) as handle:
        config = json.load(handle.extractfile("config.json"))
    assert config["validation_dataset_reader"]["token_indexers"]["tokens"]["type"] == "single_id_with_ngrams"
    composition.unlink()

    loaded = load_archive(str(archive))
    vocab = loaded.model.vocab
    word = "casasblancasx"  # in no fixture file nor table
    assert vocab.get_token_index(word, "tokens") == vocab.get_token_index("@@UNKNOWN@@", "tokens")
    predictor = Predictor.from_archive(loaded, "xner_tagger")
    seen = {}
    embedder = loaded.model.text_field_embedder._token_embedders["tokens"]
    hook = embedder.register_forward_hook(lambda module, args, output: seen.setdefault("rows", output))
    try:
        result = predictor.predict_json({"tokens": ["la", word]})
    finally:
        hook.remove()
    assert len(result["tags"]) == 2
    np.testing.assert_allclose(
        seen["rows"][0, 1].detach().numpy(), _unit(composer([word]))[0], rtol=1e-5, atol=1e-6
    )
    # The report counts it as covered (OOV rates).
    assert aligned_vectors_lookup(loaded.model)(word)
    assert Params(config).get("model").get("text_field_embedder").as_dict()["token_embedders"]["tokens"][
        "composition"
    ]["pretrained_file"] == str(composition)
