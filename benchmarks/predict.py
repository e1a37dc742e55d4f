"""
Prediction throughput on raw text through the Predictor API, for two models trained here just
to have archives (their F1 does not matter):

* fixture: `training_configs/fixture.jsonnet` (tiny dimensions), 2 epochs;
* paper: base.libsonnet's `tagger(...)` with the paper's dimensions (char embedding and both
  BiLSTMs 300, 300-d frozen vectors), 1 epoch on a few hundred English CoNLL sentences, random
  300-d vectors (written to a temporary directory).

The input is raw Spanish text: the sentences of ../shared/data/conll2002/esp.testa joined with
spaces (`XNER_DATA` overrides the root; generated text when missing), one per line, tokenized
again by the predictor. The predictor is `xner_tagger` (the package's; allennlp-models'
`sentence_tagger` if it is not registered). Each model is timed

* as allennlp would run it without our modules: the archive loaded as a stock `crf_tagger` with
  the stock `character_encoding` / `lstm` modules (same weights), one sentence per call (`allennlp
  predict` without `--batch-size`);
* the same, batched (`predict_batch_json`, `--batch-size` lines per call);
* ours: the archive as trained (`xner_crf_tagger` with its batched CRF,
  `unique_character_encoding`, `packed_lstm`), batched.

All with the same torch threads (`auto_threads()`: the idle cores). Prints tokens/s and the
ratio to the first row; the runs must predict the same tags, else (or if a run fails) the
script exits non-zero. Target: at least 2,000 tokens/s batched.

First prediction (`--first-prediction` runs only this part): wall time from starting
`allennlp predict FIXTURE_ARCHIVE input.txt` (a subprocess, from the repository root, so that
`.allennlp_plugins` loads the package) to its first output line, against allennlp's own import
in the same run: `import allennlp.commands` in a process of its own (the bare import) and
allennlp's `import_plugins()` run where there is no `.allennlp_plugins` (what the `allennlp`
command imports for every subcommand beyond that: all of allennlp and all of allennlp-models;
not ours to change).
Two inputs: a Spanish sentence of words read in training, accents included (uroman never
starts: the archive knows their romanization), and one with a non-ASCII word the archive has
never seen (uroman starts, from its cached engine). One warm-up round (file cache warm, uroman's
engine cache written), then `--repeats` rounds, the commands interleaved; medians. The predict
process runs the `allennlp` console script's code after timing its own `import
allennlp.commands`, and notes when allennlp's own imports are done (its `import_plugins()` has
imported all of allennlp and allennlp-models and asks for the `.allennlp_plugins` plugins, i.e.
ours), so "beyond allennlp's own import" is measured within one process: on a shared machine
the same import varies by a second or more from one process to the next, more than the
difference looked for. Target: at most 1.5 s beyond allennlp's own imports for the known-words
sentence; the time beyond `import allennlp.commands` alone is printed beside it.

Encoder archives (`--first-prediction --encoder [DIR]`): the same timing for an archive of
`training_configs/encoder/fixture.jsonnet` trained here (1 epoch) with the encoder `DIR`
(default the tiny fixture encoder; `encoders/multilingual-e5-small` for the real cost), or for
`--archive` of an encoder archive. Its feature cache and encoder store are fresh temporary
directories (the store's memo of the weights' SHA-256 and of the cache fingerprint is filled by
the warm-up round, as by any earlier run on a user's machine), so earlier runs inflate nothing.
Besides the table, one more process reports where the time of `allennlp predict` goes, phase by
phase (`--breakdown` alone prints only that): allennlp's imports, the plugin's, `load_archive`
(and in it the encoder's weights, SHA-256, int8 quantisation), the predictor, the first
prediction (and in it the cache fingerprint).

    .venv/bin/python benchmarks/predict.py [--sentences 1000] [--batch-size 64]
    .venv/bin/python benchmarks/predict.py --first-prediction [--repeats 5] [--archive model.tar.gz]
    .venv/bin/python benchmarks/predict.py --first-prediction --encoder [DIR] [--precision int8]
"""

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from typing import Dict, List, Optional, Tuple

