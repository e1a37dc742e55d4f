"""
One command per results row (`make reproduce TARGET=es [PROFILE=cpu_fast] [VARIANT=full]`):
builds the dictionary-projected vectors if missing, trains on English with the target dev set
for model selection, runs `allennlp evaluate` and `allennlp xner-report` on the dev set, and
appends a row to docs/RESULTS.md.

Target test sets are withheld, so every number is a dev number.
"""

import argparse
import datetime
import json
import os
import shlex
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ALLENNLP = os.path.join(os.path.dirname(sys.executable), "allennlp")

# The package's language table, the one the configs read too (read as JSON: importing the
# package would load allennlp and torch into this driver for nothing).
with open(os.path.join(ROOT, "xner_allennlp", "common", "languages.json"), encoding="utf-8") as _handle:
    LANGUAGES = json.load(_handle)
SOURCE = "en"
TARGETS = [code for code, entry in LANGUAGES.items() if code != SOURCE and entry["dev"] is not None]

# Files under the data root: each target's dev set (path, encoding), the labelled training sets.
DEV_FILES = {code: (LANGUAGES[code]["dev"]["path"], LANGUAGES[code]["dev"]["encoding"]) for code in TARGETS}
SOURCE_TRAIN = {code: entry["train"]["path"] for code, entry in LANGUAGES.items() if entry["train"]}
# Targets with labelled training data of their own (the supervised upper bound).
SUPERVISED_TRAIN = {code: SOURCE_TRAIN[code] for code in TARGETS if code in SOURCE_TRAIN}
VARIANTS = [
    "full",
    "no_translation",
    "no_uroman",
    "word_only",
    "char_only",
    "shuffle",
    "supervised",
    "multi_source",
    "nouns",
    "lowercase_characters",
    "adjectives",
    "collapsed_characters",
    "head_final",
    "composed",
    "self_train",
]
# Orthography variants (training_configs/orthography/), for any target.
ORTHOGRAPHY_VARIANTS = ["nouns", "lowercase_characters", "adjectives", "collapsed_characters", "head_final"]
# multi_source (training_configs/multi_source/): the labelled sources of each target, and files.
MULTI_SOURCES = {"es": ["en", "nl"], "nl": ["en", "es"], "de": ["en", "es", "nl"], "bn": ["en", "es", "nl"]}
# Encoder backend (training_configs/encoder/): full = English + its reverse translation.
ENCODER_VARIANTS = [
    "full",
    "no_translation",
    "replace",
    "characters",
    "aligned_vectors",
    "last_layer",
    "self_train",
]
# Unlabelled target text for self-training: the words of the targets' training files, never
# their tags.
UNLABELLED_TEXT = dict(SUPERVISED_TRAIN)


def sh(command, env=None, log=None):
    print("+", " ".join(shlex.quote(c) for c in command), flush=True)
    with open(log, "w") if log else open(os.devnull, "w") as sink:
        result = subprocess.run(
            command,
            cwd=ROOT,
            env=env,
            stdout=sink if log else None,
            stderr=subprocess.STDOUT if log else None,
        )
    if result.returncode != 0:
        if log:
            with open(log) as handle:
                sys.stderr.write("".join(handle.readlines()[-40:]))
        raise SystemExit(f"failed ({result.returncode}): {' '.join(command)}")


