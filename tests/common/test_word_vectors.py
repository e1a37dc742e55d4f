import gzip
import logging
import os

import numpy as np
import pytest
from allennlp.common.testing import AllenNlpTestCase

from xner_allennlp.common import word_vectors
from xner_allennlp.common.errors import InputFormatError
from xner_allennlp.common.vectors.cache import cache_key
from xner_allennlp.common.word_vectors import (
    WordVectors,
    load_word_vectors,
    merge_word_vectors,
    write_word_vectors,
)


def fresh(path, **kwargs):
    # Bypass the in-process memo so every call parses or reads the binary cache.
    word_vectors.clear_memory()
    return load_word_vectors(str(path), **kwargs)


class TestWordVectors(AllenNlpTestCase):
    def write(self, name, text, encoding="utf-8"):
        path = self.TEST_DIR / name
        path.write_bytes(text.encode(encoding))
        return path

    def test_header_format_and_first_duplicate_wins(self):
        path = self.write("a.vec", "3 2\nhola 0.5 -1\ncasa 2 3e-1 \nhola 9 9\n")
        table = fresh(path, use_cache=False)
        assert table.words == ["hola", "casa"]
        np.testing.assert_array_equal(table.matrix, np.array([[0.5, -1], [2, 0.3]], np.float32))
        assert table.dim == 2 and "casa" in table and "perro" not in table

    def test_glove_format_without_header_and_gzip(self):
        path = self.TEST_DIR / "g.txt.gz"
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            handle.write("the 1 2 3\nof 4 5 6\n\n")
        table = fresh(path, use_cache=False)
        assert table.words == ["the", "of"]
        assert table.matrix.shape == (2, 3)

    def test_latin1_words(self):
        path = self.write("l.vec", "1 2\nespaña 1 2\n", encoding="latin-1")
        assert fresh(path, encoding="latin-1", use_cache=False).words == ["españa"]
        with pytest.raises(InputFormatError, match=r"l\.vec:2: .*utf-8"):
            fresh(path, use_cache=False)

    def test_max_words(self):
        path = self.write("m.vec", "3 1\na 1\nb 2\nc 3\n")
        assert fresh(path, max_words=2, use_cache=False).words == ["a", "b"]

    def test_row_dimension_differs_from_header(self):
        path = self.write("bad.vec", "2 3\na 1 2 3\nb 1 2\n")
        with pytest.raises(InputFormatError, match=r"bad\.vec:3: .*'b' has 2 values, expected 3 .*header"):
            fresh(path)

    def test_row_dimension_differs_from_first_row(self):
        path = self.write("bad.txt", "a 1 2 3\nb 1 2 3\nc 1 2 3 4\n")
        with pytest.raises(InputFormatError, match=r"bad\.txt:3: .*4 values, expected 3 .*first row"):
            fresh(path)

    def test_compensating_row_lengths_are_caught(self):
        # One short and one long row add up to the right total: still an error.
        path = self.write("comp.vec", "2 2\na 1\nb 1 2 3\n")
        with pytest.raises(InputFormatError, match=r"comp\.vec:2:"):
            fresh(path)

    def test_non_numeric_value(self):
        path = self.write("nan.vec", "2 2\na 1 2\nb 1 x2\n")
        with pytest.raises(InputFormatError, match=r"nan\.vec:3: non-numeric value 'x2'"):
            fresh(path)

    def test_nan_and_inf(self):
        path = self.write("inf.vec", "2 2\na 1 2\nb inf 2\n")
        with pytest.raises(InputFormatError, match=r"inf\.vec:3: .*NaN or infinite"):
            fresh(path)

    def test_missing_file_is_named(self):
        with pytest.raises(FileNotFoundError, match="nowhere.vec"):
            fresh(self.TEST_DIR / "nowhere.vec")

    def test_binary_cache_is_bit_identical_and_invalidated(self):
        rng = np.random.default_rng(0)
        table = WordVectors([f"w{i}" for i in range(50)], rng.normal(size=(50, 7)).astype(np.float32))
        path = self.TEST_DIR / "c.vec"
        write_word_vectors(str(path), table, precision=9)
        cache = self.TEST_DIR / "cache"
        parsed = fresh(path, cache_dir=str(cache))
        assert sorted(p.suffix for p in cache.iterdir()) == [".json", ".npy", ".words"]
        cached = fresh(path, cache_dir=str(cache))
        assert cached.words == parsed.words == table.words
        assert cached.matrix.tobytes() == parsed.matrix.tobytes() == table.matrix.tobytes()
        # A changed file (size and mtime differ) is parsed again, not served from the cache.
        path.write_text("1 2\nnew 1 2\n")
        assert fresh(path, cache_dir=str(cache)).words == ["new"]

    def cached_table(self):
        rng = np.random.default_rng(1)
        table = WordVectors([f"w{i}" for i in range(40)], rng.normal(size=(40, 5)).astype(np.float32))
        path = self.TEST_DIR / "c.vec"
        write_word_vectors(str(path), table, precision=9)
        cache = self.TEST_DIR / "cache"
        fresh(path, cache_dir=str(cache))
        prefix = str(cache / cache_key(str(path), "utf-8", None))
        return table, path, cache, prefix

    def assert_rebuilt(self, table, path, cache, caplog, damaged=True):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger=word_vectors.__name__):
            loaded = fresh(path, cache_dir=str(cache))
        assert loaded.words == table.words
        assert loaded.matrix.tobytes() == table.matrix.tobytes()
        assert ("is damaged" in caplog.text) == damaged
        # Rebuilt: the next load is served from the cache, without a warning.
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger=word_vectors.__name__):
            assert fresh(path, cache_dir=str(cache)).matrix.tobytes() == table.matrix.tobytes()
        assert caplog.text == ""

    def test_damaged_cache_is_rebuilt_not_served(self, caplog):
        table, path, cache, prefix = self.cached_table()
        # One flipped bit in the matrix: same size, still a valid .npy.
        data = bytearray(open(prefix + ".npy", "rb").read())
        data[-3] ^= 0x01
        open(prefix + ".npy", "wb").write(bytes(data))
        self.assert_rebuilt(table, path, cache, caplog)
        # A changed word, same number of lines.
        open(prefix + ".words", "w").write("\n".join(["zz"] + table.words[1:]))
        self.assert_rebuilt(table, path, cache, caplog)
        # A truncated matrix, and a truncated metadata file.
        os.truncate(prefix + ".npy", os.path.getsize(prefix + ".npy") // 2)
        self.assert_rebuilt(table, path, cache, caplog)
        os.truncate(prefix + ".json", 10)
        self.assert_rebuilt(table, path, cache, caplog)

    def test_cache_of_a_writer_that_died_midway_is_never_read(self, monkeypatch, caplog):
        table, path, cache, prefix = self.cached_table()
        for name in os.listdir(cache):
            os.remove(cache / name)
        real = os.replace

        def dies_before_the_metadata(source, destination):
            if destination.endswith(".json"):
                raise OSError("killed")
            real(source, destination)

        monkeypatch.setattr(os, "replace", dies_before_the_metadata)
        fresh(path, cache_dir=str(cache))
        monkeypatch.undo()
        # The matrix and words are in place, but without the metadata (written last): parsed
        # again, silently, and no temporary file is left.
        assert sorted(p.suffix for p in cache.iterdir()) == [".npy", ".words"]
        os.truncate(prefix + ".npy", 100)
        self.assert_rebuilt(table, path, cache, caplog, damaged=False)
        assert sorted(p.suffix for p in cache.iterdir()) == [".json", ".npy", ".words"]

    def test_cache_never_serves_what_the_parser_rejects(self):
        # A cache from before the row-count check (no metadata) of a truncated download.
        path = self.write("cut.vec", "3 2\na 1 2\nb 3 4\n")
        cache = self.TEST_DIR / "cache"
        prefix = str(cache / cache_key(str(path), "utf-8", None))
        cache.mkdir()
        np.save(prefix + ".npy", np.array([[1, 2], [3, 4]], np.float32))
        open(prefix + ".words", "w").write("a\nb")
        with pytest.raises(InputFormatError, match=r"cut\.vec:1: the header promises 3 vectors"):
            fresh(path, cache_dir=str(cache))

    def test_header_promising_more_rows_than_the_file_has(self):
        text = "5 2\na 1 2\nb 3 4\n"
        message = (
            r"cut\.vec(\.gz)?:1: the header promises 5 vectors, but the file has only 2 rows: it is truncated"
        )
        path = self.write("cut.vec", text)
        with pytest.raises(InputFormatError, match=message):
            fresh(path)
        gz = self.TEST_DIR / "cut.vec.gz"
        with gzip.open(gz, "wt", encoding="utf-8") as handle:
            handle.write(text)
        with pytest.raises(InputFormatError, match=message):
            fresh(gz)
        with pytest.raises(InputFormatError, match=r"only 2 rows"):
            fresh(path, max_words=3)
        # Only the first rows are read: the rest is not checked.
        assert fresh(path, max_words=2).words == ["a", "b"]

    def test_more_rows_than_the_header_says(self):
        path = self.write("long.vec", "2 2\na 1 2\n\nb 3 4\nc 5 6\n")
        with pytest.raises(InputFormatError, match=r"long\.vec:5: more vector rows than the 2 of the header"):
            fresh(path)
        assert fresh(path, max_words=2).words == ["a", "b"]

    def test_row_without_word(self):
        path = self.write("space.vec", "2 2\na 1 2\n 3 4\n")
        with pytest.raises(InputFormatError, match=r"space\.vec:3: no word: the line starts with a space"):
            fresh(path)
        path = self.write("space.txt", "a 1 2\n 3 4\n")
        with pytest.raises(InputFormatError, match=r"space\.txt:2: no word"):
            fresh(path)
        path = self.write("numbers.vec", "2 3\na 1 2 3\n0.5 -0.1 2e-3\n")
        with pytest.raises(
            InputFormatError, match=r"numbers\.vec:3: no word: the row is 3 numbers, expected a word"
        ):
            fresh(path)

    def test_merge_first_table_wins(self):
        a = WordVectors(["x", "y"], np.array([[1, 1], [2, 2]], np.float32), "a")
        b = WordVectors(["y", "z"], np.array([[9, 9], [3, 3]], np.float32), "b")
        merged = merge_word_vectors([a, b])
        assert merged.words == ["x", "y", "z"]
        np.testing.assert_array_equal(merged.vector("y"), [2, 2])
        np.testing.assert_array_equal(merged.vector("z"), [3, 3])

    def test_merge_dimension_mismatch(self):
        a = WordVectors(["x"], np.zeros((1, 2), np.float32), "a.vec")
        b = WordVectors(["y"], np.zeros((1, 3), np.float32), "b.vec")
        with pytest.raises(InputFormatError, match="b.vec: .*dimension 3.*a.vec has 2"):
            merge_word_vectors([a, b])
