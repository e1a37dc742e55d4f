import argparse
import json
import os
import re

import numpy as np
import pytest
import torch
from allennlp.commands.subcommand import Subcommand
from allennlp.common.checks import ConfigurationError
from allennlp.common.testing import AllenNlpTestCase

from tests.conftest import FIXTURES
from xner_allennlp.alignment import (
    align_embeddings,
    csls_retrieve,
    infer_languages,
    mean_knn_similarity,
    mutual_nearest_neighbors,
    normalize_embeddings,
    parse_normalization,
    pipeline,
    procrustes,
    project_dictionary,
    unit_rows,
    word_translation_precision,
)
from xner_allennlp.alignment.composition import SubwordComposer
from xner_allennlp.alignment.pipeline import build_aligned_vectors
from xner_allennlp.commands.align import XnerAlign
from xner_allennlp.common import files, word_vectors
from xner_allennlp.common.errors import InputFormatError
from xner_allennlp.common.vectors.cache import cache_key
from xner_allennlp.common.word_vectors import WordVectors, load_word_vectors, write_word_vectors


@pytest.fixture(autouse=True)
def _one_torch_thread():
    # The matrices here are tiny: on a busy machine, OpenMP threads waiting for each other cost
    # far more than they save.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def rotated_pair(n=400, d=20, noise=0.01, seed=0):
    """Source ~ N(0, I); target = source @ R + noise, R a random orthogonal matrix."""
    rng = np.random.default_rng(seed)
    source = rng.standard_normal((n, d)).astype(np.float32)
    rotation, _ = np.linalg.qr(rng.standard_normal((d, d)))
    target = (source @ rotation + noise * rng.standard_normal((n, d))).astype(np.float32)
    return source, target, rotation.astype(np.float32)


def identity_pairs(n):
    return np.stack([np.arange(n), np.arange(n)], axis=1)


def p_at_1(source, target, pairs, method="nn"):
    return word_translation_precision(source, target, pairs, ks=(1,), methods=(method,)).precision[method][1]


def direct_csls(queries, keys, k):
    """O(n^2) reference: the full score matrix at once."""
    q, t = unit_rows(queries).numpy(), unit_rows(keys).numpy()
    sim = q @ t.T
    kq, kt = min(k, sim.shape[1]), min(k, sim.shape[0])
    r_queries = np.sort(sim, axis=1)[:, ::-1][:, :kq].mean(axis=1)
    r_keys = np.sort(sim.T, axis=1)[:, ::-1][:, :kt].mean(axis=1)
    return 2 * sim - r_queries[:, None] - r_keys[None, :], r_queries, r_keys


