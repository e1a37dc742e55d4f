"""
Training throughput of the encoder embedder with its top layers fine-tuned
(`cached_transformer_mismatched`'s `train_layers`) against the frozen, cached path, in one run
on the same English sentences: tokens/s of a training step (embedder forward, a linear tag
head, backward, an Adam step) once the cache holds the sentences, and the one-time cost of
filling the cache (the first epoch's extra), for `train_layers` 0 (frozen), 1, 2 and 4.

The issue's bound: an English CoNLL epoch (203,621 tokens) in under 15 minutes on 2 cores.
The estimate printed per row is that many tokens at the measured step speed plus the frozen
path's BiLSTM-CRF head, which every row pays alike (`--head-seconds`, 60 s: the encoder rows
of docs/RESULTS.md, English alone), plus the cache fill once.

    .venv/bin/python benchmarks/fine_tune_layers.py [--encoder encoders/multilingual-e5-small] \
        [--sentences 320] [--batch-size 32] [--layers 0,1,2,4]

Sentences: the first `--sentences` of ../shared/data/conll2003/eng.train (`XNER_DATA`
overrides the root), else the fixtures' English training file. The feature cache is in memory
only, new for every row, so no earlier run inflates a figure.
"""

import os

os.environ.setdefault("TQDM_DISABLE", "1")

from common import ROOT, argument_parser, data_path, exit_with, load_average, read_words, stopwatch

import torch
from allennlp.data import Batch, Instance, Token, Vocabulary
from allennlp.data.fields import TextField

from xner_allennlp.data.token_indexers import SurfaceTransformerMismatchedIndexer
from xner_allennlp.token_embedders import CachedTransformerMismatchedEmbedder
from xner_allennlp.training.threads import auto_threads

EPOCH_TOKENS = 203_621
BOUND_S = 15 * 60


def batches(encoder, sentences, batch_size):
    indexer = SurfaceTransformerMismatchedIndexer(encoder)
    out = []
    for first in range(0, len(sentences), batch_size):
        instances = [
            Instance({"tokens": TextField([Token(w) for w in words], {"encoder": indexer})})
            for words in sentences[first : first + batch_size]
        ]
        tensors = Batch(instances)
        tensors.index_instances(Vocabulary())
        out.append(tensors.as_tensor_dict()["tokens"]["encoder"])
    return out


def main() -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--encoder", default=os.path.join(ROOT, "encoders", "multilingual-e5-small"))
    parser.add_argument("--sentences", type=int, default=320)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--layers", default="0,1,2,4", help="train_layers values to measure")
    parser.add_argument("--head-seconds", type=float, default=60.0)
    args = parser.parse_args()
    torch.set_num_threads(auto_threads())
    path = data_path("conll2003", "eng.train")
    if not os.path.isfile(path):
        path = os.path.join(ROOT, "fixtures", "conll", "en.train")
    sentences = [w for w in read_words(path) if w and w[0] != "-DOCSTART-"][: args.sentences]
    tokens = sum(len(w) for w in sentences)
    inputs = batches(args.encoder, sentences, args.batch_size)
    from transformers import AutoConfig

    num_layers = AutoConfig.from_pretrained(args.encoder).num_hidden_layers
    print(
        f"{len(sentences)} sentences, {tokens} tokens, batch size {args.batch_size}, "
        f"{torch.get_num_threads()} threads, load {load_average()}"
    )
    print(f"{'train_layers':>12} {'fill s/epoch':>12} {'step tok/s':>11} {'vs frozen':>9} {'epoch est.':>11}")
    frozen_speed = None
    ok = True
    for train_layers in [int(x) for x in args.layers.split(",")]:
        embedder = CachedTransformerMismatchedEmbedder(
            args.encoder,
            # The configs' mix: the upper two thirds of the hidden states (4..12 of 12 layers).
            layers=list(range(num_layers // 3, num_layers + 1)),
            layer_mix="scalar_mix",
            train_layers=train_layers,
            cache_dir=None,
        )
        head = torch.nn.Linear(embedder.get_output_dim(), 9)
        parameters = [p for p in list(embedder.parameters()) + list(head.parameters()) if p.requires_grad]
        optimizer = torch.optim.Adam(parameters, lr=5e-5)
        embedder.eval()
        with stopwatch() as fill, torch.no_grad():
            for batch in inputs:
                embedder(**batch)
        embedder.train()
        with stopwatch() as steps:
            for batch in inputs:
                optimizer.zero_grad()
                loss = head(embedder(**batch)).logsumexp(-1).mean()
                loss.backward()
                optimizer.step()
        speed = tokens / steps()
        frozen_speed = frozen_speed or speed
        fill_epoch = fill() * EPOCH_TOKENS / tokens
        estimate = EPOCH_TOKENS / speed + args.head_seconds + fill_epoch
        ok &= estimate <= BOUND_S
        print(
            f"{train_layers:>12} {fill_epoch:>12.0f} {speed:>11.0f} {speed / frozen_speed:>8.2f}x "
            f"{estimate / 60:>9.1f} min"
        )
    print(
        f"bound: an English epoch (cache fill included) in <= {BOUND_S // 60} min: "
        f"{'met' if ok else 'NOT met'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    exit_with(main)
