import contextlib
import functools
import hashlib
import json
import logging
import os
import zipfile
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from allennlp.common.checks import ConfigurationError
from allennlp.modules.scalar_mix import ScalarMix
from allennlp.modules.token_embedders import TokenEmbedder

from xner_allennlp.pretrained.resolve import (
    default_store,
    file_sha256,
    has_weights,
    memo_get,
    memo_put,
    resolve_encoder,
    resolve_weights,
)
from xner_allennlp.token_embedders.feature_cache import FeatureCache, default_feature_cache_dir
from xner_allennlp.token_embedders.onnx_layers import (
    ONNX_INT8_RECIPE,
    OnnxEncoderLayers,
    layer_states,
    onnxruntime_available,
)

logger = logging.getLogger(__name__)

# Part of every cache key: bump it when the way features are computed changes.
_RECIPE_VERSION = 1
LAYER_MIXES = ("mean", "scalar_mix")
SUB_TOKEN_MODES = ("first", "avg")
PRECISIONS = ("float32", "int8")
RUNTIMES = ("auto", "torch", "onnxruntime")
# Part of the fingerprint of int8 features: what `quantize_linear_layers` does.
INT8_RECIPE = "int8: dynamic, per-channel weights, feed-forward down-projections float32"


def _keep_quantized_weights(*args, **kwargs) -> None:
    """`_load_from_state_dict` of the modules of an int8 encoder: their weights come from the
    encoder's file, never from a checkpoint. (Reloading its own state would not even work for
    a checkpoint of a float32 model: the metadata of its Linear layers makes torch's quantised
    Linear read the checkpoint as its legacy format.)"""


def _drop_frozen_transformer(module, state_dict, prefix, local_metadata, keep: Tuple[str, ...] = ()):
    # `keep`: the fine-tuned top layers (train_layers), which the archive must carry.
    for key in [k for k in state_dict if k.startswith(prefix + "transformer.")]:
        if not key[len(prefix) :].startswith(keep):
            del state_dict[key]
    return state_dict