os.environ.setdefault("TQDM_DISABLE", "1")

from common import (
    ROOT,
    argument_parser,
    data_path,
    english_sample,
    exit_status,
    exit_with,
    generated_corpus,
    load_average,
    read_words,
    scratch_dir,
    tagger_config,
    write_conll,
    write_vectors,
)

import numpy as np
import torch
from allennlp.commands.train import train_model
from allennlp.common import Params
from allennlp.models.archival import load_archive
from allennlp.predictors import Predictor

import xner_allennlp  # noqa: F401 - registers the package's components
from xner_allennlp.models.crf_tagger import infer_target_language
from xner_allennlp.training.threads import auto_threads

TARGET = 2000.0
FIRST_PREDICTION_TARGET = 1.5  # seconds beyond allennlp's own imports
ENCODER_FIRST_PREDICTION_TARGET = 3.0  # the same, for an encoder archive (issue 25)
# Every word is in fixtures/conll (so in a fixture archive's romanization table).
KNOWN_WORDS = "Inés Gutiérrez llegó a París con Muñoz ."
UNSEEN_WORD = "Inés Gutiérrez llegó a Москва ."
PYTHON = sys.executable
ALLENNLP = os.path.join(os.path.dirname(sys.executable), "allennlp")
STOCK_MODULES = {
    "model.type": "crf_tagger",
    "model.text_field_embedder.token_embedders.token_characters.type": "character_encoding",
    "model.encoder.type": "lstm",
}


def predictor_name() -> str:
    return "xner_tagger" if "xner_tagger" in Predictor.list_available() else "sentence_tagger"


def raw_text(count: int, rng: random.Random) -> List[str]:
    path = data_path("conll2002", "esp.testa")
    if os.path.isfile(path):
        sentences = read_words(path)
    else:
        sentences = [[w for w, _ in s] for s in generated_corpus(count, rng)]
    return [" ".join(words) for words in sentences[:count]]


def train_fixture(workdir: str) -> str:
    params = Params.from_file(os.path.join(ROOT, "training_configs", "fixture.jsonnet")).as_dict(quiet=True)
    params["trainer"]["num_epochs"] = 2
    params["evaluate_on_test"] = False
    out = os.path.join(workdir, "fixture-model")
    train_model(Params(params), out)
    return os.path.join(out, "model.tar.gz")


def train_paper(workdir: str, text: List[str], rng: random.Random) -> str:
    sentences, _ = english_sample(300, rng)
    train = os.path.join(workdir, "train.conll")
    write_conll(train, sentences)
    vectors = os.path.join(workdir, "vectors.vec")
    # Source and target words in one file: the English training words and the Spanish text.
    spanish = [[(w, "O") for w in line.split()] for line in text]
    write_vectors(vectors, sentences + spanish, np.random.default_rng(0))
    params = tagger_config(workdir, train, vectors, "paper", dim=300)
    params["trainer"]["num_epochs"] = 1
    params.pop("validation_data_path")
    params.pop("validation_dataset_reader")
    out = os.path.join(workdir, "paper-model")
    train_model(Params(params), out)
    return os.path.join(out, "model.tar.gz")


def train_encoder_fixture(workdir: str, encoder: str) -> str:
    """An archive of training_configs/encoder/fixture.jsonnet with `encoder`, 1 epoch, its
    feature cache and encoder store in `workdir` (the environment keeps them for the
    predict processes)."""
    os.environ["XNER_FEATURE_CACHE"] = os.path.join(workdir, "features")
    os.environ["XNER_ENCODER_STORE"] = os.path.join(workdir, "encoder-store")
    os.environ["XNER_ENCODER"] = os.path.abspath(encoder)
    os.environ["XNER_FIXTURES"] = os.path.join(ROOT, "fixtures")
    with open(os.path.join(encoder, "config.json"), encoding="utf-8") as handle:
        os.environ["XNER_ENCODER_DIM"] = str(json.load(handle)["hidden_size"])
    config = os.path.join(ROOT, "training_configs", "encoder", "fixture.jsonnet")
    params = Params.from_file(config).as_dict(quiet=True)
    params["trainer"]["num_epochs"] = 1
    params["evaluate_on_test"] = False
    out = os.path.join(workdir, "encoder-model")
    train_model(Params(params), out)
    return os.path.join(out, "model.tar.gz")


