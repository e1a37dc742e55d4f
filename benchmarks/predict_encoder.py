"""
Prediction throughput of an encoder-backend archive on raw text (issue target: at least 300
tokens/s on 2 cores with batches of 32), against the bare encoder forward pass on the same
sentences, measured in the same run:

* stock: allennlp's `pretrained_transformer_mismatched` embedder (frozen, float32, torch,
  `last_layer_only: false`) on the archive's encoder, word features of the same sentences'
  wordpieces in batches of `--batch-size` in input order (issue 25's reference: tagging
  >= 3x its tokens/s and >= 2,500 tokens/s);
* baseline: the archive's transformer alone (transformers `AutoModel`, no grad), the same
  wordpieces in length-sorted batches of `--batch-size` sentences: the cost no tagger on this
  encoder can avoid;
* ours: `xner_tagger` on the archive (spaCy tokenization, wordpieces, encoder features, BiLSTM,
  CRF, entities with offsets), `predict_batch_json` with `--batch-size` lines per call, the
  feature cache in memory only (every sentence is new, so nothing is served from it).

Input: the sentences of ../shared/data/conll2002/esp.testa (`XNER_DATA` overrides the root)
joined with spaces, one per line, re-tokenized by the predictor.

`--precision int8` tags with the archive's encoder in int8 and `--runtime torch|onnxruntime`
with that runtime (the embedder's `precision` and `runtime`, overrides; the bare-transformer
baseline is torch's, in int8 only with `--runtime torch`). Each path gets one warm-up batch
of other sentences first (threads, allocator, ONNX Runtime's session), so nothing measured
is served from the in-memory cache.

    .venv/bin/python benchmarks/predict_encoder.py runs/en_to_es-full-encoder/model.tar.gz \
        [--sentences 600] [--batch-size 32] [--precision int8]
"""

import json
import os
import time

os.environ.setdefault("TQDM_DISABLE", "1")

from common import argument_parser, data_path, exit_with, load_average, read_words

import torch
from allennlp.models.archival import load_archive
from allennlp.predictors import Predictor

import xner_allennlp  # noqa: F401 - registers the package's components
from xner_allennlp.pretrained.resolve import resolve_encoder
from xner_allennlp.token_embedders import CachedTransformerMismatchedEmbedder
from xner_allennlp.training.threads import auto_threads

TARGET = 300.0
SPEED_TARGET, SPEED_RATIO = 2500.0, 3.0


def main() -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("archive")
    parser.add_argument("--sentences", type=int, default=600)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--precision", choices=["float32", "int8"], default=None, help="default: as trained")
    parser.add_argument(
        "--runtime", choices=["auto", "torch", "onnxruntime"], default=None, help="default: as trained"
    )
    args = parser.parse_args()
    torch.set_num_threads(auto_threads())
    sentences = read_words(data_path("conll2002", "esp.testa"))
    lines = [" ".join(words) for words in sentences[: args.sentences]]
    warm_up = [" ".join(words) for words in sentences[args.sentences : args.sentences + args.batch_size]]

    overrides = {"model.text_field_embedder.token_embedders.encoder.cache_dir": None}
    if args.precision is not None:
        overrides["model.text_field_embedder.token_embedders.encoder.precision"] = args.precision
    if args.runtime is not None:
        overrides["model.text_field_embedder.token_embedders.encoder.runtime"] = args.runtime
    archive = load_archive(args.archive, overrides=json.dumps(overrides))
    predictor = Predictor.from_archive(archive, "xner_tagger")
    embedder = next(m for m in archive.model.modules() if isinstance(m, CachedTransformerMismatchedEmbedder))

    # Baseline: the encoder alone on the predictor's own wordpieces.
    indexer = archive.validation_dataset_reader._token_indexers["encoder"]
    tokenizer = indexer._allennlp_tokenizer
    words = [predictor._prepare({"sentence": line}).words for line in lines]
    tokens = sum(len(w) for w in words)
    pieces = [[t.text_id for t in tokenizer.intra_word_tokenize(w)[0]] for w in words]
    encoder = archive.config.as_dict()["model"]["text_field_embedder"]["token_embedders"]["encoder"]
    stock_rate = stock(
        resolve_encoder(encoder["model_name"]), archive, indexer, words, args.batch_size, tokens
    )
    order = sorted(range(len(pieces)), key=lambda i: len(pieces[i]))
    start = time.perf_counter()
    with torch.no_grad():
        for first in range(0, len(order), args.batch_size):
            batch = [pieces[i] for i in order[first : first + args.batch_size]]
            width = max(len(p) for p in batch)
            ids = torch.full((len(batch), width), 1, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, p in enumerate(batch):
                ids[row, : len(p)] = torch.tensor(p)
                mask[row, : len(p)] = 1
            embedder.transformer(input_ids=ids, attention_mask=mask)
    baseline = tokens / (time.perf_counter() - start)

    predictor.predict_batch_json([{"sentence": line} for line in warm_up or lines[:1]])
    embedder._cache = None  # a new, empty in-memory cache
    start = time.perf_counter()
    for first in range(0, len(lines), args.batch_size):
        predictor.predict_batch_json([{"sentence": line} for line in lines[first : first + args.batch_size]])
    ours = tokens / (time.perf_counter() - start)

    print(
        f"{len(lines)} sentences, {tokens} tokens, batch size {args.batch_size}, "
        f"{torch.get_num_threads()} threads, precision {embedder.precision}, runtime {embedder.runtime}, "
        f"load average {load_average()}"
    )
    print(f"  stock pretrained_transformer_mismatched  {stock_rate:8.0f} tokens/s  1.00x")
    print(
        f"  encoder forward alone (torch)            {baseline:8.0f} tokens/s  {baseline / stock_rate:.2f}x"
    )
    print(f"  xner_tagger predict (ours)               {ours:8.0f} tokens/s  {ours / stock_rate:.2f}x")
    print(f"  target >= {TARGET:.0f} tokens/s: {'met' if ours >= TARGET else 'NOT met'}")
    fast = ours >= SPEED_TARGET and ours >= SPEED_RATIO * stock_rate
    print(
        f"  issue 25: >= {SPEED_RATIO:.0f}x stock and >= {SPEED_TARGET:.0f} tokens/s: "
        f"{'met' if fast else 'NOT met'}"
    )
    return 0 if ours >= TARGET else 1


def stock(source: str, archive, indexer, words, batch_size: int, tokens: int) -> float:
    """tokens/s of allennlp's own mismatched embedder on the archive's encoder."""
    from allennlp.data import Batch, Instance, Token
    from allennlp.data.fields import TextField
    from allennlp.modules.token_embedders import PretrainedTransformerMismatchedEmbedder

    embedder = PretrainedTransformerMismatchedEmbedder(
        source, last_layer_only=False, train_parameters=False
    ).eval()
    tensors = []
    for first in range(0, len(words), batch_size):
        batch = Batch(
            [
                Instance({"tokens": TextField([Token(w) for w in sentence], {"encoder": indexer})})
                for sentence in words[first : first + batch_size]
            ]
        )
        batch.index_instances(archive.model.vocab)
        tensors.append(batch.as_tensor_dict()["tokens"]["encoder"])
    with torch.no_grad():
        embedder(**tensors[0])  # warm-up
        start = time.perf_counter()
        for batch in tensors:
            embedder(**batch)
    return tokens / (time.perf_counter() - start)


if __name__ == "__main__":
    exit_with(main)