@TokenEmbedder.register("cached_transformer_mismatched")
class CachedTransformerMismatchedEmbedder(TokenEmbedder):
    """
    Word-level features of a pretrained transformer (the wordpieces of
    `pretrained_transformer_mismatched` / `surface_transformer_mismatched`, one vector per
    word), with the frozen encoder's features computed once per sentence and cached.

    With a frozen encoder (`train_parameters: false`, the CPU default) the hidden states of a
    sentence never change, so each sentence is encoded once: its word features at the chosen
    `layers` are kept (float16) in memory and, with `cache_dir`, in an SQLite file keyed by a
    fingerprint of the encoder's weights and this recipe and, per sentence, by its wordpieces
    and word offsets. A changed encoder, layer list or pooling is a different fingerprint, so
    stale features are never read. Only the layer mix (and whatever follows) trains.

    Sentences longer than `max_length` wordpieces are split into windows at word boundaries
    (each run with its own start and end pieces) and the features concatenated: nothing is
    truncated.

    With `train_layers = t > 0` the top `t` transformer layers are fine-tuned and the rest stays
    frozen and cached: each window's wordpiece states at hidden state `k = num_layers - t` (the
    input of the first trained layer) are cached (float16) beside the word features of the
    cached `layers` up to `k`, and every forward pass runs only the top `t` layers on them, with
    gradients. Mixed layers above `k` come from those layers; the fingerprint covers only the
    frozen weights, so the cache stays valid while the top layers train. The top layers' weights
    are saved in the model's state dict (and so in the archive); the frozen ones keep coming
    from the encoder's weights file (the encoder store).

    Registered as a `TokenEmbedder` with name "cached_transformer_mismatched".

    # Parameters

    model_name : `str`
        A transformers checkpoint directory or Hugging Face name (the indexer's).
    layers : `Union[str, List[int]]`, optional (default = `"last"`)
        Hidden-state indices to use (0 = the embedding layer, -1 = the last layer), or `"last"`
        / `"all"`.
    cache_layers : `Union[str, List[int]]`, optional (default = `layers`)
        The hidden states kept in the cache, a superset of `layers`: configs that cache the
        same layers share one cache whatever subset they mix.
    layer_mix : `str`, optional (default = `"mean"`)
        `"mean"` averages the `layers`; `"scalar_mix"` learns softmax weights and a scale
        over them (allennlp's `ScalarMix`).
    sub_token_mode : `str`, optional (default = `"avg"`)
        A word's vector is the average of its pieces (`"avg"`) or its first piece (`"first"`).
    max_length : `int`, optional (default = `512`)
        Wordpieces per window, start and end pieces included.
    train_parameters : `bool`, optional (default = `False`)
        Fine-tune the encoder (GPU users). Features are then computed every time, not cached.
    cache_dir : `str`, optional (default = `None`)
        Directory of the on-disk feature cache; `"default"` means `$XNER_FEATURE_CACHE` or
        `~/.cache/xner_allennlp/features`. `None` caches in memory only.
    max_cache_gb : `float`, optional (default = `4.0`)
        Memory bound of the in-memory cache (0: none, every entry is read from disk).
    encode_batch_pieces : `int`, optional (default = `1024`)
        Wordpieces per encoder forward pass when filling the cache (padding included; small
        passes are fastest on CPU: 1,900 pieces/s on 2 cores against 1,100 at 8,192).
    train_layers : `int`, optional (default = `0`)
        Fine-tune the top `train_layers` transformer layers (0 = none: the frozen path), with
        the lower layers frozen and cached (above). At most the encoder's number of layers; not
        with `train_parameters`.
    load_weights : `bool`, optional (default = `True`)
        Load the checkpoint's weights (set to `False` when an archive's weights follow).
    precision : `str`, optional (default = `"float32"`)
        Arithmetic of the frozen encoder's forward pass: `"float32"`, or `"int8"`: the
        encoder's `torch.nn.Linear` layers replaced by torch's dynamic int8 version
        (`torch.ao.quantization.quantize_dynamic`: int8 weights per output channel, each
        pass's activations quantised with one scale; the feed-forward down-projections stay
        float32, `quantize_linear_layers`), CPU only, for feature caching and prediction
        alike. The precision is part of the cache fingerprint, so features of one precision
        are never read for the other. A model trained on one precision can be tagged with the
        other (override the key).
    runtime : `str`, optional (default = `"auto"`)
        What runs the frozen encoder's layers: `"torch"`, or `"onnxruntime"`: the layer stack
        exported to ONNX Runtime once (`onnx_layers.OnnxEncoderLayers`, kept in the encoder
        store), its attention fused, CPU only: 1.11x torch's speed in float32 and 1.74x in int8
        (benchmarks/encoder_speed.py), whose recipe is then ONNX Runtime's (`ONNX_INT8_RECIPE`,
        with its own fingerprint).
        In float32 the two runtimes give the same states (to 5e-6, below the cache's float16
        resolution), so they share the fingerprint and the cache. `"auto"` is `"onnxruntime"`
        where it applies (a frozen BERT-style encoder, `train_layers` 0, onnxruntime
        installed) and `"torch"` elsewhere; a float32 model moved to a GPU runs in torch.
    serialization_dir : `str`, optional
        Filled in by allennlp; lets an archive find its own copy of the encoder's config.
    """

    def __init__(
        self,
        model_name: str,
        layers: Union[str, Sequence[int]] = "last",
        cache_layers: Optional[Union[str, Sequence[int]]] = None,
        layer_mix: str = "mean",
        sub_token_mode: str = "avg",
        max_length: int = 512,
        train_parameters: bool = False,
        cache_dir: Optional[str] = None,
        max_cache_gb: float = 4.0,
        encode_batch_pieces: int = 1024,
        train_layers: int = 0,
        load_weights: bool = True,
        precision: str = "float32",
        runtime: str = "auto",
        serialization_dir: Optional[str] = None,
    ) -> None:
        super().__init__()
        from transformers import AutoConfig, AutoModel

        self._weights_sha: Optional[str] = None
        self._fingerprint: Optional[str] = None
        self.precision = precision
        if layer_mix not in LAYER_MIXES:
            raise ConfigurationError(f"layer_mix {layer_mix!r} is not one of {', '.join(LAYER_MIXES)}")
        if sub_token_mode not in SUB_TOKEN_MODES:
            raise ConfigurationError(
                f"sub_token_mode {sub_token_mode!r} is not one of {', '.join(SUB_TOKEN_MODES)}"
            )
        if max_length < 3:
            raise ConfigurationError(f"max_length must be at least 3, got {max_length}")
        if precision not in PRECISIONS:
            raise ConfigurationError(
                f"precision {precision!r} is not one of {', '.join(PRECISIONS)} "
                "(cached_transformer_mismatched's precision; XNER_ENCODER_PRECISION in the encoder configs)"
            )
        if runtime not in RUNTIMES:
            raise ConfigurationError(
                f"runtime {runtime!r} is not one of {', '.join(RUNTIMES)} "
                "(cached_transformer_mismatched's runtime; XNER_ENCODER_RUNTIME in the encoder configs)"
            )
        if precision != "float32" and train_parameters:
            raise ConfigurationError(
                f"precision {precision!r} needs a frozen encoder (train_parameters false): "
                "int8 layers do not train"
            )
        source = resolve_encoder(model_name, serialization_dir)
        config = AutoConfig.from_pretrained(source)
        num_layers = config.num_hidden_layers
        if (
            isinstance(train_layers, bool)
            or not isinstance(train_layers, int)
            or not 0 <= train_layers <= num_layers
        ):
            raise ConfigurationError(
                f"train_layers (XNER_TRAIN_LAYERS) must be an integer in 0..{num_layers}, the "
                f"encoder's number of layers to fine-tune from the top; got {train_layers!r}"
            )
        if train_layers and train_parameters:
            raise ConfigurationError(
                "train_layers fine-tunes the top layers of a frozen, cached encoder; "
                "train_parameters (XNER_TRAIN_ENCODER) fine-tunes all of it: set one of them"
            )
        if train_parameters:
            # Fine-tuned weights live in the model's state dict (and so in the archive).
            if load_weights and (has_weights(source) or not os.path.isdir(source)):
                self.transformer = AutoModel.from_pretrained(source)
            else:
                self.transformer = AutoModel.from_config(config)
        else:
            weights = resolve_weights(model_name, source, serialization_dir) if load_weights else None
            if weights is None and load_weights:
                self.transformer = AutoModel.from_pretrained(source)
            elif weights is None:
                self.transformer = AutoModel.from_config(config)
            else:
                self.transformer = _load_frozen_transformer(config, weights, source)
                # Identifies the weights for the fingerprint's memo (`fingerprint`).
                self._weights_sha = file_sha256(weights)
        # The hidden state the trained top layers start from (all layers frozen: the last).
        self.train_layers = train_layers
        self._boundary = num_layers - train_layers
        self._top_prefixes = tuple(f"encoder.layer.{i}." for i in range(self._boundary, num_layers))
        if train_layers and not _has_layer_stack(self.transformer, num_layers):
            raise ConfigurationError(
                f"train_layers needs a BERT-style encoder (embeddings, encoder.layer[0..{num_layers - 1}]); "
                f"{model_name} is a {type(self.transformer).__name__}"
            )
        self.runtime = self._resolve_runtime(runtime, model_name, num_layers, train_parameters)
        self._onnx: Optional[OnnxEncoderLayers] = None
        if not train_parameters:
            # Frozen weights are identified by their file, not saved with every checkpoint.
            self._register_state_dict_hook(
                functools.partial(
                    _drop_frozen_transformer, keep=tuple("transformer." + p for p in self._top_prefixes)
                )
            )
        num_hidden = num_layers + 1
        self.layers = _layer_indices(layers, num_hidden)
        self.cache_layers = self.layers if cache_layers is None else _layer_indices(cache_layers, num_hidden)
        not_cached = [i for i in self.layers if i not in self.cache_layers]
        if not_cached:
            raise ConfigurationError(f"layers {not_cached} are not in cache_layers {self.cache_layers}")
        # Positions of `layers` inside a cached entry.
        self._selected = [self.cache_layers.index(i) for i in self.layers]
        self.layer_mix = layer_mix
        self.sub_token_mode = sub_token_mode
        self.max_length = min(max_length, getattr(config, "max_position_embeddings", max_length))
        self.train_parameters = train_parameters
        self.encode_batch_pieces = encode_batch_pieces
        # The encoder as the config names it, not the directory its config was read from (an
        # archive's copy is extracted to a new temporary directory at every load). Where the two
        # agree this is `config.to_json_string()`, so existing caches stay valid.
        config_dict = config.to_diff_dict()
        config_dict["_name_or_path"] = model_name
        self._config_json = json.dumps(config_dict, indent=2, sort_keys=True) + "\n"
        for name, parameter in self.transformer.named_parameters():
            parameter.requires_grad = train_parameters or name.startswith(self._top_prefixes)
        # train_layers: the cached layers up to the boundary (word features), the mixed layers
        # that come from them and those that come from the trained top layers.
        self._low_cache_layers = [i for i in self.cache_layers if i <= self._boundary]
        self._top_selected = [i for i in self.layers if i > self._boundary]
        self._low_selected = [self._low_cache_layers.index(i) for i in self.layers if i <= self._boundary]
        # Position of each of `layers` in [frozen ones..., trained ones...].
        ranks = [i for i in self.layers if i <= self._boundary] + self._top_selected
        self._mix_order = [ranks.index(i) for i in self.layers]
        if train_layers and not self._top_selected:
            raise ConfigurationError(
                f"train_layers {train_layers} trains hidden states {self._boundary + 1}..{num_layers}, "
                f"but layers {self.layers} mixes none of them: add the last layer to layers"
            )
        self._piece_cache: Optional[FeatureCache] = None
        self._scalar_mix = (
            ScalarMix(len(self.layers)) if layer_mix == "scalar_mix" and len(self.layers) > 1 else None
        )
        self._output_dim = config.hidden_size
        self._cache_dir = default_feature_cache_dir() if cache_dir == "default" else cache_dir
        self._max_cache_bytes = int(max_cache_gb * 1024**3)
        self._cache: Optional[FeatureCache] = None
        if precision == "int8" and self.runtime == "torch":
            # The fingerprint hashes the float weights, the ones the file holds: taken first.
            self.fingerprint()
            # The fine-tuned top layers (train_layers) stay float32, and are loaded from the
            # checkpoint; the frozen rest never is.
            quantize_linear_layers(
                self.transformer,
                source,
                skip=self._top_prefixes,
                float_input_features=getattr(config, "intermediate_size", None),
            )
            for name, module in self.transformer.named_modules():
                if not (name + ".").startswith(self._top_prefixes):
                    module._load_from_state_dict = _keep_quantized_weights

    def _resolve_runtime(self, runtime: str, model_name: str, num_layers: int, train_parameters: bool) -> str:
        reason = None
        if train_parameters or self.train_layers:
            reason = "it runs a frozen encoder only, not with train_parameters or train_layers"
        elif not _has_layer_stack(self.transformer, num_layers) or not hasattr(
            self.transformer, "get_extended_attention_mask"
        ):
            reason = f"it needs a BERT-style encoder, and {model_name} is a {type(self.transformer).__name__}"
        elif not onnxruntime_available():
            reason = "onnxruntime and onnx are not installed (pip install onnxruntime onnx)"
        if runtime == "onnxruntime" and reason is not None:
            raise ConfigurationError(f"runtime onnxruntime (XNER_ENCODER_RUNTIME) does not apply: {reason}")
        if runtime == "torch" or reason is not None:
            return "torch"
        return "onnxruntime"

    def get_output_dim(self) -> int:
        return self._output_dim

    # ------------------------------------------------------------------ cache

    def fingerprint(self) -> str:
        """Hash of the encoder's weights and architecture and of this feature recipe (the
        precision included, when it is not float32; with `train_layers`, of the frozen weights
        only: the trained top layers never enter the cache)."""
        if self._fingerprint is not None:
            return self._fingerprint
        recipe = {
            "recipe": _RECIPE_VERSION,
            "config": self._config_json,
            "layers": self.cache_layers,
            "sub_token_mode": self.sub_token_mode,
            "max_length": self.max_length,
        }
        if self.train_layers:
            recipe.update(layers=self._low_cache_layers, boundary=self._boundary)
        if self.precision != "float32":
            recipe["precision"] = ONNX_INT8_RECIPE if self.runtime == "onnxruntime" else INT8_RECIPE
        head = json.dumps(recipe, sort_keys=True)
        state = {
            name: tensor
            for name, tensor in self.transformer.state_dict().items()
            if not (self.train_layers and name.startswith(self._top_prefixes))
        }
        # Frozen weights straight from a file: the hash of the 470 MB of tensors (1 s) is a
        # function of the file's SHA-256 (itself memoised), the recipe and the state's names.
        memo_key = (
            json.dumps([head, self._weights_sha, sorted(state)]) if self._weights_sha is not None else None
        )
        fingerprint = memo_get("fingerprint", memo_key) if memo_key is not None else None
        if fingerprint is None:
            digest = hashlib.blake2b(digest_size=16)
            digest.update(head.encode())
            for name, tensor in sorted(state.items()):
                digest.update(name.encode())
                # The buffer itself, not a copy: this hashes every weight once per process.
                digest.update(memoryview(tensor.detach().cpu().contiguous().numpy()).cast("B"))
            fingerprint = digest.hexdigest()
            if memo_key is not None:
                memo_put("fingerprint", memo_key, fingerprint)
        if not self.train_parameters:
            # Frozen: the weights stay what they are now (`_load_from_state_dict` says when not).
            self._fingerprint = fingerprint
        return fingerprint

    @property
    def cache(self) -> FeatureCache:
        # Built at first use, after an archive's weights.th has replaced the initial weights.
        if self._cache is None:
            layers = self._low_cache_layers if self.train_layers else self.cache_layers
            self._cache = FeatureCache(
                self.fingerprint(),
                (len(layers), self._output_dim),
                max_memory_bytes=self._max_cache_bytes,
                cache_dir=self._cache_dir,
            )
            logger.info("encoder feature cache %s", self._cache.path or self._cache.fingerprint)
        return self._cache

    @property
    def piece_cache(self) -> FeatureCache:
        """train_layers: each sentence's wordpiece states at the boundary, window after window
        (start and end pieces included), shape `(pieces, 1, dim)`."""
        if self._piece_cache is None:
            self._piece_cache = FeatureCache(
                self.cache.fingerprint + "-pieces",
                (1, self._output_dim),
                max_memory_bytes=self._max_cache_bytes,
                cache_dir=self._cache_dir,
            )
        return self._piece_cache

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        if not self.train_parameters:
            frozen = prefix + "transformer."
            top = tuple(frozen + p for p in self._top_prefixes)
            if any(key.startswith(frozen) and not key.startswith(top) for key in state_dict):
                # Frozen weights from a checkpoint after all: no longer those of the file.
                if self.precision != "float32" and self.runtime == "torch":
                    raise ConfigurationError(
                        f"the checkpoint holds the frozen encoder's weights ({prefix}transformer.*), "
                        f"which cannot be loaded into its {self.precision} layers: use precision float32"
                    )
                self._weights_sha = None
                self._fingerprint = None
                self._onnx = None
            if self.precision == "float32" or self.runtime == "onnxruntime":
                # Checkpoints hold no frozen weights: keep the ones loaded from their file.
                # (int8 layers are not reloaded at all: `_keep_quantized_weights`.)
                for name, tensor in self.transformer.state_dict().items():
                    state_dict.setdefault(prefix + "transformer." + name, tensor)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._cache = None
        self._piece_cache = None

    # ------------------------------------------------------------------ forward

    def forward(
        self,
        token_ids: torch.LongTensor,
        mask: torch.BoolTensor,
        offsets: torch.LongTensor,
        wordpiece_mask: torch.BoolTensor,
        type_ids: Optional[torch.LongTensor] = None,
        segment_concat_mask: Optional[torch.BoolTensor] = None,
    ) -> torch.Tensor:
        self._check_precision_device(token_ids.device)
        rows = _rows(token_ids, mask, offsets, wordpiece_mask)
        batch, words = mask.shape
        if self.train_layers:
            stacked = self._partly_trained_features(rows, words).to(token_ids.device)
        elif self.train_parameters:
            stacked = token_ids.new_zeros(
                (batch, words, len(self.layers), self._output_dim), dtype=torch.float
            )
            for b, value in enumerate(self._encode(rows, grad=True, layers=self.layers)):
                stacked[b, : value.shape[0]] = value
        else:
            # Assembled in numpy: cached entries are read-only float16 arrays.
            features = np.zeros((batch, words, len(self.layers), self._output_dim), dtype=np.float32)
            for b, cached in enumerate(self._cached_features(rows)[0]):
                features[b, : cached.shape[0]] = cached[:, self._selected]
            stacked = torch.from_numpy(features).to(token_ids.device)
        if self._scalar_mix is not None:
            layers = [stacked[:, :, i] for i in range(len(self.layers))]
            return self._scalar_mix(layers, mask)
        return stacked.mean(dim=2)

    def precompute(
        self,
        token_ids: torch.LongTensor,
        mask: torch.BoolTensor,
        offsets: torch.LongTensor,
        wordpiece_mask: torch.BoolTensor,
        **unused,
    ) -> int:
        """
        Puts the features of a batch (the indexer's tensors, as `forward` takes them) into the
        cache without mixing or returning them; returns how many sentences were computed (the
        others were cached already). The step of `allennlp xner-cache`.
        """
        if self.train_parameters:
            raise ConfigurationError("a fine-tuned encoder (train_parameters true) has no feature cache")
        rows = _rows(token_ids, mask, offsets, wordpiece_mask)
        return (self._cached_lower(rows) if self.train_layers else self._cached_features(rows))[-1]

    def _cached_features(self, rows: List[Tuple[np.ndarray, np.ndarray]]) -> Tuple[List[np.ndarray], int]:
        """The cached entry of every row, computing the missing ones (each distinct sentence
        once), and how many were computed."""
        cache = self.cache
        keys = [_key(pieces, offsets) for pieces, offsets in rows]
        found = cache.get_many(keys)
        missing = _first_missing(keys, found)
        if missing:
            computed = self._encode([rows[i] for i in missing], grad=False, layers=self.cache_layers)
            # Everything goes through float16, hit or miss, so the first epoch and later ones
            # see the same features.
            computed16 = {
                keys[i]: value.to(torch.float16).cpu().numpy() for i, value in zip(missing, computed)
            }
            cache.put_many(computed16.items())
            for i, value in enumerate(found):
                if value is None:
                    found[i] = computed16[keys[i]]
        return found, len(missing)  # type: ignore[return-value]

    def _row_windows(self, rows: List[Tuple[np.ndarray, np.ndarray]]) -> List[List[Tuple[int, int]]]:
        """Each row's windows `(start, end)` into its content pieces, in order."""
        return [_windows(len(pieces) - 2, offsets - 1, self.max_length - 2) for pieces, offsets in rows]

    def _window_chunks(self, windows: List[List[Tuple[int, int]]]) -> List[List[Tuple[int, int, int, int]]]:
        """The windows `(row, window, start, end)` grouped into encoder passes: shortest first,
        so that each pass pads little; a pass holds up to `encode_batch_pieces` wordpieces,
        padding included."""
        order = sorted(
            ((r, w, start, end) for r, row in enumerate(windows) for w, (start, end) in enumerate(row)),
            key=lambda window: window[3] - window[2],
        )
        chunks = []
        while order:
            take = 1
            while (
                take < len(order)
                and (take + 1) * (order[take][3] - order[take][2] + 2) <= self.encode_batch_pieces
            ):
                take += 1
            chunks.append(order[:take])
            order = order[take:]
        return chunks

    def _chunk_inputs(
        self, rows: List[Tuple[np.ndarray, np.ndarray]], chunk: List[Tuple[int, int, int, int]]
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Padded wordpiece ids and attention mask of a pass; every window gets the row's own
        start and end pieces."""
        width = max(end - start for _, _, start, end in chunk) + 2
        ids = torch.full((len(chunk), width), self._pad_id(), dtype=torch.long)
        attention = torch.zeros((len(chunk), width), dtype=torch.long)
        for j, (r, _, start, end) in enumerate(chunk):
            pieces = rows[r][0]
            ids[j, 0] = int(pieces[0])
            ids[j, 1 : 1 + end - start] = torch.from_numpy(pieces[1 + start : 1 + end].astype(np.int64))
            ids[j, 1 + end - start] = int(pieces[-1])
            attention[j, : end - start + 2] = 1
        device = self._device()
        return ids.to(device), attention.to(device)

    def _device(self) -> torch.device:
        return next(self.transformer.parameters()).device

    def _encode(
        self, rows: List[Tuple[np.ndarray, np.ndarray]], grad: bool, layers: List[int]
    ) -> List[torch.Tensor]:
        """Word features `(words, len(layers), dim)` of each row (wordpieces, word offsets)."""
        device = self._device()
        content_states = [
            torch.zeros((len(p) - 2, len(layers), self._output_dim), device=device) for p, _ in rows
        ]
        self.transformer.train(grad and self.training)
        with torch.enable_grad() if grad else torch.no_grad():
            onnx = self._onnx_layers(layers) if not grad else None
            for chunk in self._window_chunks(self._row_windows(rows)):
                ids, attention = self._chunk_inputs(rows, chunk)
                if onnx is not None:
                    hidden = self._onnx_states(onnx, ids, attention, layers)
                else:
                    output = self.transformer(
                        input_ids=ids, attention_mask=attention, output_hidden_states=True
                    )
                    hidden = torch.stack([output.hidden_states[k] for k in layers], dim=2)
                for j, (r, _, start, end) in enumerate(chunk):
                    content_states[r][start:end] = hidden[j, 1 : 1 + end - start]
        return [self._pool_words(states, offsets) for (_, offsets), states in zip(rows, content_states)]

    def _check_precision_device(self, device: torch.device) -> None:
        if self.precision == "int8" and device.type != "cpu":
            raise ConfigurationError(
                f"precision int8 runs on CPU only (dynamic quantisation), the batch is on "
                f"{device}: use precision float32 on a GPU"
            )

    def _onnx_layers(self, layers: List[int]) -> Optional[OnnxEncoderLayers]:
        """The ONNX Runtime session of `layers` (`runtime`), or None where torch runs them: a
        float32 encoder on a GPU (torch's states are the same) or `layers` = [0] alone."""
        if self.runtime != "onnxruntime" or max(layers) == 0:
            return None
        if self._device().type != "cpu":
            self._check_precision_device(self._device())
            return None
        wanted = [k for k in layers if k > 0]
        if self._onnx is None or self._onnx.layers != wanted:
            # Named by the features' fingerprint: the weights, the cached layers and the precision.
            path = os.path.join(
                default_store(), "onnx", f"{self.fingerprint()}-{'-'.join(map(str, wanted))}.onnx"
            )
            self._onnx = OnnxEncoderLayers(self.transformer, wanted, path, self.precision)
        return self._onnx

    def _onnx_states(
        self, onnx: OnnxEncoderLayers, ids: torch.Tensor, attention: torch.Tensor, layers: List[int]
    ) -> torch.Tensor:
        """`(batch, pieces, len(layers), dim)` as torch's `hidden_states` would give them."""
        embedded = self.transformer.embeddings(input_ids=ids)
        states = onnx(embedded, attention)
        if 0 not in layers:
            return states
        above = iter(range(states.shape[2]))
        return torch.stack([embedded if k == 0 else states[:, :, next(above)] for k in layers], dim=2)

    # ------------------------------------------------------------------ train_layers

    def _partly_trained_features(self, rows: List[Tuple[np.ndarray, np.ndarray]], words: int) -> torch.Tensor:
        """`(batch, words, len(layers), dim)`: the cached frozen layers' word features and the
        trained top layers' (with gradients), in the order of `layers`."""
        low, pieces, _ = self._cached_lower(rows)
        top = self._encode_top(rows, pieces)
        stacked = torch.zeros((len(rows), words, len(self.layers), self._output_dim), device=self._device())
        for b, (low_row, top_row) in enumerate(zip(low, top)):
            frozen = torch.from_numpy(low_row[:, self._low_selected].astype(np.float32)).to(stacked.device)
            stacked[b, : top_row.shape[0]] = torch.cat([frozen, top_row], dim=1)[:, self._mix_order]
        return stacked

    def _cached_lower(
        self, rows: List[Tuple[np.ndarray, np.ndarray]]
    ) -> Tuple[List[np.ndarray], List[np.ndarray], int]:
        """Each row's cached word features of the frozen layers and its boundary piece states,
        and how many rows were computed: rows missing from either cache go through the frozen
        lower layers once (each distinct sentence once), filling both."""
        keys = [_key(pieces, offsets) for pieces, offsets in rows]
        low = self.cache.get_many(keys)
        pieces = self.piece_cache.get_many(keys)
        missing = _first_missing(keys, low, pieces)
        if missing:
            computed_low, computed_pieces = self._encode_lower([rows[i] for i in missing])
            # Through float16 hit or miss, so the first epoch and later ones see the same input.
            low16 = {keys[i]: v.to(torch.float16).cpu().numpy() for i, v in zip(missing, computed_low)}
            pieces16 = {
                keys[i]: v.to(torch.float16).cpu().numpy()[:, None] for i, v in zip(missing, computed_pieces)
            }
            self.cache.put_many(low16.items())
            self.piece_cache.put_many(pieces16.items())
            for i, key in enumerate(keys):
                if key in low16:
                    low[i], pieces[i] = low16[key], pieces16[key]
        return low, pieces, len(missing)  # type: ignore[return-value]

    def _lower_states(self, ids: torch.Tensor, attention: torch.Tensor) -> List[torch.Tensor]:
        """Hidden states 0..boundary, as the transformer's own forward computes them."""
        hidden = self.transformer.embeddings(input_ids=ids)
        return layer_states(self.transformer, hidden, attention, 0, self._boundary)

    def _encode_lower(
        self, rows: List[Tuple[np.ndarray, np.ndarray]]
    ) -> Tuple[List[torch.Tensor], List[torch.Tensor]]:
        """Frozen pass: word features `(words, len(low cache layers), dim)` and boundary piece
        states `(window pieces, dim)` of each row."""
        windows = self._row_windows(rows)
        device = self._device()
        dim = self._output_dim
        content = [
            torch.zeros((len(p) - 2, len(self._low_cache_layers), dim), device=device) for p, _ in rows
        ]
        spans = _window_spans(windows)
        boundary = [
            torch.zeros((spans[r][-1][1] if spans[r] else 0, dim), device=device) for r in range(len(rows))
        ]
        self.transformer.eval()
        with torch.no_grad():
            for chunk in self._window_chunks(windows):
                ids, attention = self._chunk_inputs(rows, chunk)
                states = self._lower_states(ids, attention)
                hidden = (
                    torch.stack([states[k] for k in self._low_cache_layers], dim=2)
                    if self._low_cache_layers
                    else None
                )
                for j, (r, w, start, end) in enumerate(chunk):
                    if hidden is not None:
                        content[r][start:end] = hidden[j, 1 : 1 + end - start]
                    first, last = spans[r][w]
                    boundary[r][first:last] = states[self._boundary][j, : last - first]
        return [self._pool_words(c, offsets) for (_, offsets), c in zip(rows, content)], boundary

    def _encode_top(
        self, rows: List[Tuple[np.ndarray, np.ndarray]], pieces: List[np.ndarray]
    ) -> List[torch.Tensor]:
        """Trained pass: the top layers on the cached boundary states, with gradients; word
        features `(words, len(top mixed layers), dim)` of each row."""
        windows = self._row_windows(rows)
        spans = _window_spans(windows)
        device = self._device()
        dim = self._output_dim
        wanted = self._top_selected
        content = [torch.zeros((len(p) - 2, len(wanted), dim), device=device) for p, _ in rows]
        inputs = [torch.from_numpy(value[:, 0].astype(np.float32)).to(device) for value in pieces]
        for layer in self.transformer.encoder.layer[self._boundary :]:
            layer.train(self.training)
        for chunk in self._window_chunks(windows):
            _, attention = self._chunk_inputs(rows, chunk)
            hidden = torch.zeros((len(chunk), attention.shape[1], dim), device=device)
            for j, (r, w, _, _) in enumerate(chunk):
                first, last = spans[r][w]
                hidden[j, : last - first] = inputs[r][first:last]
            # states[i] is hidden state boundary + i.
            states = layer_states(
                self.transformer, hidden, attention, self._boundary, len(self.transformer.encoder.layer)
            )
            stacked = torch.stack([states[k - self._boundary] for k in wanted], dim=2)
            for j, (r, _, start, end) in enumerate(chunk):
                content[r][start:end] = stacked[j, 1 : 1 + end - start]
        return [self._pool_words(c, offsets) for (_, offsets), c in zip(rows, content)]

    def _pool_words(self, states: torch.Tensor, offsets: np.ndarray) -> torch.Tensor:
        """One vector per word from its pieces' states (first piece, or their average); zeros
        for a word without pieces, as in allennlp."""
        words = states.new_zeros((len(offsets), states.shape[1], states.shape[2]))
        valid = np.flatnonzero(offsets[:, 0] >= 1)
        if not len(valid):
            return words

        def index(array: np.ndarray) -> torch.Tensor:
            # On the states' device: index_add_ refuses CPU indices for GPU tensors.
            return torch.from_numpy(array).to(states.device)

        starts = offsets[valid, 0].astype(np.int64) - 1  # content-relative
        if self.sub_token_mode == "first":
            words[index(valid)] = states[index(starts)]
            return words
        lengths = offsets[valid, 1].astype(np.int64) - starts
        # Every piece of every valid word, and the word it belongs to.
        pieces = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
        owners = np.repeat(valid, lengths)
        words.index_add_(0, index(owners), states[index(pieces)])
        counts = index(lengths).to(states.dtype).view(-1, 1, 1)
        words[index(valid)] = words[index(valid)] / counts
        return words

    def _pad_id(self) -> int:
        pad = getattr(self.transformer.config, "pad_token_id", None)
        return 0 if pad is None else int(pad)


@contextlib.contextmanager
def _parameters_on_meta() -> Iterator[None]:
    """Parameters created in the block live on the meta device: no memory and no random
    initialisation (3 s for multilingual-e5-small's 118M) for values that the checkpoint
    replaces. Buffers (position ids) are built as usual. accelerate's
    `init_empty_weights(include_buffers=False)`, which this package does not depend on."""
    register = torch.nn.Module.register_parameter

    def on_meta(module, name, parameter):
        register(module, name, parameter)
        if parameter is not None:
            module._parameters[name] = type(parameter)(
                parameter.to("meta"), requires_grad=parameter.requires_grad
            )

    torch.nn.Module.register_parameter = on_meta  # type: ignore[method-assign]
    try:
        yield
    finally:
        torch.nn.Module.register_parameter = register  # type: ignore[method-assign]


def _load_frozen_transformer(config, weights: str, source: str) -> torch.nn.Module:
    """
    The transformer of `config` with the weights of the file `weights`, memory-mapped where
    the file is in torch's zip format (what `torch.save` writes, `allennlp xner-encoder`
    included): the parameters are the file's pages, read when first used, so a 470 MB
    checkpoint loads in a fraction of a second instead of being read, initialised at random and
    copied (5 s in all on 2 cores).
    """
    from transformers import AutoModel
    from transformers.modeling_utils import no_init_weights

    state = torch.load(weights, map_location="cpu", mmap=zipfile.is_zipfile(weights), weights_only=True)
    with no_init_weights(), _parameters_on_meta():
        model = AutoModel.from_config(config)
    missing, unexpected = model.load_state_dict(state, strict=False, assign=True)
    if any(parameter.is_meta for parameter in model.parameters()):
        # Weights the file lacks (the pooler of some checkpoints) get transformers' initialisation.
        model = AutoModel.from_config(config)
        missing, unexpected = model.load_state_dict(state, strict=False)
    # Buffers such as position_ids are not saved by every transformers version.
    parameters = dict(model.named_parameters())
    missing = [k for k in missing if k in parameters and not k.startswith("pooler.")]
    if missing or unexpected:
        raise ConfigurationError(
            f"{weights} does not fit {source}/config.json: missing {missing[:3]}, "
            f"unexpected {unexpected[:3]}"
        )
    return model


def quantize_linear_layers(
    module: torch.nn.Module,
    what: str,
    skip: Tuple[str, ...] = (),
    float_input_features: Optional[int] = None,
) -> int:
    """
    Replaces the `torch.nn.Linear` layers inside `module` by torch's dynamic int8 version
    (`quantize_dynamic`, weights quantised per output channel), one at a time so that a layer
    that cannot be quantised is named. Returns how many were replaced.

    Dynamic quantisation gives each pass's input one scale; the feed-forward blocks'
    down-projections read the GELU activations, whose outlier dimensions that one scale cannot
    hold (multilingual-e5-small, 64 esp.testa sentences: mean cosine of the word features to
    float32 0.950 with every Linear in int8, 0.969 with per-channel weights, 0.993 with the
    down-projections left in float32, which are a third of the Linear layers' work). So layers
    with `float_input_features` inputs stay float32.

    # Parameters

    module : `torch.nn.Module`
        Quantised in place (a later change may pass only the frozen part of an encoder).
    what : `str`
        The checkpoint, for the messages.
    skip : `Tuple[str, ...]`, optional (default = `()`)
        Prefixes of module names left in float32 (the fine-tuned top layers of `train_layers`).
    float_input_features : `int`, optional (default = `None`)
        Linear layers with this many inputs stay float32 (the encoder's `intermediate_size`:
        the feed-forward down-projections).
    """
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    linears = [
        (name, child)
        for name, child in module.named_modules()
        if type(child) is torch.nn.Linear
        and not (name + ".").startswith(skip)
        and child.in_features != float_input_features
    ]
    if not linears:
        raise ConfigurationError(f"{what}: precision int8 found no Linear layer to quantise; use float32")
    for name, linear in linears:
        if not torch.isfinite(linear.weight).all():
            raise ConfigurationError(
                f"{what}: module {name} cannot be quantised to int8: its weight is not finite "
                "(NaN or infinity); use precision float32"
            )
        holder = torch.nn.Sequential(linear)
        try:
            quantize_dynamic(
                holder, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8, inplace=True
            )
        except (RuntimeError, ValueError, AssertionError) as error:
            raise ConfigurationError(
                f"{what}: module {name} cannot be quantised to int8 ({error}); use precision float32"
            ) from None
        parent, _, attribute = name.rpartition(".")
        setattr(module.get_submodule(parent) if parent else module, attribute, holder[0])
    return len(linears)


def _layer_indices(layers: Union[str, Sequence[int]], num_hidden: int) -> List[int]:
    if layers == "last":
        return [num_hidden - 1]
    if layers == "all":
        return list(range(num_hidden))
    if isinstance(layers, str) or not layers:
        raise ConfigurationError(f"layers must be 'last', 'all' or a list of indices, got {layers!r}")
    resolved = []
    for index in layers:
        if not -num_hidden <= int(index) < num_hidden:
            raise ConfigurationError(
                f"layer {index} does not exist: the encoder has hidden states 0..{num_hidden - 1}"
            )
        resolved.append(int(index) % num_hidden)
    return resolved


def _rows(token_ids, mask, offsets, wordpiece_mask) -> List[Tuple[np.ndarray, np.ndarray]]:
    ids = token_ids.detach().cpu().numpy()
    pieces_mask = wordpiece_mask.detach().cpu().numpy()
    words = mask.detach().cpu().numpy().sum(axis=1)
    spans = offsets.detach().cpu().numpy()
    return [
        (ids[b][pieces_mask[b]].astype(np.int32), spans[b, : words[b]].astype(np.int32))
        for b in range(ids.shape[0])
    ]


def _has_layer_stack(model: torch.nn.Module, num_layers: int) -> bool:
    layers = getattr(getattr(model, "encoder", None), "layer", None)
    return hasattr(model, "embeddings") and layers is not None and len(layers) == num_layers


def _first_missing(keys: List[bytes], *found: List[Optional[np.ndarray]]) -> List[int]:
    """The rows to compute: those missing from any of the `found` lists, the first of each
    distinct key only (a sentence that occurs twice in a batch is encoded once)."""
    first_of: Dict[bytes, int] = {}
    for i, key in enumerate(keys):
        if any(values[i] is None for values in found):
            first_of.setdefault(key, i)
    return list(first_of.values())


def _window_spans(windows: List[List[Tuple[int, int]]]) -> List[List[Tuple[int, int]]]:
    """Where each window's pieces (start and end pieces included) lie in its row's
    concatenated piece states."""
    spans: List[List[Tuple[int, int]]] = []
    for row in windows:
        position, row_spans = 0, []
        for start, end in row:
            row_spans.append((position, position + end - start + 2))
            position += end - start + 2
        spans.append(row_spans)
    return spans


def _key(pieces: np.ndarray, offsets: np.ndarray) -> bytes:
    digest = hashlib.blake2b(digest_size=20)
    digest.update(pieces.tobytes())
    digest.update(offsets.tobytes())
    return digest.digest()


def _windows(length: int, offsets: np.ndarray, size: int) -> List[Tuple[int, int]]:
    """Splits `length` content pieces into windows of at most `size`, at word boundaries
    where the words allow (`offsets`: inclusive piece spans of the words, content-relative)."""
    if length <= size:
        return [(0, length)]
    starts = sorted({int(first) for first, _ in offsets if first >= 0})
    windows = []
    start = 0
    while start < length:
        end = min(length, start + size)
        if end < length:
            boundary = max((s for s in starts if start < s <= end), default=None)
            if boundary is not None:
                end = boundary
        windows.append((start, end))
        start = end
    return windows
