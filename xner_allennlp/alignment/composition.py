"""
Vectors for words outside a dictionary-projected table, from their form.

The projected tables (`xner-align --method projection`) hold vectors for dictionary words only:
on the dev sets 23-48% of the word types have none (German compounds, inflected Bengali). Two
ways to place such a word in the same space:

- `StemMatcher`: the mean vector of the table words with the same Snowball stem (NLTK's
  stemmers, no data download), e.g. German "Bundesregierungen" -> the words stemming to
  "bundesregier";
- `SubwordComposer`: fastText-style hashed character n-grams (3-6, with word boundaries) whose
  mean is fitted by ridge regression to the table's vectors, so any word gets a vector from its
  pieces (e.g. "morddrohung" lands next to "drohung", "bedrohung");
- `EncoderComposer`: a multilingual encoder's vector of the bare word
  (`alignment.word_encoder`), mapped linearly into the table's space.
"""

import logging
import re
import zlib
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from allennlp.common.checks import ConfigurationError
from scipy import sparse

from xner_allennlp.alignment.word_encoder import BareWordEncoder
from xner_allennlp.common.languages import LANGUAGES

logger = logging.getLogger(__name__)

# The bare-word similarity a romanized match needs by default (`RomanizedMatcher`).
MIN_SIMILARITY = 0.2

# NLTK's Snowball stemmers (nltk ships with allennlp; the stemmers need no downloaded data) of
# languages the package's language table does not have: `--compose stem` works for them too.
_OTHER_SNOWBALL_LANGUAGES = {
    "da": "danish",
    "fi": "finnish",
    "fr": "french",
    "hu": "hungarian",
    "it": "italian",
    "no": "norwegian",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sv": "swedish",
    "ar": "arabic",
}
# ISO 639-1 code -> NLTK's stemmer name; for the table's languages their `snowball` field.
SNOWBALL_LANGUAGES = {
    **{code: name for code, name in _OTHER_SNOWBALL_LANGUAGES.items() if code not in LANGUAGES},
    **{code: entry["snowball"] for code, entry in LANGUAGES.items() if entry["snowball"]},
}


class StemMatcher:
    """
    Gives a word without a vector the mean vector of the table words that share its Snowball
    stem.

    # Parameters

    language : `str`
        ISO 639-1 code; one of `SNOWBALL_LANGUAGES` (a `ConfigurationError` lists them).
    words : `Sequence[str]`
        The table's words.
    matrix : `np.ndarray`
        Their vectors, one row each.
    """

    def __init__(self, language: str, words: Sequence[str], matrix: np.ndarray) -> None:
        if language not in SNOWBALL_LANGUAGES:
            raise ConfigurationError(
                f"no stemmer for language {language!r}; stemmers exist for "
                f"{', '.join(sorted(SNOWBALL_LANGUAGES))} (use the subword composition for others)"
            )
        from nltk.stem.snowball import SnowballStemmer

        self._stem = SnowballStemmer(SNOWBALL_LANGUAGES[language]).stem
        groups: Dict[str, List[int]] = {}
        for row, word in enumerate(words):
            groups.setdefault(self._stem(word), []).append(row)
        self._means = {stem: matrix[rows].mean(axis=0) for stem, rows in groups.items()}

    def __call__(self, word: str) -> Optional[np.ndarray]:
        return self._means.get(self._stem(word))


# The n-gram lengths of `SubwordComposer`, also those of the `single_id_with_ngrams` indexer.
MIN_N, MAX_N = 3, 6


def ngram_hashes(word: str, min_n: int = MIN_N, max_n: int = MAX_N) -> List[int]:
    """crc32 of the word with boundary marks and of each of its character n-grams; a hash
    modulo the bucket count is the n-gram's row of a `SubwordComposer`."""
    # crc32 rather than hash(): the same buckets in every process and Python version.
    marked = f"<{word}>"
    hashes = [zlib.crc32(marked.encode("utf-8"))]
    for n in range(min_n, max_n + 1):
        hashes.extend(zlib.crc32(marked[i : i + n].encode("utf-8")) for i in range(len(marked) - n + 1))
    return hashes


