"""
The encoder path's speed on CPU, in one run on the same sentences:

* embedders: word features of `--batch-size` raw sentences at a time (input order, as
  `allennlp predict --batch-size N` hands them over), tokens/s of allennlp's stock
  `pretrained_transformer_mismatched` embedder (frozen, `last_layer_only: false`: a scalar mix
  of every layer, its nearest stock counterpart), of ours (`cached_transformer_mismatched`, the
  encoder configs' layers 4..12 and scalar mix) in float32 and in int8; ours with the feature
  cache in memory only and emptied before the timed run, the sentences distinct, so that
  nothing is served from a cache. The mean cosine of int8's features to float32's is printed
  beside them.
* `--english-cache`: the feature-cache fill of English CoNLL (`eng.train`, or its first
  `--sentences`), `xner-cache`'s `fill_feature_cache` on `training_configs/encoder/en_to_es.jsonnet`
  with `--translation none` (English alone, default) or `append` (English + its reverse
  translation, what training caches), into a fresh temporary cache directory, once per
  precision.

First prediction of an encoder archive: `benchmarks/predict.py --first-prediction --encoder DIR`.

Input: the sentences of ../shared/data/conll2002/esp.testa (`XNER_DATA` overrides the root),
else fixtures/conll/es.dev. All with the same torch threads (`--threads`, default
`auto_threads()`: the idle cores).

    .venv/bin/python benchmarks/encoder_speed.py [--encoder encoders/multilingual-e5-small] \
        [--sentences 600] [--batch-size 32]
    .venv/bin/python benchmarks/encoder_speed.py --english-cache [--sentences N] [--translation append]
"""

import json
import os
import time
from typing import Dict, List

os.environ.setdefault("TQDM_DISABLE", "1")

from common import (
    ROOT,
    argument_parser,
    data_path,
    exit_status,
    exit_with,
    load_average,
    read_conll,
    scratch_dir,
)

import torch
from allennlp.common import Params
from allennlp.data import Batch, Instance, Token, Vocabulary
from allennlp.data.fields import TextField
from allennlp.data.token_indexers import PretrainedTransformerMismatchedIndexer
from allennlp.modules.token_embedders import PretrainedTransformerMismatchedEmbedder

import xner_allennlp  # noqa: F401 - registers the package's components
from xner_allennlp.commands.cache import fill_feature_cache
from xner_allennlp.token_embedders import CachedTransformerMismatchedEmbedder
from xner_allennlp.training.threads import auto_threads

DEFAULT_ENCODER = os.path.join(ROOT, "encoders", "multilingual-e5-small")
ENCODER_CONFIG = os.path.join(ROOT, "training_configs", "encoder", "en_to_es.jsonnet")
# The encoder configs' default layers (encoder.libsonnet), clipped to the encoder's depth.
CONFIG_LAYERS = range(4, 13)


def input_sentences(count: int) -> List[List[str]]:
    path, encoding = data_path("conll2002", "esp.testa"), "utf-8"
    if not os.path.isfile(path):
        path, encoding = os.path.join(ROOT, "fixtures", "conll", "es.dev"), "latin-1"
    sentences = [[word for word, _ in sentence] for sentence in read_conll(path, encoding)]
    distinct = list(dict.fromkeys(tuple(words) for words in sentences))
    print(f"input: {path}, the first {count} of its {len(distinct)} distinct sentences")
    return [list(words) for words in distinct[:count]]


def batches(encoder: str, sentences: List[List[str]], batch_size: int) -> List[Dict]:
    """The indexer's tensors of each batch (indexing is not timed)."""
    indexer = PretrainedTransformerMismatchedIndexer(encoder)
    vocabulary = Vocabulary()
    tensors = []
    for first in range(0, len(sentences), batch_size):
        chunk = sentences[first : first + batch_size]
        batch = Batch(
            [Instance({"tokens": TextField([Token(w) for w in s], {"encoder": indexer})}) for s in chunk]
        )
        batch.index_instances(vocabulary)
        tensors.append(batch.as_tensor_dict()["tokens"]["encoder"])
    return tensors


def ours(encoder: str, precision: str, runtime: str) -> CachedTransformerMismatchedEmbedder:
    with open(os.path.join(encoder, "config.json"), encoding="utf-8") as handle:
        depth = json.load(handle)["num_hidden_layers"]
    layers = [i for i in CONFIG_LAYERS if i <= depth] or "last"
    embedder = CachedTransformerMismatchedEmbedder(
        encoder, layers=layers, layer_mix="scalar_mix", cache_dir=None, precision=precision, runtime=runtime
    ).eval()
    # ONNX Runtime's graph exported into the store now (once per encoder), not inside a timing.
    embedder._onnx_layers(embedder.cache_layers)
    return embedder


# (precision, runtime) of our embedder, in the order measured; torch float32 is the reference
# of the cosines.
VARIANTS = [("float32", "torch"), ("int8", "torch"), ("float32", "onnxruntime"), ("int8", "onnxruntime")]


def timed(embedder, tensors: List[Dict], tokens: int, fresh_cache: bool) -> Dict:
    with torch.no_grad():
        embedder(**tensors[0])  # warm-up (threads, allocator)
        if fresh_cache:
            embedder._cache = None  # a new, empty in-memory cache: nothing served from it
        outputs = []
        start = time.perf_counter()
        for batch in tensors:
            outputs.append(embedder(**batch))
        seconds = time.perf_counter() - start
    return {"tokens_per_s": tokens / seconds, "seconds": seconds, "outputs": outputs}