# Where the time of `allennlp predict ARCHIVE` goes, phase by phase, in one process: the steps
# the predict command takes (allennlp's imports, the plugins, load_archive, the predictor, the
# first line), with the encoder's own steps inside them timed by wrapping their functions.
TIMED_PHASES = """
import json, sys, time
phases = []
inner = {}
start = last = time.perf_counter()
def mark(name):
    global last
    now = time.perf_counter()
    phases.append((name, now - last, dict(inner)))
    inner.clear()
    last = now
import allennlp.commands
mark("import allennlp.commands")
from allennlp.common.plugins import import_plugins
import_plugins()
mark("import_plugins() (allennlp-models and this package)")
def timed(module, name, label):
    function = getattr(module, name)
    def wrapper(*args, **kwargs):
        t = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            inner[label] = inner.get(label, 0.0) + time.perf_counter() - t
    setattr(module, name, wrapper)
try:
    from xner_allennlp.token_embedders import cached_transformer_mismatched as c
    from xner_allennlp.pretrained import resolve as r
    timed(c, "resolve_weights", "  encoder weights: resolve + SHA-256 check")
    timed(c, "_load_frozen_transformer", "  encoder weights: load (memory-mapped)")
    timed(c, "quantize_linear_layers", "  encoder: int8 quantisation")
    timed(c.CachedTransformerMismatchedEmbedder, "fingerprint", "  feature cache fingerprint")
except ImportError:
    pass
from allennlp.models.archival import load_archive
from allennlp.predictors import Predictor
archive = load_archive(sys.argv[1], overrides=sys.argv[3])
mark("load_archive")
predictor = Predictor.from_archive(archive)
mark("predictor")
line = predictor.dump_line(predictor.predict_json(predictor.load_line(sys.argv[2])))
mark("first prediction")
sys.stderr.write("XNER_PHASES " + json.dumps(phases) + "\\n")
"""


def breakdown(archive: str, text: str, overrides: str = "") -> List[Tuple[str, float]]:
    """(phase, seconds) of one `allennlp predict` as TIMED_PHASES runs it, with the encoder's
    steps (indented) inside the phase that contains them."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", TQDM_DISABLE="1", OMP_NUM_THREADS="1")
    result = subprocess.run(
        [PYTHON, "-c", TIMED_PHASES, archive, text, overrides],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
    )
    lines = [line for line in result.stderr.splitlines() if line.startswith("XNER_PHASES ")]
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"the phase timing exited with {result.returncode}:\n{result.stderr[-2000:]}")
    rows: List[Tuple[str, float]] = []
    for name, seconds, inner in json.loads(lines[0].split(" ", 1)[1]):
        rows.append((name, seconds))
        rows.extend(inner.items())
    return rows


def print_breakdown(rows: List[Tuple[str, float]]) -> None:
    print()
    print("| phase of `allennlp predict` | s |")
    print("|---|---|")
    for name, seconds in rows:
        print(f"| {'- ' + name.strip() if name.startswith(' ') else name} | {seconds:.2f} |")
    print(f"(total {sum(s for n, s in rows if not n.startswith(' ')):.2f} s; load average {load_average()})")


def make_predictor(archive_path: str, stock_modules: bool, batch_size: int) -> Predictor:
    overrides = json.dumps(STOCK_MODULES) if stock_modules else ""
    archive = load_archive(archive_path, overrides=overrides)
    name = predictor_name()
    if name == "xner_tagger":
        cls = Predictor.by_name(name)
        # Told explicitly: a stock crf_tagger has no target_language for the tokenizer.
        return cls(
            archive.model,
            archive.validation_dataset_reader,
            max_batch_size=batch_size,
            language=infer_target_language(archive.config),
        )
    return Predictor.from_archive(archive, name)


def timed(predictor: Predictor, lines: List[str], batch_size: int) -> Dict:
    inputs = [{"sentence": line} for line in lines]
    outputs = []
    start = time.perf_counter()
    for first in range(0, len(inputs), batch_size):
        outputs.extend(predictor.predict_batch_json(inputs[first : first + batch_size]))
    seconds = time.perf_counter() - start
    key = "tokens" if "tokens" in outputs[0] else "words"
    tokens = sum(len(o[key]) for o in outputs)
    return {
        "tokens_per_s": tokens / seconds,
        "tokens": tokens,
        "seconds": seconds,
        "tags": [o["tags"] for o in outputs],
    }


# `import allennlp.commands`, timed inside the process (printed to stderr) ...
TIMED_IMPORT = """
import sys, time
start = time.perf_counter()
import allennlp.commands
sys.stderr.write("XNER_IMPORT_SECONDS %f\\n" % (time.perf_counter() - start))
sys.stderr.flush()
"""
# ... then `allennlp predict ...` as the `allennlp` console script runs it, noting when allennlp's
# own imports are done: `import_plugins()` imports all of allennlp and its default plugins
# (allennlp-models) and only then asks `discover_plugins()` for the `.allennlp_plugins` ones.
TIMED_PREDICT = TIMED_IMPORT + """
import allennlp.common.plugins as _plugins
_discover = _plugins.discover_plugins
_reported = []
def _timed_discover(*args, **kwargs):
    if not _reported:
        _reported.append(1)
        sys.stderr.write("XNER_OWN_IMPORT_SECONDS %f\\n" % (time.perf_counter() - start))
        sys.stderr.flush()
    return _discover(*args, **kwargs)