def _ngram_ids(word: str, min_n: int, max_n: int, buckets: int) -> List[int]:
    return [h % buckets for h in ngram_hashes(word, min_n, max_n)]


class SubwordComposer:
    """
    A word's vector as the mean of its hashed character n-gram vectors (the word itself with
    boundary marks is one of them), the n-gram table fitted to a word-vector table by ridge
    regression (conjugate gradients on all dimensions at once).

    # Parameters

    min_n : `int`, optional (default = `3`)
    max_n : `int`, optional (default = `6`)
        The n-gram lengths, counted with the `<` and `>` boundary marks.
    buckets : `int`, optional (default = `2**18`)
        Hash buckets of the n-gram table.
    l2 : `float`, optional (default = `0.1`)
        Ridge penalty; larger values pull rare n-grams to zero.
    iterations : `int`, optional (default = `200`)
        Conjugate-gradient iterations at most.

    `save` writes the fitted table (its non-zero rows only) to a `.npz` file, which the
    `aligned_vectors` embedder's `composition` reads to compose words at predict time.
    """

    def __init__(
        self,
        min_n: int = MIN_N,
        max_n: int = MAX_N,
        buckets: int = 2**18,
        l2: float = 0.1,
        iterations: int = 200,
    ) -> None:
        if not 1 <= min_n <= max_n:
            raise ConfigurationError(f"n-gram lengths must satisfy 1 <= min_n <= max_n, got {min_n}, {max_n}")
        if buckets < 1 or l2 <= 0 or iterations < 1:
            raise ConfigurationError(
                f"buckets and iterations must be positive and l2 > 0, got {buckets}, {iterations}, {l2}"
            )
        self.min_n, self.max_n, self.buckets, self.l2, self.iterations = min_n, max_n, buckets, l2, iterations
        self.table: Optional[np.ndarray] = None

    def _design(self, words: Sequence[str]) -> sparse.csr_matrix:
        rows, cols, values = [], [], []
        for row, word in enumerate(words):
            ids = _ngram_ids(word, self.min_n, self.max_n, self.buckets)
            rows.extend([row] * len(ids))
            cols.extend(ids)
            values.extend([1.0 / len(ids)] * len(ids))
        return sparse.csr_matrix(
            (np.asarray(values, np.float32), (rows, cols)), shape=(len(words), self.buckets)
        )

    def fit(self, words: Sequence[str], matrix: np.ndarray) -> "SubwordComposer":
        """Fits the n-gram table: minimises |X T - matrix|^2 + l2 |T|^2 over T."""
        design = self._design(words)
        target = np.asarray(matrix, dtype=np.float32)

        def apply(t: np.ndarray) -> np.ndarray:  # (X^T X + l2 I) t, never forming X^T X
            return design.T @ (design @ t) + self.l2 * t

        # Block conjugate gradients: one independent CG per dimension, vectorised.
        table = np.zeros((self.buckets, target.shape[1]), np.float32)
        residual = design.T @ target
        direction = residual.copy()
        norms = (residual * residual).sum(axis=0)
        start = norms.copy()
        for _ in range(self.iterations):
            product = apply(direction)
            step = norms / np.maximum((direction * product).sum(axis=0), 1e-30)
            table += direction * step
            residual -= product * step
            new_norms = (residual * residual).sum(axis=0)
            if (new_norms <= 1e-10 * start).all():
                break
            direction = residual + direction * (new_norms / np.maximum(norms, 1e-30))
            norms = new_norms
        self.table = table
        return self

    def __call__(self, words: Sequence[str]) -> np.ndarray:
        if self.table is None:
            raise RuntimeError("SubwordComposer.fit must be called first")
        return np.asarray(self._design(words) @ self.table, dtype=np.float32)

    def save(self, path: str) -> None:
        """Writes the fitted table to `path` (`.npz`): the settings, and the rows of the buckets
        that any fitted word's n-grams reach (the others are zero: ridge leaves them there)."""
        if self.table is None:
            raise RuntimeError("SubwordComposer.fit must be called first")
        used = np.flatnonzero(np.abs(self.table).sum(axis=1) > 0).astype(np.int64)
        with open(path, "wb") as handle:  # np.savez would append ".npz" to a staged name
            np.savez(
                handle,
                settings=np.asarray([self.min_n, self.max_n, self.buckets], np.int64),
                l2=np.asarray(self.l2, np.float64),
                buckets_used=used,
                rows=self.table[used],
            )

    @classmethod
    def load(cls, path: str) -> "SubwordComposer":
        """The composer `save` wrote; a file that is not one is a `ConfigurationError`."""
        (min_n, max_n, buckets), l2, used, rows = read_saved_composer(path)
        composer = cls(min_n=min_n, max_n=max_n, buckets=buckets, l2=l2)
        composer.table = np.zeros((buckets, rows.shape[1]), np.float32)
        composer.table[used] = rows
        return composer


