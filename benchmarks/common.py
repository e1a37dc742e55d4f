"""
What the benchmarks share: where the repository and the data are, a quiet scratch directory,
the command-line and timing boilerplate, and the corpus, vector and config helpers of the
training and prediction benchmarks.

A benchmark runs as `.venv/bin/python benchmarks/NAME.py`, so this directory is first on
`sys.path` and `import common` finds this module; importing it puts the repository root there
too, so that the benchmarks run the working tree's package.

Nothing of `xner_allennlp` is imported at module level: `train_throughput.py --child` imports this
module in an environment that has only allennlp-models (`--stock-python`).
"""

import argparse
import contextlib
import json
import logging
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from typing import Any, Callable, Dict, Iterator, List, Sequence, Tuple

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

BASE_LIBSONNET = os.path.join(ROOT, "training_configs", "base.libsonnet")
DIM = 300

Sentence = List[Tuple[str, str]]


# ---------------------------------------------------------------------------------- set-up


def data_dir() -> str:
    """The shared data's root: `$XNER_DATA`, else `../shared/data` beside the repository."""
    return os.environ.get("XNER_DATA") or os.path.join(ROOT, "..", "shared", "data")


def data_path(*parts: str) -> str:
    """
    A file of the shared data (it may be missing: each benchmark says what it does then).

    # Parameters

    parts : `str`
        The path below `data_dir()`, e.g. `"conll2003", "eng.train"`.
    """
    return os.path.join(data_dir(), *parts)


def argument_parser(doc: str, **kwargs) -> argparse.ArgumentParser:
    """
    The benchmark's parser, described by the first paragraph of its module docstring.

    # Parameters

    doc : `str`
        The benchmark's `__doc__`.
    kwargs :
        Passed to `argparse.ArgumentParser`.
    """
    return argparse.ArgumentParser(description=doc.strip().split("\n\n")[0], **kwargs)


def quiet_workdir(prefix: str) -> str:
    """
    A benchmark's set-up: allennlp's logging down to errors, and a fresh temporary directory
    (returned) holding everything it writes, its vector cache included, so that cold loads stay
    cold and nothing is left behind.

    # Parameters

    prefix : `str`
        Of the directory's name in the temporary directory.
    """
    logging.basicConfig(level=logging.WARNING)
    for name in ("allennlp", "xner_allennlp", "allennlp_models"):
        logging.getLogger(name).setLevel(logging.ERROR)
    workdir = tempfile.mkdtemp(prefix=prefix)
    os.environ["XNER_VECTOR_CACHE"] = os.path.join(workdir, "vector-cache")
    return workdir


@contextlib.contextmanager
def scratch_dir(prefix: str) -> Iterator[str]:
    """
    `with scratch_dir("xner-x-") as workdir:` a `quiet_workdir`, removed when the block ends,
    whatever happens in it.

    # Parameters

    prefix : `str`
        Of the directory's name in the temporary directory.
    """
    workdir = quiet_workdir(prefix)
    try:
        yield workdir
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def load_average() -> str:
    """The 1-minute load average, as the benchmarks print it beside their numbers."""
    return f"{os.getloadavg()[0]:.1f}"


def median(values: Sequence[float]) -> float:
    """The median, NaN for no values (a run that failed every round): tables still print."""
    return statistics.median(values) if values else float("nan")


@contextlib.contextmanager
def stopwatch() -> Iterator[Callable[[], float]]:
    """
    `with stopwatch() as elapsed: ...`, then `elapsed()`: the seconds the block took (while
    inside it: the seconds so far).
    """
    start = time.perf_counter()
    end = None

    def elapsed() -> float:
        return (end if end is not None else time.perf_counter()) - start

    try:
        yield elapsed
    finally:
        end = time.perf_counter()