_plugins.discover_plugins = _timed_discover
from allennlp.__main__ import run
sys.argv = ["allennlp"] + sys.argv[1:]
sys.exit(run())
"""


def _timed_command(
    command: List[str], cwd: str, env: Dict[str, str], first_line: Optional[str] = None
) -> Tuple[float, Optional[float], Optional[float]]:
    """(wall seconds from starting `command` to its exit, or to its first stdout line starting
    with `first_line`; the seconds of `import allennlp.commands` it reported, if any; the
    seconds until allennlp's own imports were done, if it reported them)."""
    with tempfile.TemporaryFile("w+", encoding="utf-8") as errors:
        start = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=errors, text=True, encoding="utf-8"
        )
        seen = None
        for line in process.stdout:
            if first_line is not None and seen is None and line.startswith(first_line):
                seen = time.perf_counter() - start
        process.wait()
        total = time.perf_counter() - start
        errors.seek(0)
        log = errors.read()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited with {process.returncode}:\n{log[-2000:]}")
    if first_line is not None and seen is None:
        raise RuntimeError(f"{' '.join(command)} printed no line starting with {first_line!r}")

    def reported(name: str) -> Optional[float]:
        values = [float(line.split()[1]) for line in log.splitlines() if line.startswith(name + " ")]
        return values[0] if values else None

    wall = total if first_line is None else seen
    return wall, reported("XNER_IMPORT_SECONDS"), reported("XNER_OWN_IMPORT_SECONDS")


BARE = "import allennlp.commands"
KNOWN = "predict, first line (known words)"


