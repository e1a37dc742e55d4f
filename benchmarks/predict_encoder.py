"""
Prediction throughput of an encoder-backend archive on raw text (issue target: at least 300
tokens/s on 2 cores with batches of 32), against the bare encoder forward pass on the same
sentences, measured in the same run:

* baseline: the archive's transformer alone (transformers `AutoModel`, no grad), the same
  wordpieces in length-sorted batches of `--batch-size` sentences: the cost no tagger on this
  encoder can avoid;
* ours: `xner_tagger` on the archive (spaCy tokenization, wordpieces, encoder features, BiLSTM,
  CRF, entities with offsets), `predict_batch_json` with `--batch-size` lines per call, the
  feature cache in memory only (every sentence is new, so nothing is served from it).

Input: the sentences of ../shared/data/conll2002/esp.testa (`XNER_DATA` overrides the root)
joined with spaces, one per line, re-tokenized by the predictor.

`--precision int8` tags with the archive's encoder in int8 (the embedder's `precision`, an
override; the baseline is then the int8 transformer too).

    .venv/bin/python benchmarks/predict_encoder.py runs/en_to_es-full-encoder/model.tar.gz \
        [--sentences 600] [--batch-size 32] [--precision int8]
"""

import json
import os
import time

os.environ.setdefault("TQDM_DISABLE", "1")

from common import argument_parser, data_path, exit_with, read_words

import torch
from allennlp.models.archival import load_archive
from allennlp.predictors import Predictor

import xner_allennlp  # noqa: F401 - registers the package's components
from xner_allennlp.token_embedders import CachedTransformerMismatchedEmbedder
from xner_allennlp.training.threads import auto_threads

TARGET = 300.0


def main() -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("archive")
    parser.add_argument("--sentences", type=int, default=600)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--precision", choices=["float32", "int8"], default=None, help="default: as trained")
    args = parser.parse_args()
    torch.set_num_threads(auto_threads())
    sentences = read_words(data_path("conll2002", "esp.testa"))
    lines = [" ".join(words) for words in sentences[: args.sentences]]

    overrides = {"model.text_field_embedder.token_embedders.encoder.cache_dir": None}
    if args.precision is not None:
        overrides["model.text_field_embedder.token_embedders.encoder.precision"] = args.precision
    archive = load_archive(args.archive, overrides=json.dumps(overrides))
    predictor = Predictor.from_archive(archive, "xner_tagger")
    embedder = next(m for m in archive.model.modules() if isinstance(m, CachedTransformerMismatchedEmbedder))

    # Baseline: the encoder alone on the predictor's own wordpieces.
    indexer = archive.validation_dataset_reader._token_indexers["encoder"]
    tokenizer = indexer._allennlp_tokenizer
    words = [predictor._prepare({"sentence": line}).words for line in lines]
    tokens = sum(len(w) for w in words)
    pieces = [[t.text_id for t in tokenizer.intra_word_tokenize(w)[0]] for w in words]
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

    start = time.perf_counter()
    for first in range(0, len(lines), args.batch_size):
        predictor.predict_batch_json([{"sentence": line} for line in lines[first : first + args.batch_size]])
    ours = tokens / (time.perf_counter() - start)

    print(
        f"{len(lines)} sentences, {tokens} tokens, batch size {args.batch_size}, "
        f"{torch.get_num_threads()} threads, precision {embedder.precision}"
    )
    print(f"  encoder forward alone (baseline)  {baseline:8.0f} tokens/s  1.00x")
    print(f"  xner_tagger predict (ours)         {ours:8.0f} tokens/s  {ours / baseline:.2f}x")
    print(f"  target >= {TARGET:.0f} tokens/s: {'met' if ours >= TARGET else 'NOT met'}")
    return 0 if ours >= TARGET else 1


if __name__ == "__main__":
    exit_with(main)
