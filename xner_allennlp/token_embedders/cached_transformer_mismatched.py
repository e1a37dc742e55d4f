import contextlib
import hashlib
import json
import logging
import os
import zipfile
from typing import Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from allennlp.common.checks import ConfigurationError
from allennlp.modules.scalar_mix import ScalarMix
from allennlp.modules.token_embedders import TokenEmbedder

from xner_allennlp.pretrained.resolve import (
    file_sha256,
    has_weights,
    memo_get,
    memo_put,
    resolve_encoder,
    resolve_weights,
)
from xner_allennlp.token_embedders.feature_cache import FeatureCache, default_feature_cache_dir

logger = logging.getLogger(__name__)

# Part of every cache key: bump it when the way features are computed changes.
_RECIPE_VERSION = 1
LAYER_MIXES = ("mean", "scalar_mix")
SUB_TOKEN_MODES = ("first", "avg")
PRECISIONS = ("float32", "int8")


def _keep_quantized_weights(*args, **kwargs) -> None:
    """`_load_from_state_dict` of the modules of an int8 encoder: their weights come from the
    encoder's file, never from a checkpoint. (Reloading its own state would not even work for
    a checkpoint of a float32 model: the metadata of its Linear layers makes torch's quantised
    Linear read the checkpoint as its legacy format.)"""


