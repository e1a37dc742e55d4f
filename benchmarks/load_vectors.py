"""
Word-vector loading: a generated 200,000 x 300 fastText/MUSE text file (4 decimals, like the
MUSE `wiki.multi.*.vec` files; written to /tmp and reused across runs) loaded by

* allennlp: `allennlp.modules.token_embedders.embedding._read_embeddings_from_text_file`, what
  the stock `embedding` token embedder calls, with a vocabulary holding all 200,000 words;
* ours, cold: `load_word_vectors(path, use_cache=False)` (chunked numpy parse);
* ours, first load: `load_word_vectors` with an empty binary cache (parse + write the cache);
* ours, warm: `load_word_vectors` with the binary cache in place.

Each load runs in a fresh Python process (no in-process memo, clean memory figures), `--repeat`
times, interleaved; times are medians. Peak memory is the rise of the process's peak RSS during
the load (`ru_maxrss` minus the RSS just before it), compared with the size of the float32
matrix. The vectors of 2,000 sampled words must agree: ours cold and warm bit-identical, allennlp
within float32 rounding (it converts through Python floats). Exits non-zero when a load fails
or the vectors disagree.

Targets: cold at least 10x faster than allennlp, warm under 2 s, peak memory at most twice the
matrix.

    .venv/bin/python benchmarks/load_vectors.py [--rows 200000] [--dim 300] [--repeat 3]

`--compare SOURCE [SOURCE ...]` times, instead, the package of each SOURCE side by side (the
working tree is `.`; a git revision is exported to a temporary directory; a directory is one that
holds an `xner_allennlp/`): a cold load (`use_cache=False`) and a first load (empty binary cache)
of the same file, each in a fresh process, interleaved round by round; medians, the ratio and
the seconds saved against the first SOURCE, and the sampled vectors must be bit-identical across
sources. This is how a parser change is weighed, e.g. `--compare . HEAD`.
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

from common import ROOT, argument_parser, exit_status, exit_with, load_average, median

import numpy as np

SAMPLE = 2000
TARGET_COLD_SPEEDUP = 10.0
TARGET_WARM_SECONDS = 2.0
TARGET_MEMORY_FACTOR = 2.0


def generate(path: str, rows: int, dim: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz", dtype=np.uint8)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(f"{rows} {dim}\n")
        fmt = " ".join(["%.4f"] * dim)
        for start in range(0, rows, 10_000):
            count = min(10_000, rows - start)
            lengths = rng.integers(2, 12, size=count)
            block = rng.normal(0, 0.1, size=(count, dim))
            lines = []
            for i in range(count):
                stem = bytes(letters[rng.integers(0, 26, size=lengths[i])]).decode()
                lines.append(f"{stem}{start + i} " + fmt % tuple(block[i]))
            handle.write("\n".join(lines) + "\n")
    os.replace(tmp, path)


def vector_file(rows: int, dim: int) -> str:
    """The generated file of `rows` x `dim` in /tmp, written on first use and reused."""
    data_dir = os.path.join(tempfile.gettempdir(), "xner-load-vectors-bench")
    os.makedirs(data_dir, exist_ok=True)
    path = os.path.join(data_dir, f"vectors-{rows}x{dim}.vec")
    if not os.path.isfile(path):
        print(f"writing {path} ...", flush=True)
        generate(path, rows, dim)
    size_mb = os.path.getsize(path) / 2**20
    print(f"{path}: {rows} x {dim}, {size_mb:.0f} MiB of text; load average {load_average()}")
    return path


def current_rss() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def worker(mode: str, path: str, cache_dir: str, sample_out: str, package_root: str) -> None:
    """One load in this (fresh) process, with the package found in `package_root`; prints a
    JSON line."""
    if mode == "allennlp":
        from allennlp.data import Vocabulary
        from allennlp.modules.token_embedders.embedding import _read_embeddings_from_text_file

        words = []
        with open(path, encoding="utf-8") as handle:
            handle.readline()
            for line in handle:
                words.append(line.split(" ", 1)[0])
        vocab = Vocabulary(non_padded_namespaces=["tokens"])
        vocab.add_tokens_to_namespace(words, "tokens")
        del words
        dim = int(open(path).readline().split()[1])
        rss = current_rss()
        start = time.perf_counter()
        weight = _read_embeddings_from_text_file(path, dim, vocab, "tokens").numpy()
        seconds = time.perf_counter() - start
        index = vocab.get_token_to_index_vocabulary("tokens")
        lookup = lambda word: weight[index[word]]  # noqa: E731
        sample_words = [vocab.get_token_from_index(i, "tokens") for i in _sample(len(index))]
        package = ""
    else:
        # Ahead of the working tree (which `common` put on the path): the package compared.
        sys.path.insert(0, package_root)
        import xner_allennlp
        from xner_allennlp.common.word_vectors import load_word_vectors

        package = os.path.dirname(os.path.abspath(xner_allennlp.__file__))
        rss = current_rss()
        start = time.perf_counter()
        table = load_word_vectors(path, use_cache=(mode != "cold"), cache_dir=cache_dir)
        seconds = time.perf_counter() - start
        lookup = table.vector
        sample_words = [table.words[i] for i in _sample(len(table))]
        weight = table.matrix
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    np.save(sample_out, np.stack([lookup(w) for w in sorted(sample_words)]))
    with open(sample_out + ".words", "w", encoding="utf-8") as handle:
        handle.write("\n".join(sorted(sample_words)))
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_rise": max(0, peak - rss),
                "matrix_bytes": int(weight.nbytes),
                "package": package,
            }
        )
    )


def _sample(size: int):
    population = np.arange(2, size)
    return np.random.default_rng(1).choice(population, min(SAMPLE, len(population)), replace=False)


def run_worker(mode: str, path: str, cache_dir: str, sample_out: str, package_root: str = ROOT) -> dict:
    result = subprocess.run(
        [
            sys.executable,
            os.path.abspath(__file__),
            "--worker",
            mode,
            path,
            cache_dir,
            sample_out,
            package_root,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{mode} load failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def load_sample(out: str):
    with open(out + ".words", encoding="utf-8") as handle:
        return handle.read().split("\n"), np.load(out)


def main() -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--dim", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--compare",
        nargs="+",
        metavar="SOURCE",
        help="time cold and first loads of these packages instead: `.` (the "
        "working tree), a git revision or a directory holding xner_allennlp/",
    )
    parser.add_argument(
        "--worker", nargs=5, metavar=("MODE", "PATH", "CACHE", "OUT", "ROOT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return 0
    path = vector_file(args.rows, args.dim)
    workdir = tempfile.mkdtemp(prefix="xner-load-bench-")
    try:
        if args.compare:
            return compare(args.compare, path, args.repeat, workdir)
        return against_allennlp(path, args.rows * args.dim * 4, args.repeat, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def against_allennlp(path: str, matrix_bytes: int, repeat: int, workdir: str) -> int:
    failures = []
    times = {m: [] for m in ("allennlp", "cold", "first", "warm")}
    peaks = {m: [] for m in times}
    samples = {}
    for round_number in range(repeat):
        cache_dir = os.path.join(workdir, f"cache-{round_number}")
        # allennlp is slow: once is enough for its time and memory.
        modes = ["allennlp", "cold", "first", "warm"] if round_number == 0 else ["cold", "first", "warm"]
        for mode in modes:
            out = os.path.join(workdir, f"{mode}-{round_number}.npy")
            try:
                result = run_worker(mode, path, cache_dir, out)
            except Exception as error:  # noqa: BLE001
                print(error)
                failures.append(mode)
                continue
            times[mode].append(result["seconds"])
            peaks[mode].append(result["peak_rise"])
            samples.setdefault(mode, out)
            print(
                f"  round {round_number + 1}: {mode:8s} {result['seconds']:7.2f} s, peak "
                f"memory rise {result['peak_rise'] / 2**20:6.0f} MiB",
                flush=True,
            )

    agree = True
    if "cold" in samples and "warm" in samples:
        (w1, cold), (w2, warm) = load_sample(samples["cold"]), load_sample(samples["warm"])
        same = w1 == w2 and np.array_equal(cold, warm)
        print(f"cold vs warm vectors of {SAMPLE} sampled words: {'bit-identical' if same else 'DIFFERENT'}")
        agree &= same
    if "cold" in samples and "allennlp" in samples:
        (w1, ours), (w2, theirs) = load_sample(samples["cold"]), load_sample(samples["allennlp"])
        # Different samples (row orders differ): compare the words both sampled.
        common = sorted(set(w1) & set(w2))
        a = ours[[w1.index(w) for w in common]] if common else ours[:0]
        b = theirs[[w2.index(w) for w in common]] if common else theirs[:0]
        close = a.shape == b.shape and np.allclose(a, b, rtol=1e-6, atol=1e-7)
        print(
            f"ours vs allennlp on {len(common)} common sampled words: max difference "
            f"{float(np.abs(a - b).max()) if len(common) else 0:.1e} "
            f"({'agree' if close else 'DISAGREE'})"
        )
        agree &= close

    def med(mode):
        return median(times[mode])

    def peak(mode):
        return max(peaks[mode]) / 2**20 if peaks[mode] else float("nan")

    print()
    print(f"| load | time | vs allennlp | peak memory rise | x matrix ({matrix_bytes / 2**20:.0f} MiB) |")
    print("|---|---|---|---|---|")
    labels = {
        "allennlp": "allennlp `_read_embeddings_from_text_file`",
        "cold": "ours, cold (parse)",
        "first": "ours, first load (parse + write cache)",
        "warm": "ours, warm (binary cache)",
    }
    for mode, label in labels.items():
        print(
            f"| {label} | {med(mode):.2f} s | {med('allennlp') / med(mode):.1f}x | "
            f"{peak(mode):.0f} MiB | {peak(mode) * 2**20 / matrix_bytes:.2f} |"
        )
    print()
    cold_speedup = med("allennlp") / med("cold")
    worst_peak = max(peak(m) for m in ("cold", "first", "warm")) * 2**20 / matrix_bytes
    print(
        f"cold {cold_speedup:.1f}x faster than allennlp (target >= {TARGET_COLD_SPEEDUP:.0f}x: "
        f"{'met' if cold_speedup >= TARGET_COLD_SPEEDUP else 'NOT met'}); warm {med('warm'):.2f} s "
        f"(target < {TARGET_WARM_SECONDS:.0f} s: "
        f"{'met' if med('warm') < TARGET_WARM_SECONDS else 'NOT met'}); "
        f"peak memory {worst_peak:.2f}x the matrix (target <= {TARGET_MEMORY_FACTOR:.0f}x: "
        f"{'met' if worst_peak <= TARGET_MEMORY_FACTOR else 'NOT met'}); load average now "
        f"{load_average()}"
    )
    return exit_status(sorted(failures), agree)


def package_root(source: str, workdir: str) -> str:
    """The directory holding the `xner_allennlp/` of `source` (see the module docstring)."""
    if source == ".":
        return ROOT
    if os.path.isdir(os.path.join(source, "xner_allennlp")):
        return os.path.abspath(source)
    root = tempfile.mkdtemp(prefix="source-", dir=workdir)
    archive = subprocess.run(
        ["git", "-C", ROOT, "archive", source, "xner_allennlp"], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", root], input=archive, check=True)
    return root


def compare(sources, path: str, repeat: int, workdir: str) -> int:
    roots = {source: package_root(source, workdir) for source in sources}
    modes = ("cold", "first")
    times = {(s, m): [] for s in sources for m in modes}
    samples = {}
    failures = []
    for round_number in range(repeat):
        for source in sources:
            cache_dir = tempfile.mkdtemp(prefix="cache-", dir=workdir)  # empty: a first load
            for mode in modes:
                out = os.path.join(workdir, f"{len(samples)}-{mode}-{round_number}.npy")
                try:
                    result = run_worker(mode, path, cache_dir, out, roots[source])
                except Exception as error:  # noqa: BLE001
                    print(error)
                    failures.append(f"{source} {mode}")
                    continue
                if not result["package"].startswith(roots[source]):
                    print(f"{source}: the worker imported {result['package']}, not {roots[source]}")
                    failures.append(f"{source} import")
                times[source, mode].append(result["seconds"])
                samples.setdefault(source, out)
                print(
                    f"  round {round_number + 1}: {source:10s} {mode:6s} {result['seconds']:7.2f} s",
                    flush=True,
                )
            shutil.rmtree(cache_dir, ignore_errors=True)

    agree = True
    if sources[0] in samples:
        reference = load_sample(samples[sources[0]])
        for source in sources[1:]:
            if source in samples:
                words, matrix = load_sample(samples[source])
                same = words == reference[0] and np.array_equal(matrix, reference[1])
                print(
                    f"{source} vs {sources[0]}, vectors of {SAMPLE} sampled words: "
                    f"{'bit-identical' if same else 'DIFFERENT'}"
                )
                agree &= same

    print()
    print(
        f"| source | cold (parse) | speed-up, seconds saved vs {sources[0]} | first load (parse + "
        f"write cache) | speed-up, seconds saved vs {sources[0]} |"
    )
    print("|---|---|---|---|---|")
    for source in sources:
        cells = []
        for mode in modes:
            seconds, base = median(times[source, mode]), median(times[sources[0], mode])
            cells += [f"{seconds:.2f} s", f"{base / seconds:.2f}x ({base - seconds:+.2f} s)"]
        print(f"| {source} | " + " | ".join(cells) + " |")
    print(f"\nload average now {load_average()}")
    return exit_status(failures, agree)


if __name__ == "__main__":
    exit_with(main)
