"""
Benchmark of the `context_dictionary` translator at paper scale: a CoNLL-2003-size English
corpus (~204k tokens), a ~100k-pair dictionary and 200k x 300 vectors per language.

The corpus and dictionary are ../shared/data/conll2003/eng.train and
../shared/data/dictionaries/en-es.txt when present (XNER_DATA overrides the root), generated
otherwise. The vectors are always random (the shared data has no aligned 300-d vectors): every
dictionary and corpus word plus filler up to 200k rows, about 10% of the words left out so the
missing-vector rules run too.

Our translator and a straightforward per-token Python loop computing the same scores are timed
on the same sample of sentences, and ours on the whole corpus as well. Exits non-zero if either
run fails or they choose differently (beyond float32 rounding on near-ties).

    .venv/bin/python benchmarks/translate.py [--sample-sentences 300] [--alpha 0.5]
"""

import os
import random
import time
from typing import Dict, List, Optional

from common import argument_parser, data_path, exit_with, read_words, scratch_dir

import numpy as np

from xner_allennlp.common.normalization import NUMBER_TOKEN, URL_TOKEN, normalize_word
from xner_allennlp.common.word_vectors import WordVectors
from xner_allennlp.translation import ContextDictionaryTranslator, read_dictionary

ROWS, DIM = 200_000, 300
CORPUS_SENTENCES, DICTIONARY_PAIRS = 14_041, 100_000
TARGET_SECONDS = 20.0


def generated_corpus(rng: random.Random) -> List[List[str]]:
    vocabulary = [f"w{i}" for i in range(60_000)]
    weights = [1.0 / (rank + 1) for rank in range(len(vocabulary))]
    return [
        rng.choices(vocabulary, weights, k=max(1, int(rng.expovariate(1 / 14.5))))
        for _ in range(CORPUS_SENTENCES)
    ]


def generated_dictionary(path: str, rng: random.Random) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        pairs = 0
        source = 0
        while pairs < DICTIONARY_PAIRS:
            for _ in range(rng.choice([1, 1, 2, 3, 5])):
                handle.write(f"w{source} t{rng.randrange(150_000)}\n")
                pairs += 1
            source += 1


def random_table(words: List[str], rng: np.random.Generator, name: str) -> WordVectors:
    words = list(dict.fromkeys(words))[:ROWS]
    words += [f"{name}_filler{i}" for i in range(ROWS - len(words))]
    matrix = rng.standard_normal((ROWS, DIM), dtype=np.float32)
    return WordVectors(words, matrix, name)


class LoopTranslator:
    """The obvious implementation: every token, every candidate, every context word in Python."""

    def __init__(
        self, dictionary: str, source: WordVectors, target: WordVectors, alpha: float, window: Optional[int]
    ):
        self.candidates: Dict[str, List[str]] = {}
        for _, src, tgt in read_dictionary(dictionary):
            s, t = normalize_word(src), normalize_word(tgt)
            if any(n in (NUMBER_TOKEN, URL_TOKEN) and w.lower() != n for w, n in ((src, s), (tgt, t))):
                continue
            if t not in self.candidates.setdefault(s, []):
                self.candidates[s].append(t)
        self.source, self.target = source, target
        self.alpha, self.window = alpha, window

    @staticmethod
    def cos(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.dot(a, b) / (max(np.linalg.norm(a), 1e-12) * max(np.linalg.norm(b), 1e-12)))

    def score(self, words: List[str], i: int, t: str) -> float:
        tv = self.target.vector(t).astype(np.float64)
        wv = self.source.vector(words[i])
        score = 0.0 if wv is None else self.alpha * self.cos(wv.astype(np.float64), tv)
        for j, c in enumerate(words):
            d = abs(i - j)
            if d == 0 or (self.window is not None and d > self.window):
                continue
            cv = self.source.vector(c)
            if cv is not None:
                score += (1 - self.alpha) * self.cos(tv, cv.astype(np.float64)) / (d + 1) ** 2
        return score

    def translate(self, words: List[str]) -> List[str]:
        output = []
        for i, w in enumerate(words):
            cands = self.candidates.get(w)
            if not cands:
                output.append(w)
                continue
            best, best_score = cands[0], -np.inf
            for t in cands:
                if t in self.target:
                    s = self.score(words, i, t)
                    if s > best_score:
                        best, best_score = t, s
            output.append(best)
        return output