def _drop_frozen_transformer(module, state_dict, prefix, local_metadata):
    for key in [k for k in state_dict if k.startswith(prefix + "transformer.")]:
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
    load_weights : `bool`, optional (default = `True`)
        Load the checkpoint's weights (set to `False` when an archive's weights follow).
    precision : `str`, optional (default = `"float32"`)
        Arithmetic of the frozen encoder's forward pass: `"float32"`, or `"int8"`: every
        `torch.nn.Linear` of the encoder replaced by torch's dynamic int8 version
        (`torch.ao.quantization.quantize_dynamic`: int8 weights, activations quantised per
        batch), CPU only, for feature caching and prediction alike. The precision is part of
        the cache fingerprint, so features of one precision are never read for the other.
        A model trained on one precision can be tagged with the other (override the key).
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
        load_weights: bool = True,
        precision: str = "float32",
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
        if precision != "float32" and train_parameters:
            raise ConfigurationError(
                f"precision {precision!r} needs a frozen encoder (train_parameters false): "
                "int8 layers do not train"
            )
        source = resolve_encoder(model_name, serialization_dir)
        config = AutoConfig.from_pretrained(source)
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
            # Frozen weights are identified by their file, not saved with every checkpoint.
            self._register_state_dict_hook(_drop_frozen_transformer)
        num_hidden = config.num_hidden_layers + 1
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
        for parameter in self.transformer.parameters():
            parameter.requires_grad = train_parameters
        self._scalar_mix = (
            ScalarMix(len(self.layers)) if layer_mix == "scalar_mix" and len(self.layers) > 1 else None
        )
        self._output_dim = config.hidden_size
        self._cache_dir = default_feature_cache_dir() if cache_dir == "default" else cache_dir
        self._max_cache_bytes = int(max_cache_gb * 1024**3)
        self._cache: Optional[FeatureCache] = None
        if precision == "int8":
            # The fingerprint hashes the float weights, the ones the file holds: taken first.
            self.fingerprint()
            quantize_linear_layers(self.transformer, source)
            for module in self.transformer.modules():
                module._load_from_state_dict = _keep_quantized_weights  # type: ignore[method-assign]

    def get_output_dim(self) -> int:
        return self._output_dim

    # ------------------------------------------------------------------ cache

    def fingerprint(self) -> str:
        """Hash of the encoder's weights and architecture and of this feature recipe (the
        precision included, when it is not float32)."""
        if self._fingerprint is not None:
            return self._fingerprint
        recipe = {
            "recipe": _RECIPE_VERSION,
            "config": self._config_json,
            "layers": self.cache_layers,
            "sub_token_mode": self.sub_token_mode,
            "max_length": self.max_length,
        }
        if self.precision != "float32":
            recipe["precision"] = self.precision
        head = json.dumps(recipe, sort_keys=True)
        state = self.transformer.state_dict()
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
            self._cache = FeatureCache(
                self.fingerprint(),
                (len(self.cache_layers), self._output_dim),
                max_memory_bytes=self._max_cache_bytes,
                cache_dir=self._cache_dir,
            )
            logger.info("encoder feature cache %s", self._cache.path or self._cache.fingerprint)
        return self._cache

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        if not self.train_parameters:
            if any(key.startswith(prefix + "transformer.") for key in state_dict):
                # Frozen weights from a checkpoint after all: no longer those of the file.
                if self.precision != "float32":
                    raise ConfigurationError(
                        f"the checkpoint holds the frozen encoder's weights ({prefix}transformer.*), "
                        f"which cannot be loaded into its {self.precision} layers: use precision float32"
                    )
                self._weights_sha = None
                self._fingerprint = None
            if self.precision == "float32":
                # Checkpoints hold no frozen weights: keep the ones loaded from their file.
                # (int8 layers are not reloaded at all: `_keep_quantized_weights`.)
                for name, tensor in self.transformer.state_dict().items():
                    state_dict.setdefault(prefix + "transformer." + name, tensor)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._cache = None

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
        if self.precision == "int8" and token_ids.device.type != "cpu":
            raise ConfigurationError(
                f"precision int8 runs on CPU only (torch's dynamic quantisation), the batch is on "
                f"{token_ids.device}: use precision float32 on a GPU"
            )
        rows = _rows(token_ids, mask, offsets, wordpiece_mask)
        batch, words = mask.shape
        if self.train_parameters:
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
        return self._cached_features(_rows(token_ids, mask, offsets, wordpiece_mask))[1]

    def _cached_features(self, rows: List[Tuple[np.ndarray, np.ndarray]]) -> Tuple[List[np.ndarray], int]:
        """The cached entry of every row, computing the missing ones (each distinct sentence
        once), and how many were computed."""
        cache = self.cache
        keys = [_key(pieces, offsets) for pieces, offsets in rows]
        found = cache.get_many(keys)
        # A sentence that occurs twice in the batch is encoded once.
        first_of: dict = {}
        for i, value in enumerate(found):
            if value is None:
                first_of.setdefault(keys[i], i)
        missing = list(first_of.values())
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

    def _encode(
        self, rows: List[Tuple[np.ndarray, np.ndarray]], grad: bool, layers: List[int]
    ) -> List[torch.Tensor]:
        """Word features `(words, len(layers), dim)` of each row (wordpieces, word offsets)."""
        windows: List[Tuple[int, int, int]] = []  # (row, start, end) into the row's content
        for r, (pieces, offsets) in enumerate(rows):
            for start, end in _windows(len(pieces) - 2, offsets - 1, self.max_length - 2):
                windows.append((r, start, end))
        device = next(self.transformer.parameters()).device
        content_states = [
            torch.zeros((len(p) - 2, len(layers), self._output_dim), device=device) for p, _ in rows
        ]
        # Shortest first, so that each pass pads little; a pass holds up to
        # `encode_batch_pieces` wordpieces, padding included.
        order = sorted(windows, key=lambda w: w[2] - w[1])
        self.transformer.train(grad and self.training)
        with torch.enable_grad() if grad else torch.no_grad():
            while order:
                take = 1
                while (
                    take < len(order)
                    and (take + 1) * (order[take][2] - order[take][1] + 2) <= self.encode_batch_pieces
                ):
                    take += 1
                chunk, order = order[:take], order[take:]
                width = max(end - start for _, start, end in chunk) + 2
                ids = torch.full((len(chunk), width), self._pad_id(), dtype=torch.long)
                attention = torch.zeros((len(chunk), width), dtype=torch.long)
                for j, (r, start, end) in enumerate(chunk):
                    pieces = rows[r][0]
                    # Every window gets the row's own start and end pieces.
                    ids[j, 0] = int(pieces[0])
                    ids[j, 1 : 1 + end - start] = torch.from_numpy(
                        pieces[1 + start : 1 + end].astype(np.int64)
                    )
                    ids[j, 1 + end - start] = int(pieces[-1])
                    attention[j, : end - start + 2] = 1
                hidden = self._hidden_states(ids.to(device), attention.to(device), layers)
                for j, (r, start, end) in enumerate(chunk):
                    content_states[r][start:end] = hidden[j, 1 : 1 + end - start]
        return [self._pool_words(states, offsets) for (_, offsets), states in zip(rows, content_states)]

    def _hidden_states(
        self, ids: torch.LongTensor, attention: torch.LongTensor, layers: List[int]
    ) -> torch.Tensor:
        """The hidden states `layers` of one padded pass, `(batch, width, len(layers), dim)`."""
        output = self.transformer(input_ids=ids, attention_mask=attention, output_hidden_states=True)
        return torch.stack([output.hidden_states[k] for k in layers], dim=2)

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


def quantize_linear_layers(module: torch.nn.Module, what: str) -> int:
    """
    Replaces every `torch.nn.Linear` inside `module` by torch's dynamic int8 version
    (`quantize_dynamic`), one at a time so that a layer that cannot be quantised is named.
    Returns how many were replaced.

    # Parameters

    module : `torch.nn.Module`
        Quantised in place (a later change may pass only the frozen part of an encoder).
    what : `str`
        The checkpoint, for the messages.
    """
    from torch.ao.quantization import quantize_dynamic

    linears = [(name, child) for name, child in module.named_modules() if type(child) is torch.nn.Linear]
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
            quantize_dynamic(holder, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
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