class TestAlignmentMath(AllenNlpTestCase):
    def test_procrustes_recovers_the_rotation(self):
        source, target, rotation = rotated_pair()
        pairs = identity_pairs(100)
        W = procrustes(source[:100], target[:100])
        assert np.linalg.norm(W - rotation) < 0.02
        np.testing.assert_allclose(W @ W.T, np.eye(20), atol=1e-5)

        # Default direction: the target is rotated into the source space (W ~ R^T).
        alignment = align_embeddings(source, target, pairs, refinement_rounds=0)
        assert np.linalg.norm(alignment.W - rotation.T) < 0.02
        mapped_source, mapped_target = alignment.apply(source, target)
        assert mapped_source is source
        all_pairs = identity_pairs(len(source))
        assert p_at_1(mapped_source, mapped_target, all_pairs, "nn") == 1.0
        assert p_at_1(mapped_source, mapped_target, all_pairs, "csls") == 1.0

        reverse = align_embeddings(source, target, pairs, "source-to-target", refinement_rounds=0)
        assert np.linalg.norm(reverse.W - rotation) < 0.02

    def test_refinement_recovers_from_a_half_wrong_dictionary(self):
        source, target, _ = rotated_pair(n=1000, d=50, noise=0.05, seed=1)
        rng = np.random.default_rng(2)
        pairs = identity_pairs(120)
        wrong = rng.choice(120, 60, replace=False)
        pairs[wrong, 1] = rng.integers(120, 1000, size=60)  # half the pairs point elsewhere
        all_pairs = identity_pairs(1000)

        first = align_embeddings(source, target, pairs, refinement_rounds=0)
        refined = align_embeddings(source, target, pairs, refinement_rounds=3, max_rank=600)
        p_first = p_at_1(*first.apply(source, target), all_pairs)
        p_refined = p_at_1(*refined.apply(source, target), all_pairs)
        assert p_first < 0.9
        assert p_refined > 0.99 > p_first
        assert refined.best_round > 0
        assert [r.round for r in refined.rounds] == [0, 1, 2, 3]
        # The unsupervised criterion rises as the dictionary gets cleaner.
        assert refined.rounds[refined.best_round].criterion > refined.rounds[0].criterion

    def test_keep_last_round(self):
        source, target, _ = rotated_pair(n=200, d=10)
        alignment = align_embeddings(
            source, target, identity_pairs(50), refinement_rounds=2, select_best=False
        )
        assert alignment.best_round == 2

    def test_chunked_csls_matches_the_direct_computation(self):
        rng = np.random.default_rng(3)
        queries = rng.standard_normal((37, 8)).astype(np.float32)
        keys = rng.standard_normal((29, 8)).astype(np.float32)
        expected, r_queries, r_keys = direct_csls(queries, keys, k=4)

        q, t = unit_rows(queries), unit_rows(keys)
        np.testing.assert_allclose(mean_knn_similarity(q, t, 4, chunk_size=5), r_queries, atol=1e-5)
        np.testing.assert_allclose(mean_knn_similarity(t, q, 4, chunk_size=5), r_keys, atol=1e-5)
        scores, indices = csls_retrieve(q, t, k=3, knn=4, chunk_size=5)
        np.testing.assert_array_equal(indices.numpy(), np.argsort(-expected, axis=1)[:, :3])
        np.testing.assert_allclose(scores.numpy(), -np.sort(-expected, axis=1)[:, :3], atol=1e-5)
        # Same result in one batch.
        _, one_batch = csls_retrieve(q, t, k=3, knn=4)
        np.testing.assert_array_equal(one_batch.numpy(), indices.numpy())

        # Mutual nearest neighbours: best in both directions of the same CSLS matrix.
        pairs, s2t, cosine = mutual_nearest_neighbors(q, t, knn=4, chunk_size=5)
        best_target = expected.argmax(axis=1)
        best_query = expected.argmax(axis=0)
        np.testing.assert_array_equal(s2t, best_target)
        expected_pairs = [(i, j) for i, j in enumerate(best_target) if best_query[j] == i]
        assert [tuple(p) for p in pairs] == expected_pairs
        np.testing.assert_allclose(cosine, (q.numpy() * t.numpy()[best_target]).sum(axis=1), atol=1e-6)

    def test_normalization(self):
        rng = np.random.default_rng(4)
        matrix = (rng.standard_normal((50, 6)) * 3 + 2).astype(np.float32)
        assert parse_normalization("center,renorm") == ("center", "renorm")
        assert parse_normalization(["renorm", "center, renorm"]) == ("renorm", "center", "renorm")
        assert parse_normalization(None) == parse_normalization("none") == ()
        with pytest.raises(ValueError, match="unknown normalisation 'centre'"):
            parse_normalization("centre")
        centered = normalize_embeddings(matrix, ["center"])
        np.testing.assert_allclose(centered.mean(axis=0), 0, atol=1e-5)
        both = normalize_embeddings(matrix, parse_normalization("center,renorm"))
        np.testing.assert_allclose(np.linalg.norm(both, axis=1), 1, atol=1e-5)
        assert normalize_embeddings(np.zeros((2, 3)), ["renorm"]).tolist() == [[0] * 3] * 2
        np.testing.assert_array_equal(normalize_embeddings(matrix, ()), matrix)

    def test_precision_counts_any_gold_translation(self):
        source = np.eye(3, dtype=np.float32)
        target = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.9, 0.1, 0]], dtype=np.float32)
        # Source 0 has gold {3, 0}: its nearest target (0) is one of them. Source 1's gold is 2.
        pairs = np.array([[0, 3], [0, 0], [1, 2]])
        result = word_translation_precision(source, target, pairs, ks=(1, 2), methods=("nn",))
        assert result.queries == 2 and result.pairs == 3
        assert result.precision["nn"] == {1: 0.5, 2: 0.5}

    def test_language_inference(self):
        assert infer_languages("/x/en-es.txt") == ("en", "es")
        assert infer_languages("en-es.0-5000.txt") == ("en", "es")
        assert infer_languages("EN-NL.train.txt") == ("en", "nl")
        assert infer_languages("dictionary.txt") is None

    def test_projection_by_hand(self):
        source = WordVectors(["a", "b", "c"], np.array([[1, 0], [0, 2], [3, 4]], dtype=np.float32))
        pairs = [("a", "x"), ("b", "x"), ("c", "y"), ("zz", "w"), ("a", "x")]
        table, stats = project_dictionary(source, pairs)
        assert table.words == ["x", "y"]
        # x: mean((1, 0), (0, 2)) = (0.5, 1) -> / sqrt(1.25); y: (3, 4) / 5. The repeated pair
        # counts once; w has no translation with a vector.
        expected = np.array([[0.5, 1] / np.sqrt(1.25), [0.6, 0.8]], dtype=np.float32)
        np.testing.assert_allclose(table.matrix, expected, atol=1e-6)
        assert (stats.target_words, stats.target_words_with_vector, stats.pairs_used) == (3, 2, 3)


