"""
Benchmark of `allennlp xner-align` (Procrustes + CSLS refinement) at MUSE's scale.

Generates two 200k x 300 vector files (target = random rotation of the source + noise, so the
alignment is known) and a 5k-pair training dictionary, then runs the command in a child process:
loading and parsing both files (fresh binary cache), Procrustes, 5 refinement rounds among the
15k most frequent words, writing both outputs and building their cache. Prints the wall time and
the child's peak resident memory, and exits non-zero when the command fails or misses a target.

    .venv/bin/python benchmarks/align.py                 # targets: < 300 s, < 4 GB, 2 threads
    .venv/bin/python benchmarks/align.py --eval-pairs 1500   # + P@1/P@5 over all 200k words

`--eval-pairs` adds an evaluation dictionary; its CSLS needs the radius of all 200k target words
against all 200k source words (a 200k x 200k x 300 product, minutes on 2 cores), so the targets
are only checked without it. Generated inputs are kept in --workdir and reused by later runs.
"""

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile

from common import ROOT, exit_with, load_average, stopwatch

import numpy as np

from xner_allennlp.common.word_vectors import WordVectors, write_word_vectors

TARGET_SECONDS = 300
TARGET_BYTES = 4 * 1024**3


def generate(workdir: str, words: int, dim: int, pairs: int, eval_pairs: int, seed: int) -> dict:
    tag = f"{words}x{dim}-s{seed}"
    paths = {
        "source": os.path.join(workdir, f"source-{tag}.vec"),
        "target": os.path.join(workdir, f"target-{tag}.vec"),
        "dictionary": os.path.join(workdir, f"en-es.train-{pairs}.txt"),
        "eval": os.path.join(workdir, f"en-es.test-{eval_pairs}.txt"),
    }
    os.makedirs(workdir, exist_ok=True)
    if not (os.path.exists(paths["source"]) and os.path.exists(paths["target"])):
        with stopwatch() as elapsed:
            rng = np.random.default_rng(seed)
            source = rng.standard_normal((words, dim), dtype=np.float32)
            rotation, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
            target = source @ rotation.astype(np.float32)
            target += 0.1 * rng.standard_normal((words, dim), dtype=np.float32)
            write_word_vectors(paths["source"], WordVectors([f"en{i}" for i in range(words)], source))
            write_word_vectors(paths["target"], WordVectors([f"es{i}" for i in range(words)], target))
        print(f"generated inputs in {elapsed():.0f}s ({workdir})", flush=True)
    # Training pairs among the most frequent words (as MUSE's 0-5000 dictionaries), evaluation
    # pairs after them (as 5000-6500).
    with open(paths["dictionary"], "w", encoding="utf-8") as handle:
        handle.writelines(f"en{i} es{i}\n" for i in range(pairs))
    with open(paths["eval"], "w", encoding="utf-8") as handle:
        handle.writelines(f"en{i} es{i}\n" for i in range(pairs, pairs + eval_pairs))
    return paths


def main() -> int:
    # The whole docstring: the options' costs are explained there.
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--words", type=int, default=200_000)
    parser.add_argument("--dim", type=int, default=300)
    parser.add_argument("--pairs", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--max-rank", type=int, default=15000)
    parser.add_argument("--eval-pairs", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "xner_align_benchmark"))
    args = parser.parse_args()

    paths = generate(args.workdir, args.words, args.dim, args.pairs, args.eval_pairs, args.seed)
    output_dir = os.path.join(args.workdir, "aligned")
    cache_dir = tempfile.mkdtemp(prefix="cache-", dir=args.workdir)  # fresh: the run parses
    shutil.rmtree(output_dir, ignore_errors=True)
    command = [
        sys.executable, "-m", "allennlp", "xner-align",
        "--source", paths["source"], "--target", paths["target"],
        "--dictionary", paths["dictionary"], "--output-dir", output_dir,
        "--refinement-rounds", str(args.rounds), "--refine-max-rank", str(args.max_rank),
        "--num-threads", str(args.threads),
    ]  # fmt: skip
    if args.eval_pairs:
        command += ["--eval-dictionary", paths["eval"]]
    env = dict(os.environ, XNER_VECTOR_CACHE=cache_dir, OMP_NUM_THREADS=str(args.threads),
               MKL_NUM_THREADS=str(args.threads))  # fmt: skip
    print(f"{args.words} x {args.dim} per side, {args.pairs} pairs, {args.rounds} rounds, "
          f"top {args.max_rank}, {args.threads} threads, "
          f"load average {load_average()}", flush=True)  # fmt: skip
    # Progress goes to stderr as it happens; the command's summary (stdout) is printed below.
    with stopwatch() as elapsed:
        completed = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    seconds = elapsed()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak = usage.ru_maxrss * 1024  # Linux: KiB
    cpu = usage.ru_utime + usage.ru_stime
    shutil.rmtree(cache_dir, ignore_errors=True)
    if completed.returncode != 0:
        print(f"FAILED: xner-align exited with {completed.returncode}")
        return 1

    print(completed.stdout.rstrip())
    with open(os.path.join(output_dir, "alignment.json"), encoding="utf-8") as handle:
        report = json.load(handle)
    total = re.search(r"total ([0-9.]+)s", completed.stdout)
    startup = f"; {seconds - float(total.group(1)):.1f} s of it before the work" if total else ""
    print(f"wall time  {seconds:7.1f} s   (target < {TARGET_SECONDS} s{startup})")
    print(f"CPU time   {cpu:7.1f} s   (user + system, all threads; load average now "
          f"{load_average()})")  # fmt: skip
    print(f"peak RSS   {peak / 1024**3:7.2f} GB  (target < {TARGET_BYTES / 1024**3:.0f} GB)")
    ok = peak < TARGET_BYTES and (args.eval_pairs > 0 or seconds < TARGET_SECONDS)
    criterion = report["rounds"][report["best_round"]]["criterion"]
    if criterion < 0.9:  # a known rotation plus small noise: near-perfect alignment expected
        print(f"FAILED: alignment criterion {criterion:.3f} < 0.9")
        ok = False
    print("OK" if ok else "FAILED: target missed")
    return 0 if ok else 1


if __name__ == "__main__":
    exit_with(main)