def exit_status(failed: Sequence[str], ok: bool = True) -> int:
    """
    A benchmark's exit status, 0 only when nothing failed and its checks held; names what
    failed.

    # Parameters

    failed : `Sequence[str]`
        What failed (runs, loads), in order.
    ok : `bool`, optional (default = `True`)
        Whether the benchmark's own checks (same results, same model) held.
    """
    if failed:
        print(f"FAILED: {', '.join(dict.fromkeys(failed))}")
    return 0 if ok and not failed else 1


def exit_with(main: Callable[[], int]) -> None:
    """`sys.exit(main())`: the benchmark's exit status is its `main`'s return value."""
    sys.exit(main())


# ---------------------------------------------------------------------------------- corpora


def read_conll(path: str, encoding: str = "utf-8") -> List[Sentence]:
    """
    The sentences of a CoNLL file as (word, tag) pairs, read by the package's reader.

    # Parameters

    path : `str`
        The CoNLL file.
    encoding : `str`, optional (default = `"utf-8"`)
        Its encoding.
    """
    # Raw tags as in the file; the package's reader does the parsing.
    from xner_allennlp.dataset_readers.xner_conll import XnerConllReader

    reader = XnerConllReader(encoding=encoding)
    return [list(zip(words, tags)) for _, words, tags in reader.read_sentences(path)]


def read_words(path: str) -> List[List[str]]:
    """The sentences of a CoNLL file as lists of words (`read_conll` without the tags)."""
    return [[word for word, _ in sentence] for sentence in read_conll(path)]


def generated_corpus(count: int, rng: random.Random) -> List[Sentence]:
    """
    Sentences with CoNLL-2003's length profile: many short headline/score lines, the rest
    around 20 words (mean ~14.5, max ~110), for when the shared data is missing.

    # Parameters

    count : `int`
        How many sentences.
    rng : `random.Random`
        The source of randomness (the benchmark's seed).
    """
    letters = "etaoinshrdlcumwfgypbvkjxqz"
    vocabulary = []
    for i in range(20000):
        length = max(1, min(15, int(rng.gammavariate(3.0, 2.0))))
        word = "".join(rng.choice(letters[: 8 + i % 18]) for _ in range(length))
        vocabulary.append(word.capitalize() if i % 7 == 0 else word)
    vocabulary += [",", ".", "(", ")", "-", '"']
    weights = [1.0 / (rank + 1) for rank in range(len(vocabulary))]
    sentences = []
    for _ in range(count):
        length = (
            rng.randint(1, 6) if rng.random() < 0.3 else min(110, max(2, int(rng.gammavariate(4.0, 4.8))))
        )
        words = rng.choices(vocabulary, weights, k=length)
        tags, i = ["O"] * length, 0
        while i < length:
            if rng.random() < 0.12:
                kind = rng.choice(["PER", "ORG", "LOC", "MISC"])
                span = min(length - i, rng.choice([1, 1, 2, 3]))
                for j in range(i, i + span):
                    tags[j] = "I-" + kind
                i += span + 1
            else:
                i += 1
        sentences.append(list(zip(words, tags)))
    return sentences


def english_sample(count: int, rng: random.Random) -> Tuple[List[Sentence], str]:
    """
    `count` random sentences of CoNLL-2003 English (`eng.train` of the shared data), or as many
    generated ones when it is missing; with a phrase saying which.

    # Parameters

    count : `int`
        How many sentences (at most the whole file).
    rng : `random.Random`
        Draws the sample (or the generated sentences).
    """
    conll = data_path("conll2003", "eng.train")
    if os.path.isfile(conll):
        everything = read_conll(conll)
        sentences = rng.sample(everything, min(count, len(everything)))
        return sentences, f"{len(sentences)} random sentences of {conll}"
    sentences = generated_corpus(count, rng)
    return sentences, f"{len(sentences)} generated sentences ({conll} not found)"