class TestXnerAlign(AllenNlpTestCase):
    def setup_method(self):
        super().setup_method()
        word_vectors.clear_memory()
        self.out = self.TEST_DIR / "out"

    def vectors(self, name, words, matrix):
        path = self.TEST_DIR / name
        write_word_vectors(str(path), WordVectors(list(words), np.asarray(matrix, np.float32)))
        return str(path)

    def text(self, name, text):
        path = self.TEST_DIR / name
        path.write_text(text, encoding="utf-8")
        return str(path)

    def rotated(self, n=300, d=12, train=60, test=(200, 260)):
        """en.vec / es.vec (es = rotated en + noise), train and test dictionaries s_i -> t_i."""
        source, target, rotation = rotated_pair(n=n, d=d)
        self.source_matrix, self.target_matrix, self.rotation = source, target, rotation
        self.src = self.vectors("en.vec", [f"s{i}" for i in range(n)], source)
        self.tgt = self.vectors("es.vec", [f"t{i}" for i in range(n)], target)
        self.train = self.text("en-es.train.txt", "".join(f"s{i} t{i}\n" for i in range(train)))
        self.test = self.text("en-es.test.txt", "".join(f"s{i} t{i}\n" for i in range(*test)))

    def cli(self, arguments):
        # The subcommand's own parser and function: `allennlp.commands.main` would also import
        # every plugin (allennlp_models), seconds per call.
        parser = argparse.ArgumentParser(prog="allennlp")
        Subcommand.by_name("xner-align")().add_subparser(parser.add_subparsers())
        args = parser.parse_args(["xner-align", *map(str, arguments)])
        args.func(args)

    def test_registered_as_allennlp_subcommand(self):
        assert Subcommand.by_name("xner-align") is XnerAlign

    def assert_no_output(self):
        leftovers = sorted(os.listdir(self.out)) if self.out.exists() else []
        assert leftovers == []

    def test_cli_writes_vectors_that_round_trip(self, capsys):
        self.rotated()
        self.cli(["--source", self.src, "--target", self.tgt, "--dictionary", self.train,
                  "--eval-dictionary", self.test, "--output-dir", self.out,
                  "--refinement-rounds", 2, "--chunk-size", 7])  # fmt: skip
        printed = capsys.readouterr().out
        assert "nn    P@1 100.00  P@5 100.00" in printed
        assert "csls  P@1 100.00  P@5 100.00" in printed
        written = sorted(os.listdir(self.out))
        assert written == ["alignment.json", "vectors-en.vec", "vectors-es.vec"]
        umask = os.umask(0)
        os.umask(umask)
        for name in written:  # not the 0600 of temp files
            assert os.stat(self.out / name).st_mode & 0o777 == 0o666 & ~umask

        word_vectors.clear_memory()
        en = load_word_vectors(str(self.out / "vectors-en.vec"))
        es = load_word_vectors(str(self.out / "vectors-es.vec"))
        assert en.words == [f"s{i}" for i in range(300)]
        assert es.words == [f"t{i}" for i in range(300)]
        # No normalisation, target mapped into the source space: English vectors unchanged, Spanish
        # ones rotated back onto them.
        np.testing.assert_allclose(en.matrix, self.source_matrix, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(es.matrix, self.source_matrix, atol=0.05)
        # The binary cache was built by the command: a cache file exists for each output.
        cache = os.environ["XNER_VECTOR_CACHE"]
        for name in ("vectors-en.vec", "vectors-es.vec"):
            key = cache_key(str(self.out / name), "utf-8", None)
            assert os.path.exists(os.path.join(cache, key + ".npy"))

        report = json.loads((self.out / "alignment.json").read_text())
        assert report["source_lang"] == "en" and report["target_lang"] == "es"
        assert report["evaluation"]["precision"]["csls"]["1"] == 1.0
        assert [r["round"] for r in report["rounds"]] == [0, 1, 2]

    def test_source_to_target_with_normalization(self):
        self.rotated()
        report = build_aligned_vectors(
            self.src,
            self.train,
            str(self.out),
            target=self.tgt,
            eval_dictionary=self.test,
            normalize="center,renorm",
            direction="source-to-target",
            source_lang="eng",
            target_lang="spa",
            refinement_rounds=1,
        )
        assert report.evaluation["precision"]["nn"][1] == 1.0
        es = load_word_vectors(str(self.out / "vectors-spa.vec"))
        expected = normalize_embeddings(self.target_matrix, ("center", "renorm"))
        np.testing.assert_allclose(es.matrix, expected, atol=1e-5)
        assert os.path.exists(self.out / "vectors-eng.vec")

    def test_dimension_mismatch(self):
        self.rotated()
        other = self.vectors("es5.vec", ["t0", "t1"], np.ones((2, 5)))
        message = r"es5\.vec: vectors have dimension 5, but the source vectors .*en\.vec have dim"
        with pytest.raises(InputFormatError, match=message):
            build_aligned_vectors(self.src, self.train, str(self.out), target=other)
        self.assert_no_output()

    def test_too_few_usable_pairs(self):
        self.rotated(d=12, train=8)
        with pytest.raises(
            InputFormatError,
            match=r"en-es\.train\.txt: only 8 usable dictionary pairs, Procrustes needs at least "
            r"the vector dimension \(12\): 8 of 8 pairs",
        ):
            build_aligned_vectors(self.src, self.train, str(self.out), target=self.tgt)
        self.assert_no_output()

    def test_nan_in_vectors_names_file_and_line(self):
        self.rotated()
        bad = self.text("bad.vec", "3 2\na 1 2\nb nan 2\nc 1 1\n")
        with pytest.raises(InputFormatError, match=r"bad\.vec:3: vector has a NaN or infinite"):
            build_aligned_vectors(self.src, self.train, str(self.out), target=bad)
        self.assert_no_output()

    def test_empty_overlap_and_reversed_hint(self):
        self.rotated()
        unrelated = self.text("en-es.other.txt", "foo bar\nbaz qux\n")
        message = r"other\.txt: no dictionary pair has both words.*0 of 2 pairs"
        with pytest.raises(InputFormatError, match=message):
            build_aligned_vectors(self.src, unrelated, str(self.out), target=self.tgt)
        reversed_dict = self.text("en-es.rev.txt", "t0 s0\nt1 s1\n")
        with pytest.raises(InputFormatError, match="looks reversed"):
            build_aligned_vectors(self.src, reversed_dict, str(self.out), target=self.tgt)
        self.assert_no_output()

    def test_malformed_dictionary_line(self):
        self.rotated()
        bad = self.text("en-es.bad.txt", "s0 t0\n\ns1 t1 extra\n")
        with pytest.raises(InputFormatError, match=r"en-es\.bad\.txt:3: 3 fields"):
            build_aligned_vectors(self.src, bad, str(self.out), target=self.tgt)
        self.assert_no_output()

    def test_failed_second_write_leaves_nothing(self, monkeypatch):
        self.rotated()
        real = word_vectors.write_word_vectors
        calls = []

        def failing(path, table, *args, **kwargs):
            calls.append(path)
            if len(calls) == 2:
                # As a writer interrupted half-way: a partial temp file next to `path`.
                with open(os.path.join(os.path.dirname(path), "tmp-partial"), "w") as handle:
                    handle.write("2 12\nt0 1 2")
                raise OSError("disk full")
            return real(path, table, *args, **kwargs)

        monkeypatch.setattr(word_vectors, "write_word_vectors", failing)
        with pytest.raises(OSError, match="disk full"):
            build_aligned_vectors(self.src, self.train, str(self.out), target=self.tgt, refinement_rounds=0)
        assert not self.out.exists()  # the directory it created is gone too

        # An output directory that exists keeps only what it had.
        self.out.mkdir()
        (self.out / "notes.txt").write_text("mine")
        calls.clear()
        with pytest.raises(OSError, match="disk full"):
            build_aligned_vectors(self.src, self.train, str(self.out), target=self.tgt, refinement_rounds=0)
        assert os.listdir(self.out) == ["notes.txt"]

    def cli_error(self, arguments, capsys, after_progress=False):
        """The one line a user error prints (exit status 2)."""
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_info:
            self.cli(arguments)
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        if after_progress:  # the progress bars of the work done before the error come first
            err = err.split("\n", err.count("\n") - 1)[-1]
        assert err.count("\n") == 1 and err.startswith("error: "), err
        return err.strip()

    def test_cli_reports_bad_input_without_traceback(self, capsys):
        self.rotated()
        bad = self.text("en-es.bad.txt", "s0\n")
        line = self.cli_error(["--source", self.src, "--target", self.tgt, "--dictionary", bad,
                               "--output-dir", self.out], capsys)  # fmt: skip
        assert re.match(r"error: .*en-es\.bad\.txt:1: 1 field", line)
        line = self.cli_error(
            ["--source", self.src, "--dictionary", self.train, "--output-dir", self.out], capsys
        )
        assert "needs --target" in line
        plain = self.text("dict.txt", "s0 t0\n")
        line = self.cli_error(["--source", self.src, "--target", self.tgt, "--dictionary", plain,
                               "--output-dir", self.out], capsys)  # fmt: skip
        assert "give --source-lang and --target-lang" in line
        line = self.cli_error(["--source", self.TEST_DIR / "none.vec", "--target", self.tgt,
                               "--dictionary", self.train, "--output-dir", self.out], capsys)  # fmt: skip
        assert line == f"error: source vector file not found: {self.TEST_DIR / 'none.vec'}"
        self.assert_no_output()
        # --debug: the traceback, for a bug report.
        with pytest.raises(InputFormatError, match=r"en-es\.bad\.txt:1:"):
            self.cli(["--source", self.src, "--target", self.tgt, "--dictionary", bad,
                      "--output-dir", self.out, "--debug"])  # fmt: skip

    @pytest.mark.parametrize(
        "option, value, expected",
        [
            ("--csls-knn", "0", "argument --csls-knn: expected an integer >= 1, got 0"),
            ("--max-source-words", "-1", "argument --max-source-words: expected an integer >= 1"),
            ("--max-target-words", "0", "argument --max-target-words: expected an integer >= 1"),
            ("--refinement-rounds", "-1", "argument --refinement-rounds: expected an integer >= 0"),
            ("--refine-max-rank", "-5", "argument --refine-max-rank: expected an integer >= 0"),
            ("--chunk-size", "0", "argument --chunk-size: expected an integer >= 1"),
            ("--num-threads", "-2", "argument --num-threads: expected an integer >= 1"),
            ("--csls-knn", "ten", "argument --csls-knn: expected an integer, got 'ten'"),
            ("--normalize", "centre", "--normalize: unknown normalisation 'centre'"),
            ("--source-lang", "../x", "--source-lang: '../x' is not a language code"),
            ("--output-dir", "", "--output-dir: empty directory name"),
        ],
    )
    def test_nonsense_parameters_are_refused_up_front(self, option, value, expected, capsys):
        self.rotated()
        line = self.cli_error(["--source", self.src, "--target", self.tgt, "--dictionary",
                               self.train, "--output-dir", self.out, option, value], capsys)  # fmt: skip
        assert line.startswith(f"error: {expected}"), line
        self.assert_no_output()

    def test_nonsense_parameters_of_the_function(self):
        self.rotated()
        for name, value, option in [
            ("csls_knn", 0, "--csls-knn"),
            ("refinement_rounds", -1, "--refinement-rounds"),
            ("max_source_words", -1, "--max-source-words"),
            ("chunk_size", 0, "--chunk-size"),
        ]:
            with pytest.raises(ConfigurationError, match=f"{option} must be at least"):
                build_aligned_vectors(self.src, self.train, str(self.out), target=self.tgt,
                                      **{name: value})  # fmt: skip
        self.assert_no_output()

    def reversed_fixture_dictionary(self, name):
        pairs = (FIXTURES / "dictionaries" / "en-es.txt").read_text(encoding="utf-8").split("\n")
        swapped = [" ".join(reversed(line.split())) for line in pairs if line.strip()]
        return self.text(name, "\n".join(swapped) + "\n")

    def test_reversed_dictionary_is_an_error(self, capsys):
        # es-en pairs where en-es is expected: the Spanish words are not in the English vectors.
        en = str(FIXTURES / "vectors" / "wiki.multi.en.vec")
        es = str(FIXTURES / "vectors" / "wiki.multi.es.vec")
        reversed_dict = self.reversed_fixture_dictionary("dictionary.txt")
        message = (
            r"dictionary\.txt: the dictionary looks reversed \(`target source` lines\): 275 of its "
            r"275 pairs have a target word \(second column\) in the source vectors .*, but only 23"
        )
        with pytest.raises(InputFormatError, match=message):
            build_aligned_vectors(en, reversed_dict, str(self.out), target=es, source_lang="en",
                                  target_lang="es")  # fmt: skip
        with pytest.raises(InputFormatError, match="looks reversed"):
            build_aligned_vectors(en, reversed_dict, str(self.out), method="projection",
                                  source_lang="en", target_lang="es")  # fmt: skip
        line = self.cli_error(["--source", en, "--target", es, "--dictionary", reversed_dict,
                               "--source-lang", "en", "--target-lang", "es",
                               "--output-dir", self.out], capsys)  # fmt: skip
        assert "dictionary.txt: the dictionary looks reversed" in line
        # The right direction runs.
        build_aligned_vectors(en, str(FIXTURES / "dictionaries" / "en-es.txt"), str(self.out),
                              target=es, refinement_rounds=0)  # fmt: skip
        self.assert_no_error_leftovers()

    def assert_no_error_leftovers(self):
        assert sorted(os.listdir(self.out)) == ["alignment.json", "vectors-en.vec", "vectors-es.vec"]

    def test_dictionary_name_says_the_reverse_direction(self):
        self.rotated()
        named = self.text("es-en.txt", "".join(f"s{i} t{i}\n" for i in range(60)))
        with pytest.raises(
            InputFormatError, match=r"es-en\.txt: the dictionary looks reversed: its name says es-en"
        ):
            build_aligned_vectors(self.src, named, str(self.out), target=self.tgt,
                                  source_lang="en", target_lang="es")  # fmt: skip
        self.assert_no_output()

    def test_failed_read_back_keeps_the_old_outputs(self, monkeypatch):
        self.rotated()
        build_aligned_vectors(self.src, self.train, str(self.out), target=self.tgt, refinement_rounds=0)
        before = {name: (self.out / name).read_bytes() for name in os.listdir(self.out)}
        real = pipeline.load_word_vectors

        def bad_output(path, *args, **kwargs):
            if path.startswith(str(self.out)):
                raise InputFormatError(path, 3, "damaged on the way")
            return real(path, *args, **kwargs)

        monkeypatch.setattr(pipeline, "load_word_vectors", bad_output)
        with pytest.raises(InputFormatError, match="damaged on the way"):
            build_aligned_vectors(self.src, self.train, str(self.out), target=self.tgt,
                                  refinement_rounds=1, normalize="renorm")  # fmt: skip
        after = {name: (self.out / name).read_bytes() for name in os.listdir(self.out)}
        assert after == before

    def test_failed_rename_keeps_the_old_outputs(self, monkeypatch):
        self.rotated()
        build_aligned_vectors(self.src, self.train, str(self.out), target=self.tgt, refinement_rounds=0)
        before = {name: (self.out / name).read_bytes() for name in os.listdir(self.out)}
        real = os.replace

        def fails_on_the_report(source, destination):
            if str(destination).endswith("alignment.json") and not source.endswith(".old"):
                raise OSError(28, "No space left on device", str(destination))
            return real(source, destination)

        monkeypatch.setattr(files.os, "replace", fails_on_the_report)  # in write_together
        with pytest.raises(OSError, match="No space left"):
            build_aligned_vectors(self.src, self.train, str(self.out), target=self.tgt,
                                  refinement_rounds=1, normalize="renorm")  # fmt: skip
        monkeypatch.undo()
        after = {name: (self.out / name).read_bytes() for name in os.listdir(self.out)}
        assert after == before

    def test_output_paths_that_cannot_be_written(self, monkeypatch, capsys):
        self.rotated()
        common = ["--source", self.src, "--target", self.tgt, "--dictionary", self.train]
        a_file = self.text("notes.txt", "mine")
        line = self.cli_error(common + ["--output-dir", a_file], capsys)
        assert line == f"error: {a_file}/vectors-en.vec: {a_file} is not a directory"
        (self.out / "vectors-es.vec").mkdir(parents=True)
        line = self.cli_error(common + ["--output-dir", self.out], capsys)
        assert line == f"error: {self.out}/vectors-es.vec: is a directory, expected a file name"
        os.rmdir(self.out / "vectors-es.vec")

        # No permission (simulated: the tests may run as root): the message names the output,
        # not the staging directory it was about to create.
        def denied(dir, prefix):
            raise PermissionError(13, "Permission denied", os.path.join(dir, prefix + "abc123"))

        monkeypatch.setattr(files.tempfile, "mkdtemp", denied)  # write_together's staging
        line = self.cli_error(common + ["--output-dir", self.out, "--refinement-rounds", "0"], capsys, True)
        assert line == f"error: [Errno 13] Permission denied: '{self.out}/vectors-en.vec'"

    def test_projection_command(self, capsys):
        glove = self.text("glove.txt", "a 1 0\nb 0 2\nc 3 4\nd 5 5\n")  # GloVe: no header
        dictionary = self.text("en-es.txt", "a x\nb x\nc y\nzz w\n")
        self.cli(["--method", "projection", "--source", glove, "--dictionary", dictionary,
                  "--output-dir", self.out, "--max-source-words", 3])  # fmt: skip
        assert "vectors-es.vec: 2 words" in capsys.readouterr().out
        word_vectors.clear_memory()
        en = load_word_vectors(str(self.out / "vectors-en.vec"))
        es = load_word_vectors(str(self.out / "vectors-es.vec"))
        assert en.words == ["a", "b", "c"]  # the source as read, first 3 rows
        np.testing.assert_array_equal(en.matrix, [[1, 0], [0, 2], [3, 4]])
        assert es.words == ["x", "y"]
        expected = [[0.5 / 1.25**0.5, 1 / 1.25**0.5], [0.6, 0.8]]
        np.testing.assert_allclose(es.matrix, expected, atol=1e-6)

        line = self.cli_error(["--method", "projection", "--source", glove, "--target", glove,
                               "--dictionary", dictionary,
                               "--output-dir", self.TEST_DIR / "o2"], capsys)  # fmt: skip
        assert "drop --target" in line
        nothing = self.text("en-es.none.txt", "zz w\n")
        line = self.cli_error(["--method", "projection", "--source", glove, "--dictionary", nothing,
                               "--output-dir", self.TEST_DIR / "o3"], capsys)  # fmt: skip
        assert "no source word of the dictionary has a vector" in line
        assert not (self.TEST_DIR / "o2").exists() and not (self.TEST_DIR / "o3").exists()

    def test_projection_composes_vectors_for_words_outside_the_dictionary(self, capsys):
        glove = self.text("glove.txt", "house 1 0 0\ngovernment 0 1 0\ncity 0 0 1\nhall 1 1 0\n")
        dictionary = self.text("en-de.txt", "house haus\ngovernment regierung\ncity stadt\nhall halle\n")
        # Target text (words only are read): a CoNLL file and a plain-text file.
        conll = self.text("de.conll", "Regierungen O\nStadthaus B-LOC\nHaus O\n\n-DOCSTART- -X- O\n")
        text = self.text("de.txt", "die Stadthalle\n")
        self.cli(["--method", "projection", "--source", glove, "--dictionary", dictionary,
                  "--output-dir", self.out, "--compose-words", conll, text])  # fmt: skip
        out = capsys.readouterr().out
        assert "composition: 4 of 5 word types" in out and "1 by stem, 2 by subword; 1 left" in out
        word_vectors.clear_memory()
        de = load_word_vectors(str(self.out / "vectors-de.vec"))
        # "die" shares no n-gram with the table: left without a vector rather than given zeros.
        assert de.words == ["haus", "regierung", "stadt", "halle", "regierungen", "stadthaus", "stadthalle"]
        rows = dict(zip(de.words, de.matrix))
        # Same Snowball stem as "regierung": its vector; the rest unit rows from their n-grams.
        np.testing.assert_allclose(rows["regierungen"], rows["regierung"], atol=1e-6)
        np.testing.assert_allclose(np.linalg.norm(de.matrix, axis=1), 1, atol=1e-5)
        report = json.loads((self.out / "alignment.json").read_text())
        assert report["settings"]["composition"]["placed"] == {"stem": 1, "subword": 2}
        assert report["target_words"] == 7

        # Another script: a Bengali name through its uroman romanization (bn's rules in the
        # language table: inherent vowel, case endings) to the English vector.
        glove_bn = self.text("glove-bn.txt", "house 1 0 0\ndhaka 0 1 0\ncity 0 0 1\n")
        dictionary_bn = self.text("en-bn.txt", "house বাড়ি\ncity শহর\n")
        bengali = self.text("bn.conll", "ঢাকায়\tB-LOC\nবাড়ি\tO\n")
        self.cli(["--method", "projection", "--source", glove_bn, "--dictionary", dictionary_bn,
                  "--output-dir", self.TEST_DIR / "o8", "--compose-words", bengali,
                  "--compose", "romanized,subword"])  # fmt: skip
        assert "1 by romanized, 0 by subword" in capsys.readouterr().out
        word_vectors.clear_memory()
        bn = load_word_vectors(str(self.TEST_DIR / "o8" / "vectors-bn.vec"))
        np.testing.assert_allclose(dict(zip(bn.words, bn.matrix))["ঢাকায়"], [0, 1, 0], atol=1e-6)

        # The composer inside the model: its file beside the tables, the same vectors.
        self.cli(["--method", "projection", "--source", glove, "--dictionary", dictionary,
                  "--output-dir", self.TEST_DIR / "o6", "--compose-words", conll, text,
                  "--compose", "subword", "--composition-model"])  # fmt: skip
        assert "composition model: composition-de.npz" in capsys.readouterr().out
        saved = SubwordComposer.load(str(self.TEST_DIR / "o6" / "composition-de.npz"))
        word_vectors.clear_memory()
        placed = load_word_vectors(str(self.TEST_DIR / "o6" / "vectors-de.vec"))
        composed = saved(["stadthaus"])[0]
        np.testing.assert_allclose(
            dict(zip(placed.words, placed.matrix))["stadthaus"],
            composed / np.linalg.norm(composed),
            atol=1e-6,
        )
        report = json.loads((self.TEST_DIR / "o6" / "alignment.json").read_text())
        assert report["settings"]["composition_model"]["fitted_words"] == 4

        line = self.cli_error(["--method", "projection", "--source", glove, "--dictionary", dictionary,
                               "--output-dir", self.TEST_DIR / "o4", "--compose-words", conll,
                               "--compose", "lemma"], capsys)  # fmt: skip
        assert "'stem', 'romanized', 'encoder', 'subword'" in line
        line = self.cli_error(["--method", "projection", "--source", glove, "--dictionary", dictionary,
                               "--output-dir", self.TEST_DIR / "o5", "--compose-words",
                               self.TEST_DIR / "missing.txt"], capsys)  # fmt: skip
        assert "missing.txt" in line
        target = self.text("de.vec", "haus 1 0 0\n")
        line = self.cli_error(["--method", "procrustes", "--source", glove, "--target", target,
                               "--dictionary", dictionary, "--output-dir", self.TEST_DIR / "o7",
                               "--composition-model"], capsys)  # fmt: skip
        assert "--composition-model applies to --method projection only" in line
        assert not (self.TEST_DIR / "o4").exists() and not (self.TEST_DIR / "o5").exists()

    def test_projection_composes_with_an_encoder(self, capsys):
        from xner_allennlp.romanization import UromanRomanizer

        encoder = str(FIXTURES / "encoder" / "tiny-bert")
        # 60 Bengali "names" whose romanizations are English table words, enough matches for the
        # encoder's check, and one word that matches nothing.
        consonants, vowels = "কগচজটডতদনপবমলসহ", ["া", "ি", "ু", "ে", "ো"]
        names = [a + v + b for a in consonants[:6] for v in vowels[:2] for b in consonants[6:11]]
        romanize = UromanRomanizer().romanize
        english = [romanize(n).lower() for n in names]
        assert len(set(english)) == 60 and all(len(e) >= 3 for e in english)
        rows = np.random.default_rng(0).normal(size=(64, 3))
        table = ["house", "government", "city", "hall"] + english
        glove = self.text("glove.txt", "".join(f"{w} {' '.join(map(str, r))}\n" for w, r in zip(table, rows)))
        dictionary = self.text("en-bn.txt", "house বাড়ি\ngovernment সরকার\ncity শহর\nhall হল\n")
        bengali = self.text("bn.conll", "".join(f"{n}\tB-PER\n" for n in names) + "সরকারের\tO\nবাড়ি\tO\n")
        arguments = ["--method", "projection", "--source", glove, "--dictionary", dictionary,
                     "--compose-words", bengali, "--compose-encoder", encoder]  # fmt: skip
        # A threshold no pair reaches: every romanized match is turned down and the encoder
        # places the words, as vectors in the table's space (unit rows, like projected rows).
        self.cli([*arguments, "--output-dir", self.out, "--compose", "romanized,encoder,subword",
                  "--romanized-min-similarity", "1"])  # fmt: skip
        out = capsys.readouterr().out
        assert "0 by romanized, 61 by encoder, 0 by subword; 0 left" in out
        assert "the encoder turned down 60 romanized matches (similarity below 1.0)" in out
        word_vectors.clear_memory()
        bn = load_word_vectors(str(self.out / "vectors-bn.vec"))
        assert bn.words[4:] == names + ["সরকারের"] and bn.dim == 3
        np.testing.assert_allclose(np.linalg.norm(bn.matrix, axis=1), 1, atol=1e-5)
        composition = json.loads((self.out / "alignment.json").read_text())["settings"]["composition"]
        assert composition["encoder"] == encoder and composition["romanized_rejected"] == 60
        assert composition["romanized_min_similarity"] == 1.0
        # Any match passes at -1: each name gets its English word's vector.
        self.cli([*arguments, "--output-dir", self.TEST_DIR / "o2", "--compose", "romanized,encoder",
                  "--romanized-min-similarity", "-1"])  # fmt: skip
        assert "60 by romanized, 1 by encoder" in capsys.readouterr().out
        word_vectors.clear_memory()
        placed = load_word_vectors(str(self.TEST_DIR / "o2" / "vectors-bn.vec"))
        np.testing.assert_allclose(
            dict(zip(placed.words, placed.matrix))[names[7]],
            rows[4 + 7] / np.linalg.norm(rows[4 + 7]),
            atol=1e-5,
        )

        line = self.cli_error(["--method", "projection", "--source", glove, "--dictionary", dictionary,
                               "--output-dir", self.TEST_DIR / "o3", "--compose-words", bengali,
                               "--compose", "encoder"], capsys)  # fmt: skip
        assert "--compose encoder needs --compose-encoder DIR" in line
        line = self.cli_error([*arguments[:-1], self.TEST_DIR / "no-encoder", "--output-dir",
                               self.TEST_DIR / "o4", "--compose", "encoder"], capsys)  # fmt: skip
        assert "no-encoder does not exist" in line
        line = self.cli_error(["--method", "projection", "--source", glove, "--dictionary", dictionary,
                               "--output-dir", self.TEST_DIR / "o5", "--compose-encoder", encoder],
                              capsys)  # fmt: skip
        assert "--compose-encoder applies with --compose-words only" in line
        line = self.cli_error([*arguments, "--output-dir", self.TEST_DIR / "o6", "--compose", "subword"],
                              capsys)  # fmt: skip
        assert "used by the encoder and romanized methods only; --compose is subword" in line
        line = self.cli_error([*arguments[:-2], "--output-dir", self.TEST_DIR / "o7", "--compose",
                               "romanized", "--romanized-min-similarity", "0.5"], capsys)  # fmt: skip
        assert "--romanized-min-similarity applies with --compose romanized and --compose-encoder" in line
        line = self.cli_error([*arguments, "--output-dir", self.TEST_DIR / "o8", "--compose", "romanized",
                               "--romanized-min-similarity", "2"], capsys)  # fmt: skip
        assert "min_similarity is a cosine, between -1 and 1; got 2.0" in line
        assert not any((self.TEST_DIR / o).exists() for o in ("o3", "o4", "o5", "o6", "o7", "o8"))
