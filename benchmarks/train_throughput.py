"""
Training throughput of the paper's model (char BiLSTM + word BiLSTM + CRF; char embedding 300,
char and word LSTM hidden 300, frozen 300-d word vectors, batches of 10), two pipelines side by
side in one process:

* stock: the pipeline as allennlp-models configures its `crf_tagger` NER model: the
  `conll2003` reader (`single_id` lowercased + `characters` indexers), an `embedding` word
  embedder (frozen, from the vector file), `character_encoding` with an `lstm` encoder, `lstm`
  word encoder, the default data loader (random batches of the profile's batch size);
* ours: `training_configs/base.libsonnet`'s `tagger(...)` (xner_conll reader with uroman,
  `aligned_vectors`, the char embedder, word encoder, bucket sampler and `torch_threads`
  callback of the config).

Both use the same trainer section (SGD with momentum, gradient clipping, inverse-time decay, no
validation) and the hyper-parameters of `--profile` (paper by default). The corpus is a random
sample of `--sentences` sentences of CoNLL-2003 English (../shared/data/conll2003/eng.train,
`XNER_DATA` overrides the root), or generated sentences with its length distribution when the
file is missing; the 300-d vectors are random, written to a temporary directory (about 10% of
the words left out).

The pipelines are trained in alternation for `--rounds` rounds of `--batches` batches each (a
fresh model and trainer every round; a run also stops at its first batch past
`--max-seconds`), so that load from other jobs hits all alike; the reported figure is the
median over rounds. Tokens are counted from the batches the trainer saw. Torch threads: the
stock pipeline runs with torch's default (`--stock-threads`) and, as a second baseline, with 1
thread; ours with `--threads` ("auto": its callback's choice).

Same model check: ours and the stock model have the same trainable parameters (names, and
shapes but for vocabulary-sized rows); our weights are copied into the stock model
(word-vector, character and label rows matched through the two vocabularies) and both compute
the loss of the same 10 sentences in eval mode; the losses must agree to 1e-5 (relative), else
the script exits non-zero, as it does when a run fails.

    .venv/bin/python benchmarks/train_throughput.py [--sentences 1500] [--batches 60]
        [--rounds 2] [--profile paper] [--threads auto] [--stock-threads N] [--levers]
        [--stock-python PATH]

`--levers` also trains the intermediate pipelines, one lever added at a time on 1 thread, and
ours with the stock pipeline's thread count.

`--stock-python` names the interpreter of a second environment where allennlp-models is
installed as pip installs it (allennlp 2.10.1 pins torch 1.12.1), not as this project installs
it (torch 2.5.1 through uv overrides). The stock pipeline then also trains there, in a child
process, with the stock threads and with 1 thread, in the same rounds; before that the child
loads the weights of the same-model check and must compute the same loss (1e-5). Such an
environment: `python3.10 -m venv /tmp/stock && /tmp/stock/bin/pip install allennlp==2.10.1
allennlp-models==2.10.1 "numpy<2"` (numpy 2 breaks torch 1.12 and spaCy 3.3).
"""

import argparse
import copy
import json
import logging
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from typing import Any, Dict, List, Optional, Tuple

os.environ.setdefault("TQDM_DISABLE", "1")

from common import (
    DIM,
    ROOT,
    argument_parser,
    english_sample,
    exit_status,
    exit_with,
    load_average,
    median,
    profile_hp,
    scratch_dir,
    tagger_config,
    write_conll,
    write_vectors,
)

import numpy as np
import torch
from allennlp.commands.train import TrainModel
from allennlp.common import Params
from allennlp.common.util import prepare_environment
from allennlp.data import Batch
from allennlp.training.callbacks import TrainerCallback

if "--child" not in sys.argv:
    # A child run in a stock environment (--stock-python) needs only allennlp-models.
    import xner_allennlp  # noqa: F401 - registers the package's components
    from xner_allennlp.common.normalization import normalize_word
