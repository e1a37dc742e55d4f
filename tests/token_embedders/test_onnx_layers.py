"""
`cached_transformer_mismatched` with `runtime: onnxruntime` on the tiny random encoder: the
layer stack exported once into the encoder store, the same features as torch in float32
(and so the same fingerprint and cache), ONNX Runtime's own int8 recipe with its own
fingerprint, and one clear line for what it cannot run.
"""

import onnx
import pytest
import torch
from allennlp.common.checks import ConfigurationError
from allennlp.common.testing import AllenNlpTestCase
from allennlp.modules.text_field_embedders import BasicTextFieldEmbedder

from tests.token_embedders.test_cached_transformer import (
    FP16,
    INT8,
    INT8_MIN_COSINE,
    SENTENCES,
    batch,
    embedder,
)
from xner_allennlp.token_embedders import cached_transformer_mismatched, onnx_layers


class TestOnnxRuntime(AllenNlpTestCase):
    def setup_method(self):
        super().setup_method()
        self.inputs = batch(SENTENCES)
        self.mask = self.inputs["mask"]

    @pytest.fixture(autouse=True)
    def _private_store(self, monkeypatch):
        monkeypatch.setenv("XNER_ENCODER_STORE", str(self.TEST_DIR / "store"))

    def graphs(self):
        return sorted((self.TEST_DIR / "store" / "onnx").glob("*.onnx"))

    def test_float32_gives_torch_features_and_shares_their_cache(self):
        directory = str(self.TEST_DIR / "features")
        ours = embedder(runtime="onnxruntime", cache_dir=directory, layers="all")
        assert ours.runtime == "onnxruntime"
        reference = embedder(runtime="torch", cache_dir=None, layers="all")
        expected = reference(**self.inputs)
        features = ours(**self.inputs)
        assert ours._onnx is not None and reference._onnx is None
        torch.testing.assert_close(features, expected, **FP16)
        assert features[~self.mask].abs().sum() == 0
        # One graph, named by the fingerprint and the layers it returns (0 is torch's embeddings).
        (graph,) = self.graphs()
        assert graph.name == f"{ours.fingerprint()}-1-2.onnx"
        assert ours.fingerprint() == reference.fingerprint()
        # torch reads the features ONNX Runtime cached, and a new embedder reuses the graph.
        again = embedder(runtime="torch", cache_dir=directory, layers="all")
        assert torch.equal(again(**self.inputs), features)
        assert (again.cache.hits, again.cache.misses) == (len(SENTENCES), 0)
        stamp = graph.stat().st_mtime_ns
        embedder(runtime="onnxruntime", layers=[2])(**self.inputs)
        assert graph.stat().st_mtime_ns == stamp and len(self.graphs()) == 2

    def test_the_graph_holds_the_layers_not_the_embeddings(self):
        embedder(runtime="onnxruntime", layers=[1, 2])(**self.inputs)
        (graph,) = self.graphs()
        model = onnx.load(str(graph))
        assert [i.name for i in model.graph.input] == ["hidden", "attention_mask"]
        shapes = [tuple(t.dims) for t in model.graph.initializer]
        assert (701, 32) not in shapes  # the word embeddings stay in torch
        # ONNX Runtime's fused attention, from the second layer on: the optimizer recognises an
        # attention block by the layer norm before it, and the first one reads the graph's input.
        assert [n.op_type for n in model.graph.node].count("Attention") == 1

    def test_int8_is_onnxruntime_recipe_with_float_down_projections(self):
        full = embedder(runtime="torch")(**self.inputs)
        quantized = embedder(runtime="onnxruntime", precision="int8")
        ours = quantized(**self.inputs)
        assert not torch.equal(ours, full)
        torch.testing.assert_close(ours[self.mask], full[self.mask], **INT8)
        cosine = torch.nn.functional.cosine_similarity(ours[self.mask], full[self.mask], dim=-1)
        assert cosine.min() >= INT8_MIN_COSINE
        # The torch module is not quantised: the graph is.
        assert all(
            type(m) is not torch.ao.nn.quantized.dynamic.Linear for m in quantized.transformer.modules()
        )
        (graph,) = self.graphs()
        model = onnx.load(str(graph))
        weights = {t.name: tuple(t.dims) for t in model.graph.initializer}
        float_matmuls = [n for n in model.graph.node if n.op_type == "MatMul" and n.input[1] in weights]
        # Per layer: the feed-forward down-projection (64 inputs, the intermediate size) stays float.
        assert [weights[n.input[1]] for n in float_matmuls] == [(64, 32), (64, 32)]
        assert sum(n.op_type == "MatMulInteger" for n in model.graph.node) >= 4
        # Three int8 recipes never share a cache: torch's, ONNX Runtime's, and float32.
        fingerprints = {
            quantized.fingerprint(),
            embedder(runtime="torch", precision="int8").fingerprint(),
            embedder(runtime="torch").fingerprint(),
        }
        assert len(fingerprints) == 3

    def test_int8_takes_a_float32_models_checkpoint_and_frozen_weights(self):
        inputs = {"encoder": self.inputs}
        full = BasicTextFieldEmbedder({"encoder": embedder(layers=[1, 2], layer_mix="scalar_mix")})
        quantized = BasicTextFieldEmbedder(
            {
                "encoder": embedder(
                    layers=[1, 2], layer_mix="scalar_mix", precision="int8", runtime="onnxruntime"
                )
            }
        )
        quantized.load_state_dict(full.state_dict())
        torch.testing.assert_close(quantized(inputs), full(inputs), **INT8)
        # A checkpoint with frozen weights of its own: a new fingerprint, a new graph from them.
        encoder = quantized.token_embedder_encoder
        before = encoder.fingerprint()
        state = dict(full.state_dict())
        state["token_embedder_encoder.transformer.encoder.layer.1.output.dense.bias"] = torch.linspace(
            -1, 1, 32
        )
        quantized.load_state_dict(state)
        assert encoder._onnx is None and encoder.fingerprint() != before
        moved = quantized(inputs)
        assert len(self.graphs()) == 3  # full's float32 graph, int8 of each weights
        assert not torch.allclose(moved, full(inputs), **INT8)

    def test_export_restores_the_training_flag_and_an_interrupted_one_leaves_nothing(self, monkeypatch):
        ours = embedder(runtime="onnxruntime")
        transformer = ours.transformer
        transformer.train()
        path = str(self.TEST_DIR / "graph.onnx")
        onnx_layers.export_layer_stack(transformer, [2], path, "float32")
        assert transformer.training  # torch.onnx.export itself leaves it in training mode
        transformer.eval()
        onnx_layers.export_layer_stack(transformer, [2], path, "float32")
        assert not transformer.training

        def killed(*args, **kwargs):
            raise KeyboardInterrupt

        monkeypatch.setattr(onnx_layers, "_check_export", killed)
        with pytest.raises(KeyboardInterrupt):
            embedder(runtime="onnxruntime")(**self.inputs)
        assert not (self.TEST_DIR / "store" / "onnx").exists() or not list(
            (self.TEST_DIR / "store" / "onnx").iterdir()
        )

    def test_a_graph_that_does_not_reproduce_torch_is_refused(self, monkeypatch):
        monkeypatch.setattr(onnx_layers, "EXPORT_TOLERANCE", -1.0)
        with pytest.raises(ConfigurationError, match=r"does not reproduce torch's hidden states"):
            embedder(runtime="onnxruntime")(**self.inputs)
        assert not self.graphs()

    def test_a_corrupt_graph_names_its_file(self):
        ours = embedder(runtime="onnxruntime")
        ours(**self.inputs)
        (graph,) = self.graphs()
        graph.write_bytes(b"not a graph")
        with pytest.raises(ConfigurationError, match=rf"{graph}: ONNX Runtime cannot load this graph"):
            embedder(runtime="onnxruntime")(**self.inputs)

    def test_auto_and_explicit_runtimes(self, monkeypatch):
        assert embedder().runtime == "onnxruntime"
        assert embedder(train_layers=1, layers=[1, 2]).runtime == "torch"
        with pytest.raises(
            ConfigurationError, match=r"runtime 'tensorrt' is not one of auto, torch, onnxruntime"
        ):
            embedder(runtime="tensorrt")
        with pytest.raises(
            ConfigurationError, match=r"runtime onnxruntime .* not with train_parameters or train_layers"
        ):
            embedder(runtime="onnxruntime", train_layers=1, layers=[1, 2])
        monkeypatch.setattr(cached_transformer_mismatched, "onnxruntime_available", lambda: False)
        assert embedder().runtime == "torch"
        with pytest.raises(ConfigurationError, match=r"pip install onnxruntime onnx"):
            embedder(runtime="onnxruntime")

    def test_layer_zero_alone_needs_no_graph(self):
        ours = embedder(runtime="onnxruntime", layers=[0])
        torch.testing.assert_close(ours(**self.inputs), embedder(runtime="torch", layers=[0])(**self.inputs))
        assert not self.graphs()