def read_saved_composer(path: str) -> Tuple[Tuple[int, int, int], float, np.ndarray, np.ndarray]:
    """((min_n, max_n, buckets), l2, buckets used, their rows) of a `SubwordComposer.save` file."""
    try:
        with np.load(path, allow_pickle=False) as saved:
            min_n, max_n, buckets = (int(v) for v in saved["settings"].tolist())
            l2 = float(saved["l2"])
            used = np.asarray(saved["buckets_used"], np.int64)
            rows = np.asarray(saved["rows"], np.float32)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ConfigurationError(
            f"{path} is not a subword composition file (written by `allennlp xner-align "
            f"--composition-model`): {error}"
        ) from error
    if (
        rows.ndim != 2
        or len(used) != len(rows)
        or (len(used) and not 0 <= used.min() <= used.max() < buckets)
    ):
        raise ConfigurationError(
            f"{path}: its buckets and rows do not match (buckets {used.shape}, rows {rows.shape})"
        )
    return (min_n, max_n, buckets), l2, used, rows


class RomanizedMatcher:
    """
    Gives a word of another script the English vector of its romanization: names are mostly
    transliterated (Bengali "ঢাকায়", uroman "ddhaakaaya", is English "dhaka" plus a case
    suffix). Candidates, in order: the lower-cased romanization; with runs of one letter
    collapsed ("ddhaakaaya" -> "dhakaya"); without a final `drop_final` letter (the inherent
    vowel uroman writes out: "dhakay"); then each of those without one of the `suffixes`
    (longest first: "dhaka"). The first candidate of at least 3 letters in the English table
    wins. A word already in Latin script is left to the merged table, which has the English
    vectors of identical words.

    Common words match by chance too ("করতে", "to do", romanizes to English "karate"). With an
    `encoder`, `match` keeps a match only where the encoder finds the two words similar: a
    multilingual encoder has seen "ঢাকা" next to "Dhaka", not "করতে" next to "karate".

    # Parameters

    words : `Sequence[str]`
        The English table's words.
    matrix : `np.ndarray`
        Their vectors.
    romanize : `Callable[[str], str]`
        Word -> romanization (the readers' uroman romanizer).
    drop_final : `Sequence[str]`, optional (default = `()`)
    suffixes : `Sequence[str]`, optional (default = `()`)
        Per language in the language table (`romanized_match`).
    encoder : `BareWordEncoder`, optional (default = `None`)
        Verifies matches (`BareWordEncoder.paired_similarity`).
    min_similarity : `float`, optional (default = `0.2`)
        The similarity a match needs. With multilingual-e5-small, Bengali dev words paired with
        the romanized matches of other words have a mean of -0.06 and a standard deviation of
        0.08 (1% of them reach 0.2); the matched pairs have a mean of 0.25.
    min_verified : `int`, optional (default = `50`)
        Fewer matches than this are kept unverified, with a warning: the similarity is taken
        after removing the mean vector of the matched words (`paired_similarity`), which a
        handful of pairs cannot estimate (for one pair the two centred vectors are opposite).
    """

    def __init__(
        self,
        words: Sequence[str],
        matrix: np.ndarray,
        romanize: Callable[[str], str],
        drop_final: Sequence[str] = (),
        suffixes: Sequence[str] = (),
        encoder: Optional[BareWordEncoder] = None,
        min_similarity: float = MIN_SIMILARITY,
        min_verified: int = 50,
    ) -> None:
        if not -1.0 <= min_similarity <= 1.0:
            raise ConfigurationError(f"min_similarity is a cosine, between -1 and 1; got {min_similarity}")
        if min_verified < 2:
            raise ConfigurationError(f"min_verified must be at least 2, got {min_verified}")
        self.min_verified = min_verified
        self._index = {w: i for i, w in enumerate(words)}
        self._matrix = matrix
        self._romanize = romanize
        self._drop_final = tuple(drop_final)
        self._suffixes = sorted(suffixes, key=len, reverse=True)
        self._encoder = encoder
        self.min_similarity = min_similarity
        self.rejected = 0

    def _with_and_without_final(self, form: str) -> List[str]:
        if self._drop_final and form.endswith(self._drop_final):
            return [form, form[:-1]]
        return [form]

    def candidates(self, word: str) -> List[str]:
        romanized = self._romanize(word).lower()
        collapsed = self._with_and_without_final(re.sub(r"(.)\1+", r"\1", romanized))
        forms = [romanized] + collapsed
        for form in collapsed:
            for suffix in self._suffixes:
                if form.endswith(suffix) and len(form) - len(suffix) >= 3:
                    forms.extend(self._with_and_without_final(form[: -len(suffix)]))
        return [f for f in dict.fromkeys(forms) if len(f) >= 3]

    def english_word(self, word: str) -> Optional[str]:
        """The English table word `word` matches, unverified; None for none."""
        if word.isascii():
            return None
        return next((c for c in self.candidates(word) if c in self._index), None)

    def __call__(self, word: str) -> Optional[np.ndarray]:
        """The unverified match's vector (`match` verifies with the encoder)."""
        english = self.english_word(word)
        return None if english is None else self._matrix[self._index[english]]

    def match(self, words: Sequence[str]) -> Dict[str, np.ndarray]:
        """The vectors of those `words` that match, verified by the encoder when there is one;
        `rejected` counts the matches the encoder turned down."""
        found = {w: e for w in words for e in [self.english_word(w)] if e is not None}
        self.rejected = 0
        if self._encoder is not None and 0 < len(found) < self.min_verified:
            logger.warning(
                "%d romanized matches, fewer than %d: kept without the encoder's check",
                len(found),
                self.min_verified,
            )
        elif self._encoder is not None and found:
            similarity = self._encoder.paired_similarity(list(found), list(found.values()))
            kept = {w: e for (w, e), s in zip(found.items(), similarity) if s >= self.min_similarity}
            self.rejected = len(found) - len(kept)
            found = kept
        return {w: self._matrix[self._index[e]] for w, e in found.items()}