else:
    import importlib.util

    import allennlp_models.tagging  # noqa: F401 - registers crf_tagger

    # The trainer's inverse_time scheduler, alone: its module needs only allennlp and torch.
    _spec = importlib.util.spec_from_file_location(
        "xner_inverse_time", os.path.join(ROOT, "xner_allennlp", "training", "inverse_time.py")
    )
    _spec.loader.exec_module(importlib.util.module_from_spec(_spec))

TARGET_RATIO = 3.0
LOSS_TOLERANCE = 1e-5
CHECK_SENTENCES = 10


# ---------------------------------------------------------------------------------- configs


def trainer_config(hp: Dict[str, Any]) -> Dict[str, Any]:
    return {
        "optimizer": {"type": "sgd", "lr": hp["lr"], "momentum": hp["momentum"]},
        "grad_norm": hp["grad_norm"],
        "learning_rate_scheduler": {"type": "inverse_time", "decay": hp["lr_decay"]},
        "num_epochs": 1,
        "cuda_device": -1,
        "checkpointer": {"keep_most_recent_by_count": 1},
    }


def stock_config(train: str, vectors: str, hp: Dict[str, Any], batch_size: int) -> Dict[str, Any]:
    """allennlp-models' NER crf_tagger config (training_config/tagging/ner.jsonnet) with the
    paper's dimensions, frozen vectors and an LSTM character encoder."""
    return {
        "dataset_reader": {
            "type": "conll2003",
            "tag_label": "ner",
            "coding_scheme": "BIOUL",
            "token_indexers": {
                "tokens": {"type": "single_id", "lowercase_tokens": True},
                "token_characters": {"type": "characters", "min_padding_length": 3},
            },
        },
        "train_data_path": train,
        "model": {
            "type": "crf_tagger",
            "label_encoding": "BIOUL",
            "constrain_crf_decoding": True,
            "calculate_span_f1": True,
            "dropout": hp["dropout"],
            "include_start_end_transitions": False,
            "text_field_embedder": {
                "token_embedders": {
                    "tokens": {
                        "type": "embedding",
                        "embedding_dim": DIM,
                        "pretrained_file": vectors,
                        "trainable": False,
                    },
                    "token_characters": {
                        "type": "character_encoding",
                        "embedding": {"embedding_dim": hp["char_embedding_dim"]},
                        "encoder": {
                            "type": "lstm",
                            "input_size": hp["char_embedding_dim"],
                            "hidden_size": hp["char_hidden_size"],
                            "bidirectional": True,
                        },
                    },
                }
            },
            "encoder": {
                "type": "lstm",
                "input_size": DIM + 2 * hp["char_hidden_size"],
                "hidden_size": hp["word_hidden_size"],
                "bidirectional": True,
            },
            # As in base.libsonnet; the pretrained (frozen) vectors and the CRF's constraint
            # mask are parameters here and must keep their values.
            "initializer": {
                "regexes": [[".*", {"type": "uniform", "a": -0.1, "b": 0.1}]],
                "prevent_regexes": [".*_constraint_mask", ".*token_embedder_tokens.weight"],
            },
        },
        "data_loader": {"batch_size": batch_size, "shuffle": True},
        "trainer": trainer_config(hp),
        "random_seed": 13,
        "numpy_seed": 13,
        "pytorch_seed": 13,
    }


def our_config(workdir: str, train: str, vectors: str, profile: str) -> Dict[str, Any]:
    """tagger_config() with no validation and the benchmark's trainer."""
    config = tagger_config(workdir, train, vectors, profile)
    for key in ("validation_data_path", "validation_dataset_reader", "test_data_path"):
        config.pop(key, None)
    config["evaluate_on_test"] = False
    config["trainer"] = {
        **trainer_config(profile_hp(workdir, profile)),
        **{
            k: v
            for k, v in config["trainer"].items()
            if k in ("optimizer", "grad_norm", "learning_rate_scheduler", "callbacks")
        },
    }
    return config


