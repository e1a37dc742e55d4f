"""
The `cached_transformer_mismatched` token embedder on the tiny random encoder
(fixtures/encoder/tiny-bert): the same word features as allennlp's
`pretrained_transformer_mismatched` up to float16, computed once per sentence and cached in
memory and on disk under a fingerprint of the encoder's weights and the feature recipe.
"""

import itertools
import math
import random
import shutil

import pytest
import torch
from allennlp.common.checks import ConfigurationError
from allennlp.common.testing import AllenNlpTestCase
from allennlp.data import Batch, Instance, Token, Vocabulary
from allennlp.data.fields import TextField
from allennlp.data.token_indexers import PretrainedTransformerMismatchedIndexer
from allennlp.modules.text_field_embedders import BasicTextFieldEmbedder
from allennlp.modules.token_embedders import PretrainedTransformerMismatchedEmbedder

from tests.conftest import FIXTURES
from xner_allennlp.token_embedders.cached_transformer_mismatched import (
    PRECISIONS,
    CachedTransformerMismatchedEmbedder,
)

TINY = str(FIXTURES / "encoder" / "tiny-bert")
SENTENCES = [
    "Inés Gutiérrez visitó Würzburg con la Comisión Europea .",
    "Die Regierung von Würzburg sagte , sie werde Truppen nach Passau schicken .",
    "ভারী বৃষ্টিতে কুমিল্লা ও টাঙ্গাইলে বন্যা হয়েছে ।",
    # Words the tiny vocabulary splits into many pieces.
    "Zwischenstaatlichkeitsverhandlungen Xochimilco-Quetzalcóatl",
    "Madrid",
]
# fp16 rounding of features of magnitude up to a few units.
FP16 = dict(rtol=2e-3, atol=2e-3)


def batch(sentences, indexer=None):
    indexer = indexer or PretrainedTransformerMismatchedIndexer(TINY)
    instances = [
        Instance({"tokens": TextField([Token(w) for w in s.split()], {"encoder": indexer})})
        for s in sentences
    ]
    tensors = Batch(instances)
    tensors.index_instances(Vocabulary())
    return tensors.as_tensor_dict()["tokens"]["encoder"]


def embedder(**kwargs):
    kwargs.setdefault("cache_dir", None)
    return CachedTransformerMismatchedEmbedder(TINY, **kwargs).eval()