def embedders(args) -> int:
    sentences = input_sentences(args.sentences)
    tokens = sum(len(s) for s in sentences)
    tensors = batches(args.encoder, sentences, args.batch_size)
    runs = [("stock pretrained_transformer_mismatched (float32)", lambda: _stock(args.encoder), False)]
    for precision, runtime in VARIANTS:
        runs.append(
            (
                f"ours, {precision}, {runtime}",
                lambda p=precision, r=runtime: ours(args.encoder, p, r),  # type: ignore[misc]
                True,
            )
        )
    failed, results = [], {}
    for label, build, fresh in runs:
        try:
            results[label] = timed(build(), tensors, tokens, fresh)
        except Exception:  # noqa: BLE001 - a failed variant is reported, the others still run
            import traceback

            traceback.print_exc()
            failed.append(label)
            continue
        print(f"  {label:52s} {results[label]['tokens_per_s']:8.0f} tokens/s", flush=True)
    print()
    print(
        f"{len(sentences)} sentences, {tokens} tokens, batches of {args.batch_size}, "
        f"{torch.get_num_threads()} threads, load average {load_average()}"
    )
    print("| embedder | tokens/s | vs stock |")
    print("|---|---|---|")
    stock = results.get(runs[0][0])
    for label, result in results.items():
        ratio = f"{result['tokens_per_s'] / stock['tokens_per_s']:.2f}x" if stock else ""
        print(f"| {label} | {result['tokens_per_s']:.0f} | {ratio} |")
    full = results.get(runs[1][0])
    for label, _, _ in runs[2:] if full else []:
        if label not in results:
            continue
        cosines = []
        for batch, a, b in zip(tensors, full["outputs"], results[label]["outputs"]):
            mask = batch["mask"]
            cosines.append(torch.nn.functional.cosine_similarity(a[mask], b[mask], dim=-1))
        cosine = torch.cat(cosines)
        print(f"{label} against float32, torch: mean cosine {cosine.mean():.5f}, min {cosine.min():.5f}")
    return exit_status(failed)


def _stock(encoder: str) -> PretrainedTransformerMismatchedEmbedder:
    return PretrainedTransformerMismatchedEmbedder(
        encoder, last_layer_only=False, train_parameters=False
    ).eval()


def english_cache(args) -> int:
    english = data_path("conll2003", "eng.train")
    if not os.path.isfile(english):
        english = os.path.join(ROOT, "fixtures", "conll", "en.train")
    with open(os.path.join(args.encoder, "config.json"), encoding="utf-8") as handle:
        config = json.load(handle)
    # The configs' layers 4..12, clipped to a smaller encoder (the tiny fixture: its last).
    layers = ",".join(str(i) for i in CONFIG_LAYERS if i <= config["num_hidden_layers"]) or "last"
    os.environ.update(
        XNER_ENCODER=os.path.abspath(args.encoder),
        XNER_ENCODER_DIM=str(config["hidden_size"]),
        XNER_TRANSLATION=args.translation,
        XNER_LAYERS=layers,
        XNER_CACHE_LAYERS=layers,
    )
    failed = []
    with scratch_dir("xner-encoder-speed-") as workdir:
        train = english
        if args.sentences:
            train = os.path.join(workdir, "eng.train")
            _first_sentences(english, args.sentences, train)
        rows = []
        for precision, runtime in VARIANTS:
            ours(args.encoder, precision, runtime)  # the graph in the store before the timing
            name = f"{precision}-{runtime}"
            overrides = {
                "train_data_path": train,
                "validation_data_path": None,
                "test_data_path": None,
                "model.text_field_embedder.token_embedders.encoder.cache_dir": os.path.join(workdir, name),
                "model.text_field_embedder.token_embedders.encoder.precision": precision,
                "model.text_field_embedder.token_embedders.encoder.runtime": runtime,
            }
            start = time.perf_counter()
            try:
                (row,) = fill_feature_cache(Params.from_file(ENCODER_CONFIG, json.dumps(overrides)))
            except Exception:  # noqa: BLE001 - a failed precision is reported, the other still runs
                import traceback

                traceback.print_exc()
                failed.append(name)
                continue
            rows.append((f"{precision}, {runtime}", row, time.perf_counter() - start))
    print()
    print(
        f"feature cache of {english}{f' (first {args.sentences} sentences)' if args.sentences else ''}, "
        f"translation {args.translation}, {torch.get_num_threads()} threads, load average {load_average()}"
    )
    print(
        "| precision, runtime | sentences | computed | encoding s | sentences/s | with reading the file s |"
    )
    print("|---|---|---|---|---|---|")
    for precision, row, total in rows:
        print(
            f"| {precision} | {row['sentences']} | {row['computed']} | {row['seconds']:.1f} | "
            f"{row['sentences'] / row['seconds']:.0f} | {total:.1f} |"
        )
    return exit_status(failed)


def _first_sentences(path: str, count: int, target: str) -> None:
    kept, sentences = [], 0
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            kept.append(line)
            if not line.strip():
                sentences += 1
                if sentences >= count:
                    break
    with open(target, "w", encoding="utf-8") as handle:
        handle.writelines(kept)


def main() -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--encoder", default=DEFAULT_ENCODER, help="checkpoint directory")
    parser.add_argument("--sentences", type=int, default=None, help="(default 600; --english-cache: all)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: the idle cores)")
    parser.add_argument("--english-cache", action="store_true", help="time the English CoNLL feature cache")
    parser.add_argument("--translation", choices=["none", "append"], default="none")
    args = parser.parse_args()
    torch.set_num_threads(args.threads or auto_threads())
    if args.english_cache:
        return english_cache(args)
    args.sentences = args.sentences or 600
    return embedders(args)


if __name__ == "__main__":
    exit_with(main)