# Our levers, in the order the rows add them: (row name, config key, its stock value).
LEVERS = [
    ("bucket sampler", "data_loader", None),
    ("{}", "model.text_field_embedder.token_embedders.token_characters.type", "character_encoding"),
    ("{} encoder", "model.encoder.type", "lstm"),
    ("{} (batched CRF) = ours", "model.type", "crf_tagger"),
]


def _at(config: Dict[str, Any], key: str) -> Tuple[Dict[str, Any], str]:
    """The dict holding dotted `key` in `config`, and its last part."""
    *parents, last = key.split(".")
    for part in parents:
        config = config[part]
    return config, last


def lever_configs(stock: Dict[str, Any], ours: Dict[str, Any], batch_size: int):
    """Our pipeline with its levers taken away one by one (as (name, config) from the stock-like
    end to ours): each row adds one lever to the row before."""
    plain = copy.deepcopy(ours)
    for _, key, stock_value in LEVERS:
        holder, last = _at(plain, key)
        holder[last] = stock_value
    plain["data_loader"] = {"batch_size": batch_size, "shuffle": True}
    rows = [("xner reader + aligned_vectors (random batches)", plain)]
    for name, key, _ in LEVERS:
        holder, last = _at(ours, key)
        config = copy.deepcopy(rows[-1][1])
        target, _ = _at(config, key)
        target[last] = copy.deepcopy(holder[last])
        if config != rows[-1][1]:
            value = holder[last] if isinstance(holder[last], str) else ""
            rows.append(("+ " + name.format(value), config))
    return rows


# ---------------------------------------------------------------------------------- runs


class _Deadline(Exception):
    pass


class _TokenCounter(TrainerCallback):
    """Counts the tokens of the training batches; ends the run at `deadline` (perf_counter)."""

    tokens = 0
    deadline = float("inf")

    def on_batch(
        self,
        trainer,
        batch_inputs,
        batch_outputs,
        batch_metrics,
        epoch,
        batch_number,
        is_training,
        is_primary=True,
        batch_grad_norm=None,
        **kwargs,
    ) -> None:
        if is_training:
            for batch in batch_inputs:
                _TokenCounter.tokens += int((batch["tokens"]["tokens"]["tokens"] != 0).sum())
            if time.perf_counter() > _TokenCounter.deadline:
                raise _Deadline()


def build(config: Dict[str, Any], serialization_dir: str, batches: Optional[int]) -> TrainModel:
    config = copy.deepcopy(config)
    if batches:
        config["data_loader"]["batches_per_epoch"] = batches
    params = Params(config)
    prepare_environment(params)
    train_loop = TrainModel.from_params(params=params, serialization_dir=serialization_dir, local_rank=0)
    train_loop.trainer._callbacks.append(_TokenCounter(serialization_dir))
    return train_loop


def with_threads(config: Dict[str, Any], threads: str) -> Dict[str, Any]:
    """`config` training with `threads` torch threads (a number or "auto")."""
    config = copy.deepcopy(config)
    callbacks = [c for c in config["trainer"].get("callbacks", []) if c.get("type") != "torch_threads"]
    config["trainer"]["callbacks"] = callbacks + [{"type": "torch_threads", "num_threads": threads}]
    return config


def timed_run(config, workdir: str, batches: Optional[int], max_seconds: float) -> Dict[str, float]:
    serialization_dir = tempfile.mkdtemp(prefix="run-", dir=workdir)
    start = time.perf_counter()
    train_loop = build(config, serialization_dir, batches)
    setup = time.perf_counter() - start
    _TokenCounter.tokens = 0
    cpu, wall = time.process_time(), time.perf_counter()
    _TokenCounter.deadline = wall + max_seconds
    try:
        train_loop.trainer.train()
    except _Deadline:
        pass  # the batches done so far are the measurement
    wall = time.perf_counter() - wall
    cpu = time.process_time() - cpu
    tokens = _TokenCounter.tokens
    shutil.rmtree(serialization_dir, ignore_errors=True)
    return {
        "setup_s": setup,
        "train_s": wall,
        "cpu_s": cpu,
        "tokens": tokens,
        "tokens_per_s": tokens / wall,
        "tokens_per_cpu_s": tokens / cpu,
        "threads": torch.get_num_threads(),
    }