class EncoderComposer:
    """
    A word's vector as a linear map of its bare-word encoder vector, fitted by ridge regression
    to the table's words (held-out en-bn dictionary words, multilingual-e5-small: cosine 0.42
    to their projected vectors, against 0.36 for the n-grams of `SubwordComposer`).

    # Parameters

    encoder : `BareWordEncoder`
    l2 : `float`, optional (default = `10.0`)
        Ridge penalty.
    max_fit_words : `int`, optional (default = `30000`)
        Fit on the table's first words only: encoding costs about 4 ms a word on two CPU cores.
    """

    def __init__(self, encoder: BareWordEncoder, l2: float = 10.0, max_fit_words: int = 30000) -> None:
        if l2 <= 0 or max_fit_words < 1:
            raise ConfigurationError(f"l2 must be > 0 and max_fit_words >= 1, got {l2} and {max_fit_words}")
        self.encoder, self.l2, self.max_fit_words = encoder, l2, max_fit_words
        self.weights: Optional[np.ndarray] = None

    def fit(self, words: Sequence[str], matrix: np.ndarray) -> "EncoderComposer":
        """Minimises |(X - mean) W + b - matrix|^2 + l2 |W|^2 over W and b."""
        features = self.encoder(list(words[: self.max_fit_words])).astype(np.float64)
        target = np.asarray(matrix[: len(features)], np.float64)
        self._feature_mean, self._target_mean = features.mean(axis=0), target.mean(axis=0)
        centred = features - self._feature_mean
        gram = centred.T @ centred + self.l2 * np.eye(centred.shape[1])
        self.weights = np.linalg.solve(gram, centred.T @ (target - self._target_mean))
        return self

    def __call__(self, words: Sequence[str]) -> np.ndarray:
        if self.weights is None:
            raise RuntimeError("EncoderComposer.fit must be called first")
        features = self.encoder(list(words)).astype(np.float64)
        return ((features - self._feature_mean) @ self.weights + self._target_mean).astype(np.float32)


