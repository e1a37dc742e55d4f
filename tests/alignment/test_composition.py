import logging

import numpy as np
import pytest
from allennlp.common.checks import ConfigurationError

from xner_allennlp.alignment.composition import (
    EncoderComposer,
    RomanizedMatcher,
    StemMatcher,
    SubwordComposer,
    compose_missing,
)


def _table(seed=0):
    """German-like words whose vectors are sums of their parts' vectors, so subwords predict them."""
    rng = np.random.default_rng(seed)
    parts = {p: rng.normal(size=8) for p in ["bundes", "regierung", "land", "tag", "haus", "stadt", "rat"]}
    words, rows = [], []
    for a in parts:
        for b in parts:
            if a != b:
                words.append(a + b)
                rows.append(parts[a] + parts[b])
    return words, np.stack(rows).astype(np.float32)


def _cosine(a, b):
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def test_subword_composition_gives_a_table_word_its_own_vector_back():
    words, matrix = _table()
    composer = SubwordComposer(buckets=2**14, l2=1e-3, iterations=500).fit(words, matrix)
    composed = composer(words)
    assert min(_cosine(c, m) for c, m in zip(composed, matrix)) > 0.95


def test_subword_composition_is_deterministic_for_an_unseen_word():
    words, matrix = _table()
    held_out = "bundestag"
    keep = [i for i, w in enumerate(words) if w != held_out]
    first = SubwordComposer(buckets=2**14, l2=1e-2).fit([words[i] for i in keep], matrix[keep])
    second = SubwordComposer(buckets=2**14, l2=1e-2).fit([words[i] for i in keep], matrix[keep])
    a, b = first([held_out, "stadtbundes"]), second([held_out, "stadtbundes"])
    np.testing.assert_array_equal(a, b)
    # Composed from "bundes..." and "...tag" pieces: closer to its true vector than chance.
    truth = matrix[words.index(held_out)]
    others = [_cosine(a[0], matrix[i]) for i in keep]
    assert _cosine(a[0], truth) > np.median(others)


def test_stem_matcher_uses_words_with_the_same_stem():
    words = ["regierung", "haus", "häuser"]
    matrix = np.eye(3, dtype=np.float32)
    stem = StemMatcher("de", words, matrix)
    np.testing.assert_array_equal(stem("regierungen"), matrix[0])  # "regier" both
    assert stem("xylophon") is None
    with pytest.raises(ConfigurationError, match="no stemmer for language 'bn'.*de, en, es"):
        StemMatcher("bn", words, matrix)


def test_compose_missing_takes_the_first_method_that_places_a_word():
    words, matrix = _table()
    new, rows, counts = compose_missing(
        ["bundesregierung", "landtage", "bundeshausrat", "bundesregierung"],
        words,
        matrix,
        ["stem", "subword"],
        "de",
        composer=SubwordComposer(buckets=2**12),
    )
    assert new == ["landtage", "bundeshausrat"]  # known words and repeats left out
    assert counts == {"stem": 1, "subword": 1}
    np.testing.assert_allclose(rows[0], matrix[words.index("landtag")])  # same stem "landtag"
    assert rows.shape == (2, matrix.shape[1]) and np.isfinite(rows).all()
    with pytest.raises(ConfigurationError, match="'stem', 'romanized', 'encoder', 'subword'"):
        compose_missing(["x"], words, matrix, ["lemma"], "de")


def test_romanized_matcher_finds_transliterated_names():
    words = ["dhaka", "hasan", "khan", "house"]
    matrix = np.eye(4, dtype=np.float32)
    # What uroman writes for Bengali: the inherent vowel, doubled letters, case endings.
    romanized = {
        "ঢাকায়": "ddhaakaaya",
        "হাসান": "haasaana",
        "খানের": "khaanera",
        "বাড়ি": "baarri",
        "ঢা": "ddhaa",
    }
    match = RomanizedMatcher(words, matrix, romanized.__getitem__, drop_final=["a"], suffixes=["er", "y"])
    np.testing.assert_array_equal(match("ঢাকায়"), matrix[0])  # dhakaya -> dhakay -> dhaka
    np.testing.assert_array_equal(match("হাসান"), matrix[1])  # hasana -> hasan
    np.testing.assert_array_equal(match("খানের"), matrix[2])  # khanera -> khaner -> khan
    assert match("বাড়ি") is None
    assert match("ঢা") is None  # "dha": no candidate matches (and none shorter than 3 letters tried)
    assert match("house") is None  # Latin script: left to the merged table
    # Without the language's rules only the collapsed romanization is tried.
    assert RomanizedMatcher(words, matrix, romanized.__getitem__)("ঢাকায়") is None


def test_compose_missing_romanized_needs_its_matcher():
    words, matrix = _table()
    with pytest.raises(ConfigurationError, match="'romanized' composition needs the English table"):
        compose_missing(["ঢাকা"], words, matrix, ["romanized"], "bn")
    with pytest.raises(ConfigurationError, match="'stem', 'romanized', 'encoder', 'subword'"):
        compose_missing(["ঢাকা"], words, matrix, ["lemma"], "bn")


