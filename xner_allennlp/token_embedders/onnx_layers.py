"""
The frozen layer stack of a BERT-style encoder run by ONNX Runtime on CPU, for
`cached_transformer_mismatched`'s `runtime: onnxruntime`.

Only `encoder.layer[*]` goes into the graph: the embeddings (a lookup in a 250k-row table for
multilingual-e5-small, 384 MB of its 470) stay in torch, so the graph is 85 MB, exports in
about 3 s and loads in 0.04 s. The graph is exported once per encoder and recipe into the
encoder store (`XNER_ENCODER_STORE/onnx/<fingerprint>.onnx`) and read from there afterwards.

Why ONNX Runtime: its fused BERT kernels (one `Attention` and two `SkipLayerNormalization`
per layer) and its int8 matrix products. Measured on 600 esp.testa sentences, 2 cores, padded
batches of 32: torch float32 1,000 tokens/s, ONNX Runtime float32 1,260 (the same states,
max difference 5e-6), int8 with the feed-forward down-projections in float32 2,030 (mean
cosine 0.9969 to float32; torch's `quantize_dynamic` recipe gives 0.993 at 1.27x float32).
"""

import contextlib
import logging
import os
import tempfile
import warnings
from typing import Iterator, List

import numpy as np
import torch
from allennlp.common.checks import ConfigurationError

logger = logging.getLogger(__name__)

# Part of the fingerprint of int8 features computed by ONNX Runtime (they differ from torch's).
ONNX_INT8_RECIPE = (
    "onnxruntime int8: dynamic, per-channel int8 weights, uint8 activations, "
    "feed-forward down-projections float32"
)
# The exported float32 graph must reproduce torch's states this closely (it does to 5e-6).
EXPORT_TOLERANCE = 1e-3


def onnxruntime_available() -> bool:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