METHODS = ("stem", "romanized", "encoder", "subword")


def compose_missing(
    words: Sequence[str],
    table_words: Sequence[str],
    matrix: np.ndarray,
    methods: Sequence[str],
    language: str,
    composer: Optional[SubwordComposer] = None,
    romanized: Optional[RomanizedMatcher] = None,
    encoder: Optional[EncoderComposer] = None,
) -> Tuple[List[str], np.ndarray, Dict[str, int]]:
    """
    Vectors for the `words` that are not in `table_words`, by the first of `methods` ("stem",
    "romanized", "encoder", "subword") that gives one. Returns the new words (first-seen order),
    their rows and how many each method placed; a word no method places is left out.
    "romanized" needs `romanized`, a matcher over the English table; "encoder" needs `encoder`
    (fitted here on the table when it is not yet).
    """
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ConfigurationError(
            f"composition methods are {', '.join(repr(m) for m in METHODS)}, got {list(methods)}"
        )
    if "romanized" in methods and romanized is None:
        raise ConfigurationError("the 'romanized' composition needs the English table (a RomanizedMatcher)")
    if "encoder" in methods and encoder is None:
        raise ConfigurationError(
            "the 'encoder' composition needs an encoder (xner-align --compose-encoder DIR)"
        )
    known = set(table_words)
    missing = list(dict.fromkeys(w for w in words if w and w not in known))
    counts = {method: 0 for method in methods}
    vectors: Dict[str, np.ndarray] = {}
    left = missing
    for method in methods:
        if not left:
            break
        if method == "stem":
            match = StemMatcher(language, table_words, matrix)
            found = {w: v for w in left for v in [match(w)] if v is not None}
        elif method == "romanized":
            assert romanized is not None
            found = romanized.match(left)
        else:
            fitted: Union[SubwordComposer, EncoderComposer]
            if method == "encoder":
                assert encoder is not None
                fitted = encoder
                if encoder.weights is None:
                    encoder.fit(table_words, matrix)
            else:
                fitted = composer or SubwordComposer()
                if fitted.table is None:
                    fitted.fit(table_words, matrix)
            # No n-gram of the word occurs in the table: nothing to compose it from, so it
            # stays without a vector (random, as any word outside the table) rather than zero.
            found = {w: v for w, v in zip(left, fitted(left)) if np.linalg.norm(v) > 1e-6}
        vectors.update(found)
        counts[method] = len(found)
        left = [w for w in left if w not in found]
    placed = [w for w in missing if w in vectors]
    rows = (
        np.stack([vectors[w] for w in placed]).astype(np.float32)
        if placed
        else np.zeros((0, matrix.shape[1]), np.float32)
    )
    return placed, rows, counts