class _FakeEncoder:
    """Stands for `BareWordEncoder`: a fixed random 6-d vector per word, and given pair
    similarities."""

    dim = 6

    def __init__(self, similarities=None):
        self.similarities = similarities or {}
        self.calls = 0

    def __call__(self, words):
        self.calls += 1
        rows = [np.random.default_rng(sum(map(ord, w)) * 7919 + len(w)).normal(size=self.dim) for w in words]
        return np.asarray(rows, np.float32).reshape(len(words), self.dim)

    def paired_similarity(self, first, second):
        return np.asarray([self.similarities[(a, b)] for a, b in zip(first, second)], np.float32)


def test_encoder_composition_maps_encoder_vectors_into_the_table():
    encoder = _FakeEncoder()
    words = [f"wort{i}" for i in range(40)]
    # The table is a linear function of the encoder's vectors (plus an offset): the fit recovers it.
    mapping = np.random.default_rng(1).normal(size=(6, 3))
    matrix = encoder(words) @ mapping + 0.5
    composer = EncoderComposer(encoder, l2=1e-6).fit(words, matrix)
    np.testing.assert_allclose(composer(words[:5]), matrix[:5], atol=1e-3)
    unseen = composer(["neuwort", "neuwort"])
    np.testing.assert_allclose(unseen[0], encoder(["neuwort"])[0] @ mapping + 0.5, atol=1e-3)
    np.testing.assert_array_equal(unseen[0], unseen[1])
    # max_fit_words: only the table's first words are encoded for the fit.
    encoder.calls = 0
    EncoderComposer(encoder, max_fit_words=10).fit(words, matrix)
    assert encoder.calls == 1
    with pytest.raises(RuntimeError, match="fit must be called first"):
        EncoderComposer(encoder)(["x"])
    with pytest.raises(ConfigurationError, match="l2 must be > 0"):
        EncoderComposer(encoder, l2=0)


def test_compose_missing_with_the_encoder():
    words, matrix = _table()
    with pytest.raises(ConfigurationError, match="'encoder' composition needs an encoder"):
        compose_missing(["neuwort"], words, matrix, ["encoder"], "de")
    placed, rows, counts = compose_missing(
        ["neuwort", words[0], "anderes"], words, matrix, ["encoder", "subword"], "de",
        encoder=EncoderComposer(_FakeEncoder()),
    )  # fmt: skip
    assert placed == ["neuwort", "anderes"] and counts == {"encoder": 2, "subword": 0}
    assert rows.shape == (2, 8)


def test_the_encoder_turns_down_chance_romanized_matches(caplog):
    words = ["dhaka", "kara", "house"]
    matrix = np.eye(3, dtype=np.float32)
    romanized = {"ঢাকা": "ddhaakaa", "করা": "karaa", "বাড়ি": "baarri"}
    similarities = {("ঢাকা", "dhaka"): 0.6, ("করা", "kara"): 0.05}
    match = RomanizedMatcher(
        words,
        matrix,
        romanized.__getitem__,
        drop_final=["a"],
        encoder=_FakeEncoder(similarities),
        min_verified=2,
    )
    # Unverified, both spell an English word; verified, only the name stays.
    np.testing.assert_array_equal(match("করা"), matrix[1])
    found = match.match(["ঢাকা", "করা", "বাড়ি"])
    assert list(found) == ["ঢাকা"] and match.rejected == 1
    np.testing.assert_array_equal(found["ঢাকা"], matrix[0])
    lenient = RomanizedMatcher(
        words, matrix, romanized.__getitem__, drop_final=["a"], encoder=_FakeEncoder(similarities),
        min_similarity=0.0, min_verified=2,
    )  # fmt: skip
    assert list(lenient.match(["ঢাকা", "করা"])) == ["ঢাকা", "করা"]
    # Too few matches to centre the encoder's vectors on: kept unverified, with a warning.
    few = RomanizedMatcher(words, matrix, romanized.__getitem__, drop_final=["a"], encoder=_FakeEncoder())
    with caplog.at_level(logging.WARNING):
        assert list(few.match(["ঢাকা", "করা"])) == ["ঢাকা", "করা"]
    assert "2 romanized matches, fewer than 50: kept without the encoder's check" in caplog.text
    # Without an encoder every match is kept.
    assert list(RomanizedMatcher(words, matrix, romanized.__getitem__, drop_final=["a"]).match(["করা"])) == [
        "করা"
    ]
    with pytest.raises(ConfigurationError, match="between -1 and 1"):
        RomanizedMatcher(words, matrix, romanized.__getitem__, min_similarity=2.0)
    with pytest.raises(ConfigurationError, match="min_verified must be at least 2"):
        RomanizedMatcher(words, matrix, romanized.__getitem__, min_verified=1)