class TestCachedTransformerMismatched(AllenNlpTestCase):
    def setup_method(self):
        super().setup_method()
        self.inputs = batch(SENTENCES)
        self.mask = self.inputs["mask"]

    def test_features_equal_allennlp_mismatched_embedder(self):
        pieces = self.inputs["offsets"][3, :, 1] - self.inputs["offsets"][3, :, 0] + 1
        assert pieces[0] >= 8 and pieces[1] >= 8  # the long words really are split
        for mode in ("avg", "first"):
            reference = PretrainedTransformerMismatchedEmbedder(
                TINY, sub_token_mode=mode, train_parameters=False
            )
            with torch.no_grad():
                expected = reference.eval()(**self.inputs)
                ours = embedder(sub_token_mode=mode)(**self.inputs)
            assert ours.shape == expected.shape == self.mask.shape + (32,)
            assert ours.dtype == torch.float32
            torch.testing.assert_close(ours[self.mask], expected[self.mask], **FP16)
            assert ours[~self.mask].abs().sum() == 0
            # Through float16, hit or miss.
            assert torch.equal(ours, ours.half().float())

    def test_cached_call_is_bit_identical(self):
        encoder = embedder()
        first = encoder(**self.inputs)
        assert (encoder.cache.hits, encoder.cache.misses) == (0, len(SENTENCES))
        second = encoder(**self.inputs)
        assert encoder.cache.hits == len(SENTENCES)
        assert torch.equal(first, second)
        assert torch.equal(first, embedder()(**self.inputs))
        # A sentence in another batch is the same cached entry.
        alone = encoder(**batch(SENTENCES[4:]))
        assert torch.equal(alone[0, :1], first[4, :1])
        assert encoder.cache.misses == len(SENTENCES)

    def test_disk_cache_is_shared_by_new_instances(self, monkeypatch):
        directory = self.TEST_DIR / "features"
        first = embedder(cache_dir=str(directory))
        expected = first(**self.inputs)
        assert first.cache.path == str(directory / f"{first.fingerprint()}.sqlite")
        second = embedder(cache_dir=str(directory))
        assert torch.equal(second(**self.inputs), expected)
        assert (second.cache.hits, second.cache.misses) == (len(SENTENCES), 0)
        # "default": $XNER_FEATURE_CACHE.
        monkeypatch.setenv("XNER_FEATURE_CACHE", str(self.TEST_DIR / "env-cache"))
        third = embedder(cache_dir="default")
        third(**self.inputs)
        assert third.cache.path.startswith(str(self.TEST_DIR / "env-cache"))
        fourth = embedder(cache_dir="default")
        assert torch.equal(fourth(**self.inputs), expected) and fourth.cache.misses == 0

    def test_changed_weights_or_cache_layers_get_another_cache(self, monkeypatch):
        monkeypatch.setenv("XNER_ENCODER_STORE", str(self.TEST_DIR / "store"))
        directory = str(self.TEST_DIR / "features")
        original = embedder(cache_dir=directory)
        expected = original(**self.inputs)
        # A training run's encoder, then the same encoder moved away (config from the run's
        # encoder/ copy, weights from the store): the same cache.
        copy, run = self.TEST_DIR / "copy", str(self.TEST_DIR / "run")
        shutil.copytree(TINY, copy)
        trained = CachedTransformerMismatchedEmbedder(str(copy), cache_dir=directory, serialization_dir=run)
        trained.eval()(**self.inputs)
        shutil.move(str(copy), str(self.TEST_DIR / "moved"))
        loaded = CachedTransformerMismatchedEmbedder(str(copy), cache_dir=directory, serialization_dir=run)
        assert loaded.cache.path == trained.cache.path
        assert torch.equal(loaded.eval()(**self.inputs), expected)
        assert (loaded.cache.hits, loaded.cache.misses) == (len(SENTENCES), 0)
        # One weight changed in place: another SQLite file, nothing read from the old one.
        changed = self.TEST_DIR / "changed"
        shutil.copytree(TINY, changed)
        before = CachedTransformerMismatchedEmbedder(str(changed), cache_dir=directory).eval()
        assert torch.equal(before(**self.inputs), expected)
        state = torch.load(changed / "pytorch_model.bin")
        state["encoder.layer.1.output.dense.bias"][0] += 1.0  # (a uniform shift would be normalised away)
        torch.save(state, changed / "pytorch_model.bin")
        other = CachedTransformerMismatchedEmbedder(str(changed), cache_dir=directory).eval()
        assert other.cache.path != before.cache.path
        assert not torch.equal(other(**self.inputs), expected)
        assert (other.cache.hits, other.cache.misses) == (0, len(SENTENCES))
        # Other cache_layers (the same last layer mixed): another file too, the same features.
        layers = embedder(cache_dir=directory, cache_layers="all")
        assert layers.cache.path != original.cache.path
        assert torch.equal(layers(**self.inputs), expected)
        assert layers.cache.hits == 0
        assert len(list((self.TEST_DIR / "features").glob("*.sqlite"))) == 5

    def test_scalar_mix_and_mean(self):
        one, two = (embedder(layers=[i])(**self.inputs) for i in (1, 2))
        mean = embedder(layers=[1, 2], cache_layers="all", layer_mix="mean")
        torch.testing.assert_close(mean(**self.inputs), (one + two) / 2, rtol=1e-6, atol=1e-6)
        assert not [p for p in mean.parameters() if p.requires_grad]
        mix = embedder(layers=[1, 2], cache_layers="all", layer_mix="scalar_mix")
        # Equal weights at first, then whatever the mix learns.
        torch.testing.assert_close(mix(**self.inputs), (one + two) / 2, rtol=1e-6, atol=1e-6)
        with torch.no_grad():
            mix._scalar_mix.scalar_parameters[0].fill_(math.log(3.0))
            mix._scalar_mix.gamma.fill_(2.0)
        output = mix(**self.inputs)
        torch.testing.assert_close(output, 2 * (0.75 * one + 0.25 * two), rtol=1e-5, atol=1e-5)
        output.sum().backward()
        trainable = [name for name, p in mix.named_parameters() if p.requires_grad]
        assert sorted(trainable) == [
            "_scalar_mix.gamma",
            "_scalar_mix.scalar_parameters.0",
            "_scalar_mix.scalar_parameters.1",
        ]
        assert all(p.grad is not None for p in mix._scalar_mix.parameters())
        assert all(p.grad is None for p in mix.transformer.parameters())

    def test_bad_layer_settings(self):
        with pytest.raises(ConfigurationError, match=r"layers \[1\] are not in cache_layers \[2\]"):
            embedder(layers=[1], cache_layers=[2])
        with pytest.raises(ConfigurationError, match="layer 3 does not exist"):
            embedder(layers=[3])
        with pytest.raises(ConfigurationError, match="layer_mix"):
            embedder(layer_mix="max")

    def test_long_sentences_are_encoded_in_windows(self):
        from transformers import AutoModel

        words = ("Inés visitó Würzburg con la Unión Europea y Joaquín Muñoz en Passau . " * 3).split()
        long = batch(
            [" ".join(words), " ".join(words[:5] + ["Zwischenstaatlichkeitsverhandlungen"] + words[5:9])]
        )
        offsets, ids = long["offsets"][0], long["token_ids"][0]
        assert int(long["wordpiece_mask"][0].sum()) > 3 * 8  # several windows
        windowed = embedder(max_length=8)(**long)
        assert windowed.shape[1] == len(words)
        assert (windowed[0].abs().sum(dim=1) > 0).all()  # every word has features
        assert (windowed[1, :10].abs().sum(dim=1) > 0).all()  # the 9-piece word too
        assert torch.isfinite(windowed).all()
        # The same as encoding each window of whole words (<= 6 pieces + <s> and </s>) alone.
        model = AutoModel.from_pretrained(TINY).eval()
        expected, window = [], []
        spans = [(int(a), int(b)) for a, b in offsets]

        def flush():
            first, last = window[0][0], window[-1][1]
            window_ids = torch.cat([ids[:1], ids[first : last + 1], ids[-1:]]).unsqueeze(0)
            with torch.no_grad():
                hidden = model(input_ids=window_ids).last_hidden_state[0]
            expected.extend(hidden[a - first + 1 : b - first + 2].mean(dim=0) for a, b in window)
            window.clear()

        for a, b in spans:
            assert b - a + 1 <= 6
            if window and b - window[0][0] + 1 > 6:
                flush()
            window.append((a, b))
        flush()
        torch.testing.assert_close(windowed[0], torch.stack(expected), **FP16)
        # A sentence that fits is encoded as a whole, as with the default max_length.
        torch.testing.assert_close(
            embedder(max_length=8)(**batch(["Madrid ."])), embedder()(**batch(["Madrid ."])), rtol=0, atol=0
        )

    def test_frozen_transformer_is_not_in_the_state_dict(self):
        mix = embedder(layers=[1, 2], layer_mix="scalar_mix")
        with torch.no_grad():
            mix._scalar_mix.scalar_parameters[1].fill_(1.5)
        wrapped = BasicTextFieldEmbedder({"encoder": mix})
        state = wrapped.state_dict()
        assert sorted(state) == [
            "token_embedder_encoder._scalar_mix.gamma",
            "token_embedder_encoder._scalar_mix.scalar_parameters.0",
            "token_embedder_encoder._scalar_mix.scalar_parameters.1",
        ]
        fresh = BasicTextFieldEmbedder({"encoder": embedder(layers=[1, 2], layer_mix="scalar_mix")})
        fresh.load_state_dict(state)  # strict: the transformer's own weights stay
        assert fresh.token_embedder_encoder._scalar_mix.scalar_parameters[1].item() == 1.5
        inputs = {"encoder": self.inputs}
        assert torch.equal(fresh(inputs), wrapped(inputs))
        assert all(not p.requires_grad for p in mix.transformer.parameters())