def write_conll(path: str, sentences: List[Sentence]) -> None:
    """Writes `sentences` as a CoNLL-2003 file (`word NN O tag`), with a `-DOCSTART-` line."""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("-DOCSTART- -X- -X- O\n\n")
        for sentence in sentences:
            for word, tag in sentence:
                handle.write(f"{word} NN O {tag}\n")
            handle.write("\n")


def write_vectors(path: str, sentences, rng: np.random.Generator, dim: int = DIM) -> int:
    """
    Random vectors for the words both the stock and our pipeline look up (lowercased and
    normalized), about 10% of them left out; returns the number of rows written.

    # Parameters

    path : `str`
        The fastText/MUSE text file to write.
    sentences :
        Lists of (word, tag) pairs.
    rng : `np.random.Generator`
        Chooses the words left out and the values.
    dim : `int`, optional (default = `300`)
        The vectors' dimension.
    """
    from xner_allennlp.common.normalization import normalize_word

    words = set()
    for sentence in sentences:
        for word, _ in sentence:
            words.add(word.lower())
            words.add(normalize_word(word))
    words = sorted(words)
    keep = [w for w, r in zip(words, rng.random(len(words))) if r >= 0.1]
    matrix = rng.uniform(-1, 1, size=(len(keep), dim)).astype(np.float32)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(f"{len(keep)} {dim}\n")
        for word, row in zip(keep, matrix):
            handle.write(word + " " + " ".join(f"{v:.5f}" for v in row) + "\n")
    return len(keep)


# ---------------------------------------------------------------------------------- configs


def jsonnet_config(workdir: str, name: str, source: str) -> Dict[str, Any]:
    """
    A jsonnet snippet evaluated as allennlp evaluates a config (`Params.from_file`), as a dict.

    # Parameters

    workdir : `str`
        Where the snippet is written (as `name`), so that its imports resolve from a file.
    name : `str`
        The snippet's file name.
    source : `str`
        The jsonnet text; `base_import()` gives the line that imports base.libsonnet.
    """
    from allennlp.common import Params

    snippet = os.path.join(workdir, name)
    with open(snippet, "w", encoding="utf-8") as handle:
        handle.write(source)
    return Params.from_file(snippet).as_dict(quiet=True)


def base_import() -> str:
    """The jsonnet line `local base = import ".../base.libsonnet";`."""
    return f"local base = import {json.dumps(BASE_LIBSONNET)};\n"


def profile_hp(workdir: str, profile: str) -> Dict[str, Any]:
    """
    base.libsonnet's hyper-parameters of `profile`.

    # Parameters

    workdir : `str`
        Where the jsonnet snippet is written.
    profile : `str`
        `paper`, `cpu_fast`...
    """
    return jsonnet_config(workdir, "hp.jsonnet", base_import() + f"base.profile({json.dumps(profile)})\n")


def tagger_config(workdir: str, train: str, vectors: str, profile: str, dim: int = DIM) -> Dict[str, Any]:
    """
    base.libsonnet's `tagger()` on one training file and one vector file (used as source and
    target), with `profile`'s hyper-parameters, as a config dict.

    # Parameters

    workdir : `str`
        Where the jsonnet snippet is written.
    train : `str`
        The CoNLL training file, also the dev file.
    vectors : `str`
        The vector file of both languages.
    profile : `str`
        The hyper-parameter profile (`paper`, `cpu_fast`...).
    dim : `int`, optional (default = `300`)
        The vectors' dimension.
    """
    return jsonnet_config(
        workdir,
        f"tagger-{profile}.jsonnet",
        base_import() + f"base.tagger(train={json.dumps(train)}, dev={json.dumps(train)}, test='none',\n"
        f"  source_vectors={json.dumps(vectors)}, target_vectors={json.dumps(vectors)},\n"
        f"  vector_dim={dim}, train_reader=base.reader(), target_reader=base.reader(),\n"
        f"  hp=base.profile({json.dumps(profile)}))\n",
    )
