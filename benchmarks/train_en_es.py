"""
Wall time of a whole en -> es experiment, `allennlp train training_configs/en_to_es.jsonnet`,
on the real data: CoNLL-2003 English training set (14,041 sentences, reverse-translated with the
full MUSE en-es dictionary), CoNLL-2002 Spanish dev set for model selection, under a profile
(`XNER_PROFILE`, default `cpu_fast`). The shared data has no aligned vectors, so two random
200,000 x 300 files stand in for `wiki.multi.{en,es}.vec` (every corpus and dictionary word
plus filler; written to /tmp and reused). The Spanish test set is withheld, so `XNER_TEST=none`.

Prints the time of each phase from the training log and the total, and exits non-zero if the
run fails. Target for `cpu_fast`: under an hour on 2 cores.

    .venv/bin/python benchmarks/train_en_es.py [--profile cpu_fast] [--epochs N]
"""

import os
import random
import re
import shutil
import subprocess
import sys
import tempfile

from common import ROOT, argument_parser, data_path, exit_with, read_words, stopwatch

import numpy as np

ROWS, DIM = 200_000, 300
TARGET_SECONDS = 3600


def vector_file(path: str, words, seed: int) -> None:
    if os.path.isfile(path):
        return
    from xner_allennlp.common.normalization import normalize_word
    from xner_allennlp.common.word_vectors import WordVectors, write_word_vectors

    unique = list(dict.fromkeys(normalize_word(w) for w in words))[:ROWS]
    unique += [f"filler{i}" for i in range(ROWS - len(unique))]
    matrix = np.random.default_rng(seed).normal(0, 0.1, size=(ROWS, DIM)).astype(np.float32)
    write_word_vectors(path, WordVectors(unique, matrix, path), precision=4)


def main() -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--profile", default="cpu_fast")
    parser.add_argument("--epochs", type=int, default=None, help="override the profile's")
    args = parser.parse_args()
    needed = [data_path(p) for p in ("conll2003/eng.train", "conll2002/esp.testa", "dictionaries/en-es.txt")]
    missing = [p for p in needed if not os.path.isfile(p)]
    if missing:
        print(f"missing data: {', '.join(missing)}")
        return 1

    vectors_dir = os.path.join(tempfile.gettempdir(), "xner-en-es-bench")
    os.makedirs(vectors_dir, exist_ok=True)
    english = [w for s in read_words(needed[0]) for w in s]
    spanish = [w for s in read_words(needed[1]) for w in s]
    source_words, target_words = [], []
    with open(needed[2], encoding="utf-8") as handle:
        for line in handle:
            fields = line.split()
            if len(fields) == 2:
                source_words.append(fields[0])
                target_words.append(fields[1])
    random.Random(0).shuffle(source_words)
    source = os.path.join(vectors_dir, "wiki.multi.en.vec")
    target = os.path.join(vectors_dir, "wiki.multi.es.vec")
    with stopwatch() as elapsed:
        vector_file(source, english + source_words, 1)
        vector_file(target, spanish + target_words, 2)
    print(f"vectors ready in {elapsed():.0f} s ({vectors_dir})", flush=True)

    out = tempfile.mkdtemp(prefix="xner-en-es-")
    env = dict(
        os.environ,
        XNER_PROFILE=args.profile,
        XNER_TEST="none",
        XNER_SOURCE_VECTORS=source,
        XNER_TARGET_VECTORS=target,
        XNER_VECTOR_CACHE=os.path.join(out, "vector-cache"),
    )
    if args.epochs:
        env["XNER_NUM_EPOCHS"] = str(args.epochs)
    command = [
        os.path.join(os.path.dirname(sys.executable), "allennlp"),
        "train",
        "training_configs/en_to_es.jsonnet",
        "-s",
        os.path.join(out, "model"),
        "--include-package",
        "xner_allennlp",
    ]
    print(" ".join(command), f"(XNER_PROFILE={args.profile})", flush=True)
    with stopwatch() as elapsed, open(os.path.join(out, "log.txt"), "w") as log:
        rc = subprocess.call(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    total = elapsed()
    with open(os.path.join(out, "log.txt"), errors="replace") as handle:
        log_text = handle.read()
    epochs = re.findall(r"Epoch duration: (\S+)", log_text)
    f1 = re.findall(r"f1-measure-overall\s*\|\s*\S+\s*\|\s*(\S+)", log_text)
    print(
        f"exit status {rc}; total {total / 60:.1f} min (target < {TARGET_SECONDS // 60} min: "
        f"{'met' if total < TARGET_SECONDS and rc == 0 else 'NOT met'})"
    )
    print(f"epochs run: {len(epochs)}; durations: {', '.join(epochs)}")
    if f1:
        print(
            f"validation (esp.testa) span F1 by epoch: {', '.join(f1)} (random vectors: only "
            "the characters carry over, so F1 is not the paper's)"
        )
    if rc != 0:
        print(log_text[-3000:])
    shutil.rmtree(out, ignore_errors=True)
    return rc


if __name__ == "__main__":
    exit_with(main)