# int8 against float32 on the tiny encoder (features of mean magnitude about 0.6): each word's
# vector within 0.02 and at cosine >= 0.999 of its float32 vector.
INT8 = dict(rtol=0.0, atol=0.02)
INT8_MIN_COSINE = 0.999


def mixed_lengths(count=24, seed=3):
    """A shuffled mix of sentences of 1 to 42 words, the fixture sentences among them."""
    rng = random.Random(seed)
    words = ("Inés visitó Würzburg con la Unión Europea y Joaquín Muñoz en Passau . " * 3).split()
    sentences = SENTENCES + [" ".join(words[: rng.randint(1, len(words))]) for _ in range(count)]
    rng.shuffle(sentences)
    return sentences


class TestPrecisionAndBatching(AllenNlpTestCase):
    def setup_method(self):
        super().setup_method()
        self.inputs = batch(SENTENCES)
        self.mask = self.inputs["mask"]

    def test_int8_agrees_with_float32_within_tolerance(self):
        full = embedder()(**self.inputs)
        quantized = embedder(precision="int8", runtime="torch")
        linears = [m for m in quantized.transformer.modules() if isinstance(m, torch.nn.Linear)]
        dynamic = [
            m for m in quantized.transformer.modules() if isinstance(m, torch.ao.nn.quantized.dynamic.Linear)
        ]
        # Every Linear replaced (2 layers x 5, and the pooler) but the feed-forward
        # down-projections (64 inputs, the intermediate size).
        assert [m.in_features for m in linears] == [64, 64]
        assert len(dynamic) == 11
        ours = quantized(**self.inputs)
        assert not torch.equal(ours, full)  # really another computation
        torch.testing.assert_close(ours[self.mask], full[self.mask], **INT8)
        cosine = torch.nn.functional.cosine_similarity(ours[self.mask], full[self.mask], dim=-1)
        assert cosine.min() >= INT8_MIN_COSINE
        assert ours[~self.mask].abs().sum() == 0

    def test_cache_of_one_precision_is_never_read_for_the_other(self, monkeypatch):
        monkeypatch.setenv("XNER_ENCODER_STORE", str(self.TEST_DIR / "store"))
        directory = str(self.TEST_DIR / "features")
        full = embedder(cache_dir=directory)
        expected = full(**self.inputs)
        quantized = embedder(cache_dir=directory, precision="int8")
        assert quantized.fingerprint() != full.fingerprint()
        assert quantized.cache.path != full.cache.path
        int8_features = quantized(**self.inputs)
        assert (quantized.cache.hits, quantized.cache.misses) == (0, len(SENTENCES))
        assert not torch.equal(int8_features, expected)
        # Each precision then reads its own file only.
        for precision, features in (("float32", expected), ("int8", int8_features)):
            again = embedder(cache_dir=directory, precision=precision)
            assert torch.equal(again(**self.inputs), features)
            assert (again.cache.hits, again.cache.misses) == (len(SENTENCES), 0)
        assert len(list((self.TEST_DIR / "features").glob("*.sqlite"))) == 2

    def test_memoised_fingerprint_equals_the_hashed_one(self, monkeypatch):
        monkeypatch.setenv("XNER_ENCODER_STORE", str(self.TEST_DIR / "store"))
        for precision in PRECISIONS:
            first = embedder(precision=precision)
            assert first._weights_sha is not None
            remembered = first.fingerprint()
            assert list((self.TEST_DIR / "store" / ".memo").glob("fingerprint-*.json"))
            # Without the weights file's identity the tensors are hashed again.
            hashed = embedder()
            hashed._weights_sha = hashed._fingerprint = None
            if precision == "float32":
                assert hashed.fingerprint() == remembered
            assert embedder(precision=precision).fingerprint() == remembered

    def test_bad_precision_settings(self):
        with pytest.raises(ConfigurationError, match=r"precision 'int4' is not one of float32, int8"):
            embedder(precision="int4")
        with pytest.raises(ConfigurationError, match="needs a frozen encoder"):
            embedder(precision="int8", train_parameters=True)

    def test_checkpoint_that_cannot_be_quantised_names_the_module(self):
        broken = self.TEST_DIR / "broken"
        shutil.copytree(TINY, broken)
        state = torch.load(broken / "pytorch_model.bin")
        state["encoder.layer.1.intermediate.dense.weight"][3, 5] = float("nan")
        state["encoder.layer.1.output.dense.weight"][3, 5] = float("nan")  # float32: no check
        torch.save(state, broken / "pytorch_model.bin")
        with pytest.raises(
            ConfigurationError, match=r"module encoder\.layer\.1\.intermediate\.dense cannot be quantised"
        ):
            CachedTransformerMismatchedEmbedder(str(broken), precision="int8", runtime="torch")

    def test_int8_archive_state_round_trip(self):
        # torch's int8 layers (ONNX Runtime keeps float weights: test_onnx_layers.py).
        quantized = embedder(layers=[1, 2], layer_mix="scalar_mix", precision="int8", runtime="torch")
        with torch.no_grad():
            quantized._scalar_mix.scalar_parameters[1].fill_(1.5)
        wrapped = BasicTextFieldEmbedder({"encoder": quantized})
        state = wrapped.state_dict()
        assert not [key for key in state if ".transformer." in key]
        fresh = BasicTextFieldEmbedder(
            {"encoder": embedder(layers=[1, 2], layer_mix="scalar_mix", precision="int8", runtime="torch")}
        )
        fresh.load_state_dict(state)
        inputs = {"encoder": self.inputs}
        assert torch.equal(fresh(inputs), wrapped(inputs))
        # A model trained on float32 features, tagged with int8: its checkpoint's metadata is
        # that of float32 Linear layers.
        full = BasicTextFieldEmbedder({"encoder": embedder(layers=[1, 2], layer_mix="scalar_mix")})
        fresh.load_state_dict(full.state_dict())
        assert fresh.token_embedder_encoder._scalar_mix.scalar_parameters[1].item() == 0.0
        torch.testing.assert_close(fresh(inputs), full(inputs), **INT8)
        # A checkpoint that holds float weights of the frozen encoder cannot go into int8 layers.
        with pytest.raises(ConfigurationError, match="cannot be loaded into its int8 layers"):
            fresh.load_state_dict(
                dict(state, **{"token_embedder_encoder.transformer.pooler.dense.bias": torch.zeros(32)})
            )

    def test_checkpoints_in_every_format_load_the_same_weights(self):
        from transformers import AutoModel

        reference = AutoModel.from_pretrained(TINY).state_dict()
        state = torch.load(f"{TINY}/pytorch_model.bin")
        variants = {
            # torch's legacy (not memory-mappable) format, and a file without the pooler.
            "legacy": (state, dict(_use_new_zipfile_serialization=False)),
            "no-pooler": ({k: v for k, v in state.items() if not k.startswith("pooler.")}, {}),
        }
        expected = embedder()(**self.inputs)
        for name, (weights, options) in variants.items():
            directory = self.TEST_DIR / name
            shutil.copytree(TINY, directory)
            torch.save(weights, directory / "pytorch_model.bin", **options)
            loaded = CachedTransformerMismatchedEmbedder(str(directory), cache_dir=None).eval()
            for key, value in loaded.transformer.state_dict().items():
                assert not value.is_meta
                if not key.startswith("pooler."):
                    assert torch.equal(value, reference[key]), (name, key)
            assert torch.equal(loaded(**self.inputs), expected)

    def test_batches_return_each_sentence_as_encoded_alone_in_input_order(self):
        sentences = mixed_lengths()
        lengths = [len(s.split()) for s in sentences]
        assert len(set(lengths)) > 10 and lengths != sorted(lengths)
        inputs = batch(sentences)
        for runtime, precision, max_length in itertools.product(
            ("torch", "onnxruntime"), ("float32", "int8"), (512, 12)
        ):
            # Small passes: the sorted windows of one batch go through the encoder in several.
            options = dict(precision=precision, max_length=max_length, runtime=runtime)
            together = embedder(encode_batch_pieces=64, **options)(**inputs)
            for i, sentence in enumerate(sentences):
                alone = embedder(**options)(**batch([sentence]))[0]
                assert together.shape[1] >= alone.shape[0] == lengths[i]
                assert together[i, lengths[i] :].abs().sum() == 0
                if precision == "float32":
                    # Exactly: padding and the order of the passes change nothing.
                    assert torch.equal(together[i, : lengths[i]], alone), (runtime, max_length, i)
                else:
                    # int8 quantises each pass's activations with one scale, so the other
                    # sentences of a pass move a feature by rounding noise.
                    torch.testing.assert_close(together[i, : lengths[i]], alone, **INT8)
        # The order is the input's: the same sentences reversed give the rows reversed.
        forward = embedder(encode_batch_pieces=64)(**inputs)
        backward = embedder(encode_batch_pieces=64)(**batch(sentences[::-1]))
        for i, length in enumerate(lengths):
            assert torch.equal(forward[i, :length], backward[len(sentences) - 1 - i, :length])

    def test_a_sentence_repeated_in_a_batch_is_encoded_once(self, monkeypatch):
        encoder = embedder()
        encoded = []
        original = encoder._encode

        def spy(rows, **kwargs):
            encoded.append(len(rows))
            return original(rows, **kwargs)

        monkeypatch.setattr(encoder, "_encode", spy)
        twice = SENTENCES + SENTENCES[:2]
        features = encoder(**batch(twice))
        assert encoded == [len(SENTENCES)]
        assert torch.equal(features[len(SENTENCES) :], features[:2])
        assert encoder.precompute(**batch(twice)) == 0 and encoded == [len(SENTENCES)]
        assert embedder().precompute(**batch(twice)) == len(SENTENCES)

    def test_int8_with_fine_tuned_top_layers(self):
        # train_layers: the frozen lower part runs in int8, the trained top layer in float32.
        partial = embedder(layers=[1, 2], layer_mix="scalar_mix", train_layers=1, precision="int8").train()
        layer = partial.transformer.encoder.layer
        assert type(layer[0].intermediate.dense) is not torch.nn.Linear
        assert type(layer[1].intermediate.dense) is torch.nn.Linear
        partial(**self.inputs).sum().backward()
        assert all(p.grad is not None for p in layer[1].parameters() if p.requires_grad)
        with torch.no_grad():
            layer[1].output.dense.bias.add_(0.5)
        state = BasicTextFieldEmbedder({"encoder": partial}).state_dict()
        kept = {key.split("transformer.")[1] for key in state if ".transformer." in key}
        assert kept and all(key.startswith("encoder.layer.1.") for key in kept)
        fresh = BasicTextFieldEmbedder(
            {"encoder": embedder(layers=[1, 2], layer_mix="scalar_mix", train_layers=1, precision="int8")}
        )
        fresh.load_state_dict(state)
        inputs = {"encoder": self.inputs}
        partial.eval()
        assert torch.equal(fresh.eval()(inputs), BasicTextFieldEmbedder({"encoder": partial})(inputs))
        full = embedder(layers=[1, 2], layer_mix="scalar_mix", train_layers=1)
        assert full.fingerprint() != fresh.token_embedder_encoder.fingerprint()