class OnnxEncoderLayers:
    """
    Hidden states `layers` of `transformer`'s layer stack, from its embeddings' output and the
    attention mask, computed by an ONNX Runtime session on the CPU.

    # Parameters

    transformer : `torch.nn.Module`
        A BERT-style model (`embeddings`, `encoder.layer`, `get_extended_attention_mask`) with
        its final weights: the graph is exported from it when `path` does not exist yet.
    layers : `List[int]`
        The hidden states returned, each in 1..num_layers (0, the embeddings, is torch's).
    path : `str`
        Where the graph is (or is written to, atomically).
    precision : `str`
        `float32`, or `int8` (`ONNX_INT8_RECIPE`).
    threads : `int`, optional (default = `torch.get_num_threads()`)
        ONNX Runtime's intra-op threads.
    """

    def __init__(
        self, transformer: torch.nn.Module, layers: List[int], path: str, precision: str, threads: int = 0
    ) -> None:
        import onnxruntime

        self.layers = list(layers)
        self.path = path
        if not os.path.exists(path):
            export_layer_stack(transformer, self.layers, path, precision)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        try:
            self.session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        except Exception as error:  # noqa: BLE001 - onnxruntime's own types (InvalidProtobuf, Fail)
            raise ConfigurationError(
                f"{path}: ONNX Runtime cannot load this graph ({error}); delete the file to export "
                "it again, or use runtime torch (XNER_ENCODER_RUNTIME=torch)"
            ) from None

    def __call__(self, hidden: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        """`(batch, pieces, len(layers), dim)` from the embeddings' output `(batch, pieces, dim)`."""
        (states,) = self.session.run(
            None,
            {
                "hidden": hidden.detach().cpu().numpy().astype(np.float32, copy=False),
                "attention_mask": attention.detach().cpu().numpy().astype(np.int64, copy=False),
            },
        )
        return torch.from_numpy(states).permute(1, 2, 0, 3)


def layer_states(
    transformer: torch.nn.Module, hidden: torch.Tensor, attention: torch.Tensor, start: int, stop: int
) -> List[torch.Tensor]:
    """
    Hidden states `start..stop` of a BERT-style `transformer` from hidden state `start`
    (`hidden`, `(batch, pieces, dim)`) and the attention mask, as its own forward computes
    them (the loop over `encoder.layer[start:stop]`). The embedder's frozen lower pass, its
    trained top layers and the ONNX export all run this one loop.
    """
    extended = transformer.get_extended_attention_mask(attention, attention.shape)
    states = [hidden]
    for layer in transformer.encoder.layer[start:stop]:
        hidden = layer(hidden, attention_mask=extended)[0]
        states.append(hidden)
    return states


class _LayerStack(torch.nn.Module):
    def __init__(self, transformer: torch.nn.Module, layers: List[int]) -> None:
        super().__init__()
        self.transformer = transformer
        self.layers = layers

    def forward(self, hidden: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        states = layer_states(self.transformer, hidden, attention, 0, max(self.layers))
        return torch.stack([states[k] for k in self.layers], dim=0)


def export_layer_stack(transformer: torch.nn.Module, layers: List[int], path: str, precision: str) -> None:
    """
    Exports `transformer`'s layers up to `max(layers)` to `path`: traced with torch's ONNX
    exporter, its attention and layer norms fused by ONNX Runtime's BERT optimizer (BERT and
    RoBERTa-style configs), checked against torch on a padded batch, then for `int8` quantised
    (`onnxruntime.quantization.quantize_dynamic`, per-channel weights) except the feed-forward
    down-projections, whose GELU inputs one activation scale cannot hold (see
    `quantize_linear_layers`). Written to a temporary file and renamed, so an interrupted
    export leaves nothing that could be read.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    config = transformer.config
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    probe_ids = torch.randint(5, config.vocab_size, (2, 9), generator=torch.Generator().manual_seed(0))
    probe_mask = torch.ones_like(probe_ids)
    probe_mask[1, 6:] = 0
    stack = _LayerStack(transformer, layers)
    was_training = transformer.training
    transformer.eval()
    try:
        with torch.no_grad():
            probe = transformer.embeddings(input_ids=probe_ids)
            expected = stack(probe, probe_mask)
        with tempfile.TemporaryDirectory(dir=directory, prefix=".export-") as scratch:
            traced = os.path.join(scratch, "traced.onnx")
            with _quiet(), torch.no_grad():
                torch.onnx.export(
                    stack,
                    (probe, probe_mask),
                    traced,
                    input_names=["hidden", "attention_mask"],
                    output_names=["states"],
                    dynamic_axes={
                        "hidden": {0: "batch", 1: "pieces"},
                        "attention_mask": {0: "batch", 1: "pieces"},
                        "states": {1: "batch", 2: "pieces"},
                    },
                    opset_version=17,
                )
            graph = _fused(traced, config)
            _check_export(graph, probe, probe_mask, expected, path)
            if precision == "int8":
                model = onnx.load(graph)
                weights = {tensor.name: tuple(tensor.dims) for tensor in model.graph.initializer}
                down = [
                    node.name
                    for node in model.graph.node
                    if node.op_type == "MatMul"
                    and weights.get(node.input[1], (None,))[0] == config.intermediate_size
                ]
                quantized = os.path.join(scratch, "int8.onnx")
                with _quiet():
                    quantize_dynamic(
                        graph,
                        quantized,
                        weight_type=QuantType.QInt8,
                        per_channel=True,
                        nodes_to_exclude=down,
                        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
                    )
                graph = quantized
            os.replace(graph, path)
    finally:
        # torch.onnx.export leaves the module in training mode (dropout on) whatever it was.
        transformer.train(was_training)
    logger.info("exported the encoder's layers %s to %s (%s)", layers, path, precision)


def _fused(traced: str, config) -> str:
    if getattr(config, "model_type", None) not in ("bert", "roberta", "xlm-roberta"):
        return traced
    from onnxruntime.transformers import optimizer

    with _quiet():
        fused = optimizer.optimize_model(
            traced,
            model_type="bert",
            num_heads=config.num_attention_heads,
            hidden_size=config.hidden_size,
            opt_level=1,
        )
    path = traced[: -len(".onnx")] + ".fused.onnx"
    fused.save_model_to_file(path)
    return path


def _check_export(graph: str, probe, probe_mask, expected: torch.Tensor, path: str) -> None:
    import onnxruntime

    session = onnxruntime.InferenceSession(graph, providers=["CPUExecutionProvider"])
    (states,) = session.run(None, {"hidden": probe.numpy(), "attention_mask": probe_mask.numpy()})
    valid = probe_mask.bool().numpy()
    difference = float(np.abs(states[:, valid] - expected.numpy()[:, valid]).max())
    if not difference <= EXPORT_TOLERANCE:
        raise ConfigurationError(
            f"{path}: the ONNX export of the encoder does not reproduce torch's hidden states "
            f"(max difference {difference:.2g}, expected <= {EXPORT_TOLERANCE}); use runtime torch "
            "(XNER_ENCODER_RUNTIME=torch)"
        )


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The exporter's tracer warnings and the optimizer's and quantiser's INFO lines are
    about the graph's internals, not about anything the user can change."""
    loggers = [logging.getLogger(name) for name in ("onnxruntime", "root", "onnx")]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for each in loggers:
            each.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for each, level in zip(loggers, levels):
                each.setLevel(level)