def count_tokens(path):
    with open(path, "rb") as handle:
        return sum(1 for line in handle if line.strip() and not line.startswith(b"-DOCSTART-"))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--target", required=True, choices=sorted(DEV_FILES))
    parser.add_argument("--profile", default="cpu_fast")
    parser.add_argument("--variant", default="full", choices=sorted(set(VARIANTS + ENCODER_VARIANTS)))
    parser.add_argument("--backend", default="static", choices=["static", "encoder"])
    parser.add_argument(
        "--encoder",
        default=os.environ.get("XNER_ENCODER") or os.path.join(ROOT, "encoders", "multilingual-e5-small"),
        help="encoder checkpoint directory or Hugging Face name (encoder backend)",
    )
    parser.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data"))
    parser.add_argument("--runs", default=os.path.join(ROOT, "runs"))
    parser.add_argument("--results", default=os.path.join(ROOT, "docs", "RESULTS.md"))
    parser.add_argument("--cuda-device", default="-1")
    parser.add_argument(
        "--round",
        type=int,
        default=1,
        help="self_train: round N pseudo-labels with round N-1's model (round 0 = full)",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=0.9,
        help="self_train: minimum CRF marginal of every token of a kept sentence",
    )
    parser.add_argument(
        "--teacher",
        default="same",
        choices=["same", "encoder"],
        help="self_train round 1: pseudo-labels from this backend's full model (same) "
        "or from the encoder backend's full model (encoder), e.g. for a static "
        "student; the student never reads the encoder",
    )
    parser.add_argument(
        "--compose",
        nargs="?",
        const="dev",
        choices=["dev", "encoder", "model"],
        help="static variants: vectors composed from their form for target words without one; "
        "dev (the default of a bare --compose): for the dev words, written into the .vec as "
        "VARIANT=composed does for full; encoder: as dev, and the --encoder's bare-word vectors "
        "(xner-align --compose-encoder) verify the romanized matches and place the words "
        "before the n-grams; model: inside the model (xner-align "
        "--composition-model, XNER_COMPOSITION), for any word, at predict time too",
    )
    args = parser.parse_args()
    if args.compose and (args.backend != "static" or args.variant in ("composed", "supervised")):
        raise SystemExit(
            "--compose (COMPOSE=dev|encoder|model) is for static zero-shot variants other than composed"
        )
    # What a run adds to its variant: (part of the run's name, part of the row's variant).
    modifiers = {
        None: [],
        "dev": [("composed", "composed")],
        "encoder": [("composed_encoder", "composed_encoder")],
        "model": [("composition", "composition")],
    }[args.compose]
    # XNER_WORD_DROPOUT changes the model: its runs are kept apart and named in the row.
    word_dropout = os.environ.get("XNER_WORD_DROPOUT")
    if word_dropout and float(word_dropout) > 0:
        modifiers.append((f"wd{word_dropout}", f"word_dropout{word_dropout}"))
    # Another seed is another run: kept beside the default seed's (13), named in the row.
    seed = os.environ.get("XNER_SEED")
    if seed and seed != "13":
        modifiers.append((f"seed{seed}", f"seed{seed}"))
    # XNER_PIVOT=true translates a multi-source model's other sources too (through English).
    if os.environ.get("XNER_PIVOT") == "true" and args.variant == "multi_source":
        modifiers.append(("pivot", "pivot"))
    name_tag = "".join(f"_{name}" for name, _ in modifiers)

    data = os.path.abspath(args.data)
    # The code that runs is the code at the start.
    commit = (
        subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        or "unknown"
    )
    target = args.target
    if args.variant == "supervised" and target not in SUPERVISED_TRAIN:
        raise SystemExit(
            f"no target training file for {target}: supervised runs exist for "
            f"{', '.join(SUPERVISED_TRAIN)}"
        )
    dev, dev_encoding = DEV_FILES[target]
    dev = os.path.join(data, dev)
    dictionary = os.path.join(data, "dictionaries", f"en-{target}.txt")

    def project(language, vector_dir, *extra):
        """`xner-align --method projection`: `language` vectors projected onto English GloVe."""
        glove = os.path.join(data, "vectors", "glove.6B.50d.txt.gz")
        language_dictionary = os.path.join(data, "dictionaries", f"en-{language}.txt")
        sh([ALLENNLP, "xner-align", "--method", "projection", "--source", glove,
            "--dictionary", language_dictionary, "--output-dir", vector_dir, *extra])  # fmt: skip

    def projected(language):
        """English and `language` vectors projected onto English GloVe (one space for all)."""
        vector_dir = os.path.join(args.runs, "vectors", f"en-{language}")
        english = os.path.join(vector_dir, "vectors-en.vec")
        foreign = os.path.join(vector_dir, f"vectors-{language}.vec")
        if not (os.path.isfile(english) and os.path.isfile(foreign)):
            project(language, vector_dir)
        return english, foreign

    source_vectors, target_vectors = projected(target)
    composition = None
    if args.compose == "model":
        # The projected table and its fitted n-gram composer, which the model applies to every
        # target word without a vector (no word list read).
        vector_dir = os.path.join(args.runs, "vectors", f"en-{target}-composition")
        project(target, vector_dir, "--composition-model")
        target_vectors = os.path.join(vector_dir, f"vectors-{target}.vec")
        with open(os.path.join(vector_dir, "alignment.json")) as handle:
            composition = json.load(handle)["settings"]["composition_model"]
    elif args.variant == "composed" or args.compose in ("dev", "encoder"):
        # The projected table plus vectors composed from their form for the dev words without
        # one (xner-align --compose-words: words only, never the tags).
        with_encoder = args.compose == "encoder"
        vector_dir = os.path.join(
            args.runs, "vectors", f"en-{target}-composed" + ("-encoder" if with_encoder else "")
        )
        # A Snowball stem match where there is a stemmer, the English vector of the romanization
        # for a script with romanization rules (bn), then the encoder's or the n-grams' vector.
        entry = LANGUAGES[target]
        methods = ",".join(
            (["stem"] if entry["snowball"] else [])
            + (["romanized"] if entry.get("romanized_match") else [])
            + (["encoder"] if with_encoder else [])
            + ["subword"]
        )
        extra = ["--compose-encoder", args.encoder] if with_encoder else []
        project(target, vector_dir, "--compose-words", dev, "--compose-encoding", dev_encoding,
                "--compose", methods, *extra)  # fmt: skip
        target_vectors = os.path.join(vector_dir, f"vectors-{target}.vec")
        with open(os.path.join(vector_dir, "alignment.json")) as handle:
            composition = json.load(handle)["settings"]["composition"]

    config = os.path.join("training_configs", f"en_to_{target}.jsonnet")
    if args.backend == "encoder":
        if args.variant not in ENCODER_VARIANTS:
            raise SystemExit(f"encoder variants: {', '.join(ENCODER_VARIANTS)}")
        config = os.path.join("training_configs", "encoder", f"en_to_{target}.jsonnet")
        if args.variant in ("no_translation", "characters", "aligned_vectors", "last_layer"):
            config = os.path.join("training_configs", "encoder", "ablations", f"{args.variant}.jsonnet")
    elif args.variant not in VARIANTS:
        raise SystemExit(f"static variants: {', '.join(VARIANTS)}")
    elif args.variant in ORTHOGRAPHY_VARIANTS:
        config = os.path.join("training_configs", "orthography", f"{args.variant}.jsonnet")
    elif args.variant == "multi_source":
        config = os.path.join("training_configs", "multi_source", f"to_{target}.jsonnet")
    elif args.variant not in ("full", "supervised", "composed", "self_train"):
        config = os.path.join("training_configs", "ablations", f"{args.variant}.jsonnet")
        # shuffle.jsonnet reads XNER_TARGET; the other ablations are en -> es.
        if target != "es" and args.variant != "shuffle":
            raise SystemExit("the ablation configs other than shuffle are en -> es")
    train_file = os.path.join(data, SOURCE_TRAIN[SOURCE])
    env = dict(
        os.environ,
        XNER_DATA=data,
        XNER_DEV=dev,
        XNER_TEST="none",
        XNER_TARGET_ENCODING=dev_encoding,
        XNER_SOURCE_VECTORS=source_vectors,
        XNER_TARGET_VECTORS=target_vectors,
        XNER_VECTOR_DIM="50",
        XNER_DICTIONARY=dictionary,
        XNER_PROFILE=args.profile,
        XNER_CUDA_DEVICE=args.cuda_device,
        XNER_TARGET=target,
    )
    if args.variant == "supervised":
        # Not zero-shot: the target's own labelled training data, no translation.
        train_file = os.path.join(data, SUPERVISED_TRAIN[target])
        env["XNER_DICTIONARY"] = "none"
    env["XNER_TRAIN"] = train_file
    train_files = [train_file]
    if args.variant == "multi_source" and args.backend == "static":
        for language in MULTI_SOURCES[target]:
            if language != "en":
                env[f"XNER_VECTORS_{language.upper()}"] = projected(language)[1]
        sources = os.environ.get("XNER_SOURCES") or ",".join(MULTI_SOURCES[target])
        train_files = [os.path.join(data, SOURCE_TRAIN[s]) for s in sources.split(",")]
    profile = args.profile
    if args.backend == "encoder":
        env.update(
            XNER_ENCODER=args.encoder,
            XNER_TARGET=target,
            XNER_TRANSLATION="replace" if args.variant == "replace" else "append",
        )
        # The encoder configs have their own hyper-parameters (training_configs/encoder/).
        profile = "encoder"

    if args.compose == "model":
        env["XNER_COMPOSITION"] = composition["file"]
    name = f"en_to_{target}-{args.variant}{name_tag}-{profile}"
    self_training = None
    if args.variant == "self_train":
        if target not in UNLABELLED_TEXT:
            raise SystemExit(
                f"no unlabelled text for {target}: self-training runs exist for "
                f"{', '.join(UNLABELLED_TEXT)}"
            )
        # An encoder teacher is the encoder backend's full model; later rounds use the
        # student's previous round, so only round 1 names the teacher.
        teacher_tag = "" if args.teacher == "same" else f"_{args.teacher}"
        previous = (
            f"en_to_{target}-full-{'encoder' if args.teacher == 'encoder' else profile}"
            if args.round == 1
            else f"en_to_{target}-self_train{args.round - 1}{teacher_tag}-{profile}"
        )
        teacher = os.path.join(args.runs, previous, "model.tar.gz")
        if not os.path.isfile(teacher):
            raise SystemExit(
                f"self_train round {args.round} needs {teacher} (run round "
                f"{args.round - 1} first: VARIANT=full for round 1)"
            )
        name = f"en_to_{target}-self_train{args.round}{teacher_tag}{name_tag}-{profile}"
        pseudo = os.path.join(
            args.runs, "pseudo", f"{target}-round{args.round}{teacher_tag}-t{args.threshold}.conll"
        )
        os.makedirs(os.path.dirname(pseudo), exist_ok=True)
        started_pseudo = time.time()
        sh(
            [
                ALLENNLP,
                "xner-self-train",
                teacher,
                os.path.join(data, UNLABELLED_TEXT[target]),
                "--input-format",
                "conll",
                "--threshold",
                str(args.threshold),
                "--output-file",
                pseudo,
            ],
            env=env,
            log=os.path.join(args.runs, f"{name}.pseudo.log"),
        )
        with open(os.path.join(args.runs, f"{name}.pseudo.log")) as handle:
            summary_line = [line for line in handle if "sentences kept" in line][-1].strip()
        self_training = {
            "round": args.round,
            "threshold": args.threshold,
            "teacher": previous,
            "teacher_backend": args.teacher if args.round == 1 else "same",
            "pseudo_seconds": round(time.time() - started_pseudo),
            "summary": summary_line,
        }
        env["XNER_PSEUDO"] = pseudo
    run_dir = os.path.join(args.runs, name)
    os.makedirs(args.runs, exist_ok=True)
    train_command = [ALLENNLP, "train", config, "-s", run_dir, "-f"]
    started = time.time()
    sh(train_command, env=env, log=os.path.join(args.runs, f"{name}.train.log"))
    train_seconds = time.time() - started

    archive = os.path.join(run_dir, "model.tar.gz")
    dev_metrics_file = os.path.join(run_dir, "dev_metrics.json")
    sh(
        [ALLENNLP, "evaluate", archive, dev, "--output-file", dev_metrics_file],
        env=env,
        log=os.path.join(args.runs, f"{name}.evaluate.log"),
    )
    report_file = os.path.join(run_dir, "dev_report.json")
    sh(
        [ALLENNLP, "xner-report", archive, dev, "--output-file", report_file],
        env=env,
        log=os.path.join(args.runs, f"{name}.report.log"),
    )
    wall = time.time() - started

    with open(dev_metrics_file) as handle:
        dev_metrics = json.load(handle)
    with open(os.path.join(run_dir, "metrics.json")) as handle:
        train_metrics = json.load(handle)
    with open(report_file) as handle:
        report = json.load(handle)
    epochs = train_metrics.get("epoch", 0) + 1
    tokens_per_second = sum(map(count_tokens, train_files)) * epochs / max(train_seconds, 1e-9)
    durations = epoch_durations(run_dir, epochs)

    if args.backend == "encoder":
        command = f"make reproduce TARGET={target} BACKEND=encoder VARIANT={args.variant}"
        if self_training:
            command += f" ROUND={args.round} THRESHOLD={args.threshold}"
        # Settings given through the environment belong to the row's command.
        for variable in ("XNER_NUM_EPOCHS", "XNER_LAYERS", "XNER_LAYER_MIX", "XNER_SEED"):
            if os.environ.get(variable):
                command = f"{variable}={os.environ[variable]} " + command
    else:
        command = f"make reproduce TARGET={target} PROFILE={args.profile} VARIANT={args.variant}"
        if self_training:
            command += f" ROUND={args.round} THRESHOLD={args.threshold}"
            if args.teacher != "same":
                command += f" TEACHER={args.teacher}"
        if args.compose:
            command += f" COMPOSE={args.compose}"
        for variable in ("XNER_NUM_EPOCHS", "XNER_SEED", "XNER_SOURCES", "XNER_WORD_DROPOUT", "XNER_PIVOT"):
            if os.environ.get(variable):
                command = f"{variable}={os.environ[variable]} " + command
    row = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command,
        "commit": commit,
        "target": target,
        "variant": (args.variant if not self_training else f"self_train{args.round}{teacher_tag}")
        + "".join(f"+{part}" for _, part in modifiers),
        "self_training": self_training,
        "composition": composition,
        # Vectors composed for the dev file's words: the model's inputs were built from the
        # evaluation text, which a user's text never allows. Such rows are never the headline.
        "transductive": args.variant == "composed" or args.compose in ("dev", "encoder"),
        "profile": profile,
        "backend": args.backend,
        "epoch_seconds": durations,
        # The first epoch also encodes every sentence not yet in the feature cache.
        "feature_cache_seconds": (
            round(max(0.0, durations[0] - sorted(durations[1:])[len(durations[1:]) // 2]))
            if args.backend == "encoder" and len(durations) > 1
            else None
        ),
        "wall_seconds": round(wall),
        "epochs": epochs,
        "best_epoch": train_metrics.get("best_epoch"),
        "train_tokens_per_second": round(tokens_per_second),
        "dev_precision": dev_metrics["precision-overall"],
        "dev_recall": dev_metrics["recall-overall"],
        "dev_f1": dev_metrics["f1-measure-overall"],
        "report": report,
    }
    append_row(args.results, row)
    print(json.dumps({k: v for k, v in row.items() if k != "report"}, indent=2))


def epoch_durations(run_dir, epochs):
    """Seconds of each epoch (training + validation), from allennlp's per-epoch metrics."""
    elapsed = []
    for epoch in range(epochs):
        path = os.path.join(run_dir, f"metrics_epoch_{epoch}.json")
        if not os.path.isfile(path):
            break
        with open(path) as handle:
            text = json.load(handle).get("training_duration", "0:00:00")
        hours, minutes, seconds = text.split(":")
        elapsed.append(int(hours) * 3600 + int(minutes) * 60 + float(seconds))
    return [round(b - a, 1) for a, b in zip([0.0] + elapsed[:-1], elapsed)]


def append_row(results_path, row):
    """Appends the run to the machine-readable log and to the human table of RESULTS.md."""
    os.makedirs(os.path.dirname(results_path), exist_ok=True)
    with open(os.path.join(os.path.dirname(results_path), "results.jsonl"), "a") as handle:
        handle.write(json.dumps(row) + "\n")
    report = row["report"]
    lengths = report.get("length") or {}
    # A model without word vectors (char_only) has no OOV rate.
    oov = report.get("oov") or {}

    def rate(value):
        return "n/a" if value is None else f"{100 * value:.1f}"

    variant = row["variant"] + (" (transductive)" if row.get("transductive") else "")

    def f1_of(bucket):
        value = lengths.get(bucket, {}).get("f1")
        return "-" if value is None else f"{100 * value:.1f}"

    if row.get("backend") == "encoder":
        pieces = report.get("pieces") or {}
        cache = row.get("feature_cache_seconds")
        line = (
            f"| {row['target']} | {variant} | {100 * row['dev_precision']:.2f} "
            f"| {100 * row['dev_recall']:.2f} | **{100 * row['dev_f1']:.2f}** | {f1_of('1')} / "
            f"{f1_of('2')} / {f1_of('>=3')} | {pieces.get('pieces_per_word', 0):.2f} / "
            f"{rate(pieces.get('unk_word_rate'))} | {row['epochs']} ({row['best_epoch']}) "
            f"| {row['wall_seconds'] // 60} min | {'-' if cache is None else f'{cache / 60:.1f} min'} "
            f"| {row['commit']} | `{row['command']}` |\n"
        )
        header_prefix = "| target | variant | P |"
    else:
        line = (
            f"| {row['target']} | {variant} | {row['profile']} | {100 * row['dev_precision']:.2f} "
            f"| {100 * row['dev_recall']:.2f} | **{100 * row['dev_f1']:.2f}** "
            f"| {f1_of('1')} / {f1_of('2')} / "
            f"{f1_of('>=3')} | {rate(oov.get('type_rate'))} / {rate(oov.get('token_rate'))} "
            f"| {row['epochs']} ({row['best_epoch']}) "
            f"| {row['wall_seconds'] // 60} min | {row['train_tokens_per_second']} | {row['commit']} "
            f"| `{row['command']}` |\n"
        )
        header_prefix = "| target | variant | profile |"
    # Rows go at the end of the results table, so prose after the table stays after it.
    with open(results_path) as handle:
        lines = handle.readlines()
    header = next(i for i, text in enumerate(lines) if text.startswith(header_prefix))
    end = header
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    lines.insert(end, line)
    with open(results_path, "w") as handle:
        handle.writelines(lines)


if __name__ == "__main__":
    main()