# ---------------------------------------------------------------------------------- check


def _vocab_rows(source_vocab, target_vocab, namespace, key=lambda token: token):
    """For each row of `target_vocab`'s namespace, the row of `source_vocab` holding the same
    token (after `key`), or -1."""
    index = source_vocab.get_token_to_index_vocabulary(namespace)
    rows = []
    for i in range(target_vocab.get_vocab_size(namespace)):
        token = target_vocab.get_token_from_index(i, namespace)
        rows.append(index.get(key(token), -1) if i > 1 or namespace == "labels" else i)
    return rows


def first_instances(loop: TrainModel) -> list:
    instances = []
    for instance in loop.trainer.data_loader.iter_instances():
        instances.append(instance)
        if len(instances) == CHECK_SENTENCES:
            return instances
    return instances


def check_same_model(
    stock_loop: TrainModel, our_loop: TrainModel, export: Optional[str] = None
) -> Tuple[bool, str, float]:
    """Whether the two models are the same (see the module docstring), a message, and the stock
    model's loss; with `export`, the stock model's weights (ours, copied) and vocabulary are
    saved there for the check in another environment."""
    stock, ours = stock_loop.model, our_loop.model
    # Same parameters: same names and shapes, but for the rows of vocabulary-sized tensors.
    vocab_sized = ("_embedding._module.weight", "tag_projection_layer", "crf.")

    def shapes(model):
        return {
            n: tuple(p.shape[1:]) if any(v in n for v in vocab_sized) else tuple(p.shape)
            for n, p in model.named_parameters()
            if p.requires_grad
        }

    stock_params, our_params = shapes(stock), shapes(ours)
    if stock_params != our_params:
        differing = sorted(
            n for n in set(stock_params) | set(our_params) if stock_params.get(n) != our_params.get(n)
        )
        return False, f"trainable parameters differ: {differing}", float("nan")
    our_params = {n: tuple(p.shape) for n, p in ours.named_parameters() if p.requires_grad}
    stock_state, our_state = stock.state_dict(), ours.state_dict()
    words = _vocab_rows(ours.vocab, stock.vocab, "tokens", key=normalize_word)
    chars = _vocab_rows(ours.vocab, stock.vocab, "token_characters")
    labels = _vocab_rows(ours.vocab, stock.vocab, "labels")
    if min(labels) < 0:
        return False, "label vocabularies differ", float("nan")
    unknown = ours.vocab.get_token_index(ours.vocab._oov_token, "tokens")
    new_state = {}
    for name, value in stock_state.items():
        source = our_state[name]
        if name.endswith("token_embedder_tokens.weight"):
            value = source[[r if r >= 0 else unknown for r in words]]
        elif name.endswith("_embedding._module.weight"):
            value = value.clone()
            found = [i for i, r in enumerate(chars) if r >= 0]
            value[found] = source[[chars[i] for i in found]]
        elif name.startswith("tag_projection_layer"):
            value = source[labels]
        elif name == "crf.transitions":
            value = source[labels][:, labels]
        elif name == "crf._constraint_mask":
            continue  # a function of the label names, built by each model itself
        else:
            value = source
        new_state[name] = value.clone()
    stock.load_state_dict(new_state, strict=False)
    if export:
        torch.save(stock.state_dict(), os.path.join(export, "weights.th"))
        stock.vocab.save_to_files(os.path.join(export, "vocabulary"))

    stock_batch = Batch(first_instances(stock_loop)).as_tensor_dict()
    our_batch = Batch(first_instances(our_loop)).as_tensor_dict()
    stock.eval()
    ours.eval()
    stock_loss = stock(**stock_batch)["loss"]
    our_loss = ours(**our_batch)["loss"]
    stock_grads = torch.autograd.grad(stock_loss, [p for p in stock.parameters() if p.requires_grad])
    our_grads = torch.autograd.grad(our_loss, [p for p in ours.parameters() if p.requires_grad])
    names = [n for n, p in ours.named_parameters() if p.requires_grad]
    grad_diff = {}
    for name, a, b in zip(names, stock_grads, our_grads):
        if "transitions" in name or "tag_projection" in name or "_embedding" in name:
            continue  # rows permuted between the vocabularies
        grad_diff[name] = float((a - b).abs().max() / max(float(b.abs().max()), 1e-12))
    difference = abs(float(stock_loss) - float(our_loss)) / max(1.0, abs(float(stock_loss)))
    message = (
        f"loss on the same {CHECK_SENTENCES} sentences: stock {float(stock_loss):.6f}, ours "
        f"{float(our_loss):.6f} (relative difference {difference:.1e}, tolerance "
        f"{LOSS_TOLERANCE:.0e}); largest relative gradient difference "
        f"{max(grad_diff.values()):.1e}; {len(our_params)} trainable tensors, "
        f"{sum(np.prod(s) for s in our_params.values()):,} parameters"
    )
    return difference <= LOSS_TOLERANCE, message, float(stock_loss)