def first_prediction(archive: str, workdir: str, repeats: int, overrides: str = "") -> Dict[str, List[Tuple]]:
    """(wall seconds, own import seconds) of each timed command, one pair per round."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", TQDM_DISABLE="1", OMP_NUM_THREADS="1")
    elsewhere = tempfile.mkdtemp(dir=workdir)  # no .allennlp_plugins here
    inputs = {}
    for name, text in (("known", KNOWN_WORDS), ("unseen", UNSEEN_WORD)):
        inputs[name] = os.path.join(workdir, f"{name}.txt")
        with open(inputs[name], "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    predict = [PYTHON, "-c", TIMED_PREDICT, "predict", archive]
    options = ["-o", overrides] if overrides else []
    commands = {
        BARE: ([PYTHON, "-c", TIMED_IMPORT], elsewhere, None),
        "allennlp + import_plugins()": (
            [PYTHON, "-c", "from allennlp.common.plugins import import_plugins; import_plugins()"],
            elsewhere,
            None,
        ),
        KNOWN: (predict + [inputs["known"]] + options, ROOT, "prediction:"),
        "predict, first line (unseen non-ASCII word)": (
            predict + [inputs["unseen"]] + options,
            ROOT,
            "prediction:",
        ),
    }
    times: Dict[str, List[Tuple]] = {name: [] for name in commands}
    for round_number in range(repeats + 1):  # round 0 warms up
        for name, (command, cwd, first_line) in commands.items():
            measured = _timed_command(command, cwd, env, first_line)
            if round_number:
                times[name].append(measured)
        if round_number:
            print(
                f"  round {round_number}: "
                + ", ".join(f"{name} {values[-1][0]:.2f} s" for name, values in times.items()),
                flush=True,
            )
    return times


def report_first_prediction(times: Dict[str, List[Tuple]], target: float = FIRST_PREDICTION_TARGET) -> bool:
    wall = {name: statistics.median(w for w, _, _ in values) for name, values in times.items()}

    def medians(column: int) -> Tuple[Dict[str, float], Dict[str, float]]:
        """(the reported seconds, the wall time beyond them): medians of the commands that
        reported the column. Beyond what the same process did: no other process's timing is
        subtracted."""
        timed = {n: v for n, v in times.items() if all(t[column] is not None for t in v)}
        return (
            {n: statistics.median(t[column] for t in v) for n, v in timed.items()},
            {n: statistics.median(t[0] - t[column] for t in v) for n, v in timed.items()},
        )

    bare, beyond_bare = medians(1)
    own, beyond_own = medians(2)
    print()
    print(
        "| command | wall s | its `import allennlp.commands` s | beyond that s "
        "| allennlp's own imports done s | beyond those s |"
    )
    print("|---|---|---|---|---|---|")
    for name in times:
        cells = [f"{bare[name]:.2f}", f"{beyond_bare[name]:+.2f}"] if name in bare else ["", ""]
        cells += [f"{own[name]:.2f}", f"{beyond_own[name]:+.2f}"] if name in own else ["", ""]
        print(f"| {name} | {wall[name]:.2f} | " + " | ".join(cells) + " |")
    print(
        "(medians over the rounds; the bare import's wall time includes interpreter start "
        "and exit, the predict rows' end at the first line; allennlp's own imports: "
        "`import allennlp.commands` and what its `import_plugins()` imports before it asks for "
        "the `.allennlp_plugins` ones, i.e. all of allennlp and allennlp-models)"
    )
    met = beyond_own[KNOWN] <= target
    print(
        f"first prediction: {beyond_own[KNOWN]:+.2f} s beyond allennlp's own imports (target <= "
        f"{target} s: {'met' if met else 'NOT met'}), {beyond_bare[KNOWN]:+.2f} s "
        f"beyond `import allennlp.commands` alone; load average {load_average()}"
    )
    return met


def main() -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--sentences", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--first-prediction", action="store_true", help="only time the first prediction of `allennlp predict`"
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed rounds of the first-prediction commands (default 3)"
    )
    parser.add_argument(
        "--archive",
        default=None,
        help="archive for the first-prediction timing (default: a fixture model trained here)",
    )
    parser.add_argument(
        "--encoder",
        nargs="?",
        const=os.path.join(ROOT, "fixtures", "encoder", "tiny-bert"),
        default=None,
        help="first prediction of an encoder archive trained here with this encoder directory "
        "(default the tiny fixture encoder)",
    )
    parser.add_argument(
        "--precision",
        choices=["float32", "int8"],
        default=None,
        help="the encoder archive's precision at predict time (an override; default: as trained)",
    )
    parser.add_argument(
        "--breakdown", action="store_true", help="only the phase-by-phase timing of one predict process"
    )
    args = parser.parse_args()
    if args.first_prediction or args.breakdown:
        with scratch_dir("xner-predict-bench-") as workdir:
            if args.archive is not None:
                archive = args.archive
            elif args.encoder is not None:
                archive = train_encoder_fixture(workdir, args.encoder)
            else:
                archive = train_fixture(workdir)
            overrides = ""
            if args.precision is not None:
                overrides = json.dumps(
                    {"model.text_field_embedder.token_embedders.encoder.precision": args.precision}
                )
            met = True
            if args.first_prediction:
                print(f"first prediction of {archive}: {args.repeats} rounds after a warm-up", flush=True)
                target = FIRST_PREDICTION_TARGET if args.encoder is None else ENCODER_FIRST_PREDICTION_TARGET
                met = report_first_prediction(
                    first_prediction(archive, workdir, args.repeats, overrides), target
                )
            print_breakdown(breakdown(archive, KNOWN_WORDS, overrides))
            return 0 if met else 1
    rng = random.Random(13)
    failed, rows = [], []
    startup = None
    with scratch_dir("xner-predict-bench-") as workdir:
        text = raw_text(args.sentences, rng)
        print(
            f"input: {len(text)} raw sentences; predictor {predictor_name()}; "
            f"batch size {args.batch_size}"
        )
        archives = {}
        for name, train in (
            ("fixture", lambda: train_fixture(workdir)),
            ("paper", lambda: train_paper(workdir, text, rng)),
        ):
            try:
                archives[name] = train()
            except Exception:  # noqa: BLE001
                traceback.print_exc()
                failed.append(f"training {name}")
        threads = auto_threads()
        torch.set_num_threads(threads)
        print(f"torch threads: {threads} (auto; load average {load_average()})")
        variants = [
            ("stock modules, 1 sentence per call", True, 1),
            (f"stock modules, batches of {args.batch_size}", True, args.batch_size),
            (f"ours, batches of {args.batch_size}", False, args.batch_size),
        ]
        for model_name, archive in archives.items():
            results = []
            for label, stock_modules, batch_size in variants:
                try:
                    predictor = make_predictor(archive, stock_modules, batch_size)
                    timed(predictor, text[:20], batch_size)  # warm-up
                    result = timed(predictor, text, batch_size)
                except Exception:  # noqa: BLE001
                    traceback.print_exc()
                    failed.append(f"{model_name}: {label}")
                    continue
                results.append((label, result))
                print(
                    f"  {model_name:8s} {label:38s} {result['tokens_per_s']:7.0f} tokens/s "
                    f"({result['tokens']} tokens in {result['seconds']:.1f} s)",
                    flush=True,
                )
            if len(results) > 1 and any(r["tags"] != results[0][1]["tags"] for _, r in results[1:]):
                print(f"  {model_name}: the variants predicted DIFFERENT tags")
                failed.append(f"{model_name}: different predictions")
            rows.append((model_name, results))
        if "fixture" in archives:
            print(f"first prediction of the fixture archive ({args.repeats} rounds):", flush=True)
            try:
                startup = first_prediction(archives["fixture"], workdir, args.repeats)
            except Exception:  # noqa: BLE001
                traceback.print_exc()
                failed.append("first prediction")
                startup = None

    print()
    print("| model | run | tokens/s | vs first row |")
    print("|---|---|---|---|")
    for model_name, results in rows:
        for label, result in results:
            print(
                f"| {model_name} | {label} | {result['tokens_per_s']:.0f} | "
                f"{result['tokens_per_s'] / results[0][1]['tokens_per_s']:.1f}x |"
            )
    for model_name, results in rows:
        if results and results[-1][0].startswith("ours"):
            rate = results[-1][1]["tokens_per_s"]
            print(
                f"{model_name}: ours batched {rate:.0f} tokens/s (target >= {TARGET:.0f}: "
                f"{'met' if rate >= TARGET else 'NOT met'})"
            )
    if startup is not None and not report_first_prediction(startup):
        failed.append("first-prediction target")
    return exit_status(failed)


if __name__ == "__main__":
    exit_with(main)
