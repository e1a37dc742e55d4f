"""
Benchmark of the `uroman` romanizer on a mixed-script token stream: English (ASCII), Spanish and
German (Latin with diacritics) and Bengali tokens, the mix a multilingual run reads.

Tokens come from ../shared/data (XNER_DATA overrides the root) when present, else from small
built-in word lists. Prints tokens/s of

* uncached: every token through uroman, as a romanizer without ASCII skip or cache would;
* first pass: `UromanRomanizer` with an empty cache (ASCII skip, cache filling up);
* cached: the same stream again with a warm cache (target >= 50k tokens/s).

    .venv/bin/python benchmarks/romanize.py [--tokens 200000] [--uncached-tokens 3000]
"""

import itertools
import os
import random
import time
from typing import List

from common import argument_parser, data_path, exit_with

from xner_allennlp.romanization import UromanRomanizer
from xner_allennlp.romanization import romanizer as romanizer_module

TARGET_TOKENS_PER_SECOND = 50_000
FALLBACK = {
    "en": "the european commission said on thursday it disagreed with german advice".split(),
    "es": "el número de españoles que viven en la región aumentó según señaló".split(),
    "de": "die grünen müssen über die straße gehen für größere änderungen".split(),
    "bn": "ইউরোপের বাংলাদেশ সরকার ঢাকা নির্বাচন কমিশন প্রধানমন্ত্রী শেখ হাসিনা".split(),
}
FILES = {
    "en": ("conll2003/eng.train", "utf-8"),
    "es": ("conll2002/esp.testa", "utf-8"),
    "de": ("conll2003_de/deu.testa", "latin-1"),
    "bn": ("bengali/bn.dev.txt", "utf-8-sig"),
}


def words_of(path: str, encoding: str, limit: int) -> List[str]:
    words = []
    with open(path, encoding=encoding) as handle:
        for line in handle:
            fields = line.split()
            if fields and fields[0] != "-DOCSTART-":
                words.append(fields[0])
                if len(words) >= limit:
                    break
    return words


def main() -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--tokens", type=int, default=200_000)
    parser.add_argument("--uncached-tokens", type=int, default=3_000)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()

    # Document order kept within each language (types repeat as in real text), languages
    # interleaved sentence-sized chunk by chunk.
    per_language = args.tokens // len(FILES)
    streams = []
    for language, (relative, encoding) in FILES.items():
        path = data_path(relative)
        if os.path.isfile(path):
            words, origin = words_of(path, encoding, per_language), relative
        else:
            words, origin = FALLBACK[language], "built-in list"
        words = list(itertools.islice(itertools.cycle(words), per_language))
        print(f"{language}: {len(set(words))} types from {origin}")
        streams.append([words[i : i + 15] for i in range(0, len(words), 15)])
    chunks = [chunk for group in itertools.zip_longest(*streams) for chunk in group if chunk]
    random.Random(args.seed).shuffle(chunks)
    tokens = [word for chunk in chunks for word in chunk]
    non_ascii = sum(not w.isascii() for w in tokens)
    print(f"stream: {len(tokens)} tokens, {len(set(tokens))} types, {non_ascii} non-ASCII tokens")

    started = time.perf_counter()
    engine = romanizer_module._uroman_engine()
    print(f"uroman start: {time.perf_counter() - started:.1f} s")

    sample = tokens[: args.uncached_tokens]
    started = time.perf_counter()
    for word in sample:
        engine.romanize_string(word)
    uncached = len(sample) / (time.perf_counter() - started)

    romanizer = UromanRomanizer()
    started = time.perf_counter()
    for word in tokens:
        romanizer.romanize(word)
    first = len(tokens) / (time.perf_counter() - started)
    started = time.perf_counter()
    for word in tokens:
        romanizer.romanize(word)
    cached = len(tokens) / (time.perf_counter() - started)

    print(f"uncached (uroman on every token, {len(sample)} tokens): {uncached:,.0f} tokens/s")
    print(f"first pass (cold cache, {len(romanizer._cache)} types romanized): {first:,.0f} tokens/s")
    print(
        f"cached: {cached:,.0f} tokens/s; target >= {TARGET_TOKENS_PER_SECOND:,}: "
        f"{'met' if cached >= TARGET_TOKENS_PER_SECOND else 'MISSED'}"
    )
    print(f"speed-up cached / uncached: {cached / uncached:,.0f}x")
    return 0


if __name__ == "__main__":
    exit_with(main)