# ---------------------------------------------------------------------------------- stock environment


def child_main(argv: List[str]) -> int:
    """
    `--child run|check --config FILE --workdir DIR ...`, run by `--stock-python` in the stock
    environment (allennlp-models as pip installs it, e.g. with torch 1.12.1): `run` times a
    training run of the config, `check` loads the weights and vocabulary exported by the parent's
    same-model check and computes the loss of the same sentences. Prints one `CHILD-RESULT` JSON
    line.
    """
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", choices=["run", "check"], required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batches", type=int, default=0)
    parser.add_argument("--max-seconds", type=float, default=60.0)
    parser.add_argument("--export")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    torch.set_num_threads(args.threads)
    with open(args.config, encoding="utf-8") as handle:
        config = json.load(handle)
    callbacks = config["trainer"].get("callbacks", [])
    config["trainer"]["callbacks"] = [c for c in callbacks if c.get("type") != "torch_threads"]
    if args.child == "run":
        result = timed_run(config, args.workdir, args.batches or None, args.max_seconds)
    else:
        config["vocabulary"] = {"type": "from_files", "directory": os.path.join(args.export, "vocabulary")}
        loop = build(config, tempfile.mkdtemp(dir=args.workdir), None)
        loop.model.load_state_dict(torch.load(os.path.join(args.export, "weights.th")))
        loop.model.eval()
        result = {"loss": float(loop.model(**Batch(first_instances(loop)).as_tensor_dict())["loss"])}
    result["torch"] = torch.__version__
    print("CHILD-RESULT " + json.dumps(result), flush=True)
    return 0