def main() -> int:
    with scratch_dir("xner-bench-") as workdir:
        return run(workdir)


def run(workdir: str) -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--sample-sentences", type=int, default=300)
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--window", type=int, default=None)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    conll = data_path("conll2003", "eng.train")
    if os.path.isfile(conll):
        corpus, corpus_source = read_words(conll), conll
    else:
        corpus, corpus_source = generated_corpus(rng), "generated"
    corpus = [[normalize_word(w) for w in sentence] for sentence in corpus]
    dictionary = data_path("dictionaries", "en-es.txt")
    if not os.path.isfile(dictionary):
        dictionary = os.path.join(workdir, "en-es.txt")
        generated_dictionary(dictionary, rng)
    pairs = read_dictionary(dictionary)
    tokens = sum(map(len, corpus))
    print(f"corpus: {corpus_source}: {len(corpus)} sentences, {tokens} tokens")
    print(f"dictionary: {dictionary}: {len(pairs)} pairs")

    # ~10% of the dictionary's and the corpus's words get no vector.
    source_words = [normalize_word(s) for _, s, _ in pairs] + [w for s in corpus for w in s]
    target_words = [normalize_word(t) for _, _, t in pairs]
    source_words = [w for w in dict.fromkeys(source_words) if rng.random() > 0.1]
    target_words = [w for w in dict.fromkeys(target_words) if rng.random() > 0.1]
    np_rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    source = random_table(source_words, np_rng, "en")
    target = random_table(target_words, np_rng, "es")
    print(f"vectors: 2 x {ROWS} x {DIM} random float32 ({time.perf_counter() - started:.1f} s)")

    try:
        started = time.perf_counter()
        fast = ContextDictionaryTranslator.from_tables(
            dictionary, source, target, alpha=args.alpha, window=args.window
        )
        build = time.perf_counter() - started
        loop = LoopTranslator(dictionary, source, target, args.alpha, args.window)
        sample = rng.sample(corpus, min(args.sample_sentences, len(corpus)))
        sample_tokens = sum(map(len, sample))

        started = time.perf_counter()
        fast_out = [fast.translate(s) for s in sample]
        fast_sample = time.perf_counter() - started
        started = time.perf_counter()
        loop_out = [loop.translate(s) for s in sample]
        loop_sample = time.perf_counter() - started

        started = time.perf_counter()
        for sentence in corpus:
            fast.translate(sentence)
        fast_corpus = time.perf_counter() - started
    except Exception as error:  # noqa: BLE001 - any failure is a failed benchmark run
        print(f"FAILED: {type(error).__name__}: {error}")
        return 1

    disagree = near_ties = 0
    for sentence, a, b in zip(sample, fast_out, loop_out):
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                gap = abs(loop.score(sentence, i, x) - loop.score(sentence, i, y))
                if gap <= 1e-5:
                    near_ties += 1
                else:
                    disagree += 1
                    if disagree <= 5:
                        print(f"  disagreement on {sentence[i]!r}: {x!r} vs {y!r} (gap {gap:.2e})")

    scale = tokens / sample_tokens
    stats = fast.stats
    print(f"index build: {build:.2f} s")
    print(f"sample: {len(sample)} sentences, {sample_tokens} tokens")
    print(f"  vectorised: {fast_sample:.3f} s  -> {fast_sample * scale:.1f} s extrapolated to the corpus")
    print(f"  python loop: {loop_sample:.3f} s  -> {loop_sample * scale:.1f} s extrapolated to the corpus")
    print(f"  speed-up: {loop_sample / fast_sample:.1f}x")
    print(
        f"whole corpus, vectorised: {fast_corpus:.2f} s ({tokens / fast_corpus:,.0f} tokens/s); "
        f"target < {TARGET_SECONDS:.0f} s: {'met' if fast_corpus < TARGET_SECONDS else 'MISSED'}"
    )
    print(
        f"translated {stats.translated} tokens, kept {stats.kept}, "
        f"{stats.mean_candidates:.2f} candidates per translated word"
    )
    print(
        f"agreement on the sample: {sample_tokens - disagree - near_ties} identical, "
        f"{near_ties} float32 near-ties, {disagree} disagreements"
    )
    return 1 if disagree else 0


if __name__ == "__main__":
    exit_with(main)