def external_run(python: str, kind: str, config: Dict[str, Any], workdir: str, *extra: str):
    """`child_main` in the environment of `python`; its result."""
    path = os.path.join(workdir, f"child-{kind}.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(config, handle)
    command = [
        python,
        os.path.abspath(__file__),
        "--child",
        kind,
        "--config",
        path,
        "--workdir",
        workdir,
        *extra,
    ]
    process = subprocess.run(command, capture_output=True, text=True)
    for line in process.stdout.splitlines():
        if line.startswith("CHILD-RESULT "):
            return json.loads(line[len("CHILD-RESULT ") :])
    raise RuntimeError(f"{' '.join(command)} failed (exit {process.returncode}):\n{process.stderr[-3000:]}")


# ---------------------------------------------------------------------------------- main


def main() -> int:
    if "--child" in sys.argv:
        return child_main(sys.argv[1:])
    parser = argument_parser(__doc__)
    parser.add_argument("--sentences", type=int, default=1500)
    parser.add_argument("--batches", type=int, default=60, help="batches per timed run (0: whole epoch)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=60.0,
        help="a run stops after its first batch past this many seconds",
    )
    parser.add_argument(
        "--profile", default="paper", help="hyper-parameter profile of base.libsonnet (paper, cpu_fast)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=0, help="batch size of both pipelines (default: the profile's)"
    )
    parser.add_argument(
        "--threads",
        default="auto",
        help='torch threads of our pipeline: a number or "auto" (default; the '
        "torch_threads callback of the config)",
    )
    parser.add_argument(
        "--stock-threads",
        type=int,
        default=torch.get_num_threads(),
        help="torch threads of the stock pipeline (default: torch's default, %(default)s here)",
    )
    parser.add_argument("--levers", action="store_true")
    parser.add_argument(
        "--stock-python",
        help="python of a second environment with allennlp-models as pip installs "
        "it (torch 1.12.1): the stock pipeline also runs there",
    )
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--our-char-embedder", help="override our config's char embedder type")
    parser.add_argument("--our-encoder", help="override our config's word encoder type")
    args = parser.parse_args()
    with scratch_dir("xner-train-bench-") as workdir:
        try:
            return run(args, workdir)
        except Exception:  # noqa: BLE001 - any failure is a failed benchmark run
            traceback.print_exc()
            return 1


def run(args, workdir: str) -> int:
    sentences, origin = english_sample(args.sentences, random.Random(args.seed))
    train = os.path.join(workdir, "train.conll")
    write_conll(train, sentences)
    vectors = os.path.join(workdir, "vectors.vec")
    rows = write_vectors(vectors, sentences, np.random.default_rng(args.seed))
    tokens = sum(len(s) for s in sentences)
    print(
        f"corpus: {origin}; {tokens} tokens, mean length {tokens / len(sentences):.1f}; "
        f"vectors: {rows} x {DIM} (random)"
    )
    print(
        f"threads: stock {args.stock_threads}, ours {args.threads} ({os.cpu_count()} cpus, "
        f"load average {load_average()}); profile {args.profile}; "
        f"{args.batches or 'all'} batches per run, {args.rounds} rounds"
    )

    hp = profile_hp(workdir, args.profile)
    batch_size = args.batch_size or hp["batch_size"]
    stock = stock_config(train, vectors, hp, batch_size)
    ours = our_config(workdir, train, vectors, args.profile)
    ours["data_loader"]["batch_sampler"]["batch_size"] = batch_size
    if args.our_char_embedder:
        ours["model"]["text_field_embedder"]["token_embedders"]["token_characters"][
            "type"
        ] = args.our_char_embedder
    if args.our_encoder:
        ours["model"]["encoder"]["type"] = args.our_encoder
    char = ours["model"]["text_field_embedder"]["token_embedders"].get("token_characters", {})
    print(
        f"ours: reader {ours['dataset_reader']['type']}, char embedder {char.get('type')}, "
        f"encoder {ours['model']['encoder']['type']}, sampler "
        f"{ours['data_loader'].get('batch_sampler', {}).get('type', 'default')}"
    )

    # Same-model check on freshly built pipelines.
    export = os.path.join(workdir, "export")
    os.makedirs(export)
    ok, message, stock_loss = check_same_model(
        build(stock, tempfile.mkdtemp(dir=workdir), None),
        build(ours, tempfile.mkdtemp(dir=workdir), None),
        export=export,
    )
    print(("same model: OK, " if ok else "same model: FAILED, ") + message)
    stock_env = None
    if args.stock_python:
        check = external_run(args.stock_python, "check", stock, workdir, "--export", export)
        difference = abs(check["loss"] - stock_loss) / max(1.0, abs(stock_loss))
        stock_env = f"stock install, torch {check['torch']}"
        same = difference <= LOSS_TOLERANCE
        ok = ok and same
        print(
            f"same model in the {stock_env} ({args.stock_python}): "
            f"{'OK' if same else 'FAILED'}, loss {check['loss']:.6f} (relative difference "
            f"{difference:.1e} to this environment's stock model)"
        )

    # (name, config); every config's threads are set by its torch_threads callback.
    stock_name = (
        f"stock crf_tagger, {args.stock_threads} threads (torch default)"
        if (args.stock_threads == torch.get_num_threads())
        else f"stock crf_tagger, {args.stock_threads} threads"
    )
    pipelines = [(stock_name, with_threads(stock, str(args.stock_threads)))]
    if args.stock_threads != 1:
        pipelines.append(("stock crf_tagger, 1 thread", with_threads(stock, "1")))
    external: Dict[str, int] = {}  # pipelines run by --stock-python: their threads
    if stock_env:
        for threads in sorted({args.stock_threads, 1}, reverse=True):
            name = f"stock crf_tagger ({stock_env}), {threads} thread{'s' * (threads > 1)}"
            external[name] = threads
            pipelines.append((name, stock))
    if args.levers:
        # One lever at a time, all on one thread, from the stock-equivalent end to ours.
        for name, config in lever_configs(stock, ours, batch_size):
            pipelines.append((name + ", 1 thread", with_threads(config, "1")))
        if args.threads != str(args.stock_threads):
            pipelines.append(
                (f"ours, {args.stock_threads} threads", with_threads(ours, str(args.stock_threads)))
            )
    ours_name = f"ours, {args.threads} threads"
    pipelines.append((ours_name, with_threads(ours, args.threads)))
    results: Dict[str, List[Dict[str, float]]] = {name: [] for name, _ in pipelines}
    failed = []
    for round_number in range(args.rounds):
        for name, config in pipelines:
            try:
                if name in external:
                    result = external_run(
                        args.stock_python,
                        "run",
                        config,
                        workdir,
                        "--threads",
                        str(external[name]),
                        "--batches",
                        str(args.batches),
                        "--max-seconds",
                        str(args.max_seconds),
                    )
                else:
                    result = timed_run(config, workdir, args.batches or None, args.max_seconds)
            except Exception:  # noqa: BLE001 - a failed configuration is reported, the others still run
                traceback.print_exc()
                failed.append(name)
                continue
            results[name].append(result)
            print(
                f"  round {round_number + 1}: {name:48s} {result['tokens_per_s']:7.0f} tokens/s "
                f"({result['tokens']} tokens in {result['train_s']:.1f} s; "
                f"{result['tokens_per_cpu_s']:.0f} per cpu-s; {result['threads']} threads; "
                f"setup {result['setup_s']:.1f} s)",
                flush=True,
            )

    def med(name, key):
        return median([r[key] for r in results[name]])

    baseline = pipelines[0][0]
    one_thread = "stock crf_tagger, 1 thread" if "stock crf_tagger, 1 thread" in results else baseline
    print()
    print("| pipeline | threads | tokens/s | tokens per cpu-s | setup s | vs stock | vs stock, 1 thread |")
    print("|---|---|---|---|---|---|---|")
    for name, _ in pipelines:
        threads = sorted({r["threads"] for r in results[name]})
        print(
            f"| {name} | {'/'.join(map(str, threads))} | {med(name, 'tokens_per_s'):.0f} | "
            f"{med(name, 'tokens_per_cpu_s'):.0f} | {med(name, 'setup_s'):.1f} | "
            f"{med(name, 'tokens_per_s') / med(baseline, 'tokens_per_s'):.2f}x | "
            f"{med(name, 'tokens_per_s') / med(one_thread, 'tokens_per_s'):.2f}x |"
        )

    def ratio_line(reference):
        ratio = med(ours_name, "tokens_per_s") / med(reference, "tokens_per_s")
        per_round = [
            o["tokens_per_s"] / r["tokens_per_s"] for o, r in zip(results[ours_name], results[reference])
        ]
        print(
            f"{ours_name}: {med(ours_name, 'tokens_per_s'):.0f} tokens/s vs {reference}: "
            f"{med(reference, 'tokens_per_s'):.0f} tokens/s -> {ratio:.2f}x (per round: "
            f"{', '.join(f'{r:.2f}' for r in per_round)}; target >= {TARGET_RATIO:.0f}x "
            f"{'met' if ratio >= TARGET_RATIO else 'NOT met'})"
        )

    print()
    ratio_line(baseline)
    if one_thread != baseline:
        ratio_line(one_thread)
    for name in external:
        ratio_line(name)
    print(f"load average now {load_average()}")
    return exit_status(failed, ok)


if __name__ == "__main__":
    exit_with(main)
