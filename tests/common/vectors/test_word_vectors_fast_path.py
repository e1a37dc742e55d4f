"""
The pyarrow fast path of `load_word_vectors`, seen from the public API: a well-formed file is
read by pyarrow's CSV reader alone and gives exactly the table of a plain float64-then-float32
reading of the text; anything else falls back to the reference (numpy) parser, which gives the
same table or its `file:line` error. Which parser ran is told by the calls they make into
pyarrow (`pyarrow.csv.open_csv`) and numpy (`np.fromstring`, the reference parser's only).
"""

import gzip
import unicodedata

import numpy as np
import pytest
from allennlp.common.testing import AllenNlpTestCase

from xner_allennlp.common import word_vectors
from xner_allennlp.common.errors import InputFormatError

csv = pytest.importorskip("pyarrow.csv")

SAME = {
    "header.vec": "3 2\nhola 0.5 -1\ncasa 2 3e-1\nhola 9 9\n",
    "trailing_space.vec": "2 3\na 1 2 3 \nb 4 5 6 \n",
    "crlf.vec": "2 2\r\na 1 2\r\nb 3 4\r\n",
    "glove.txt": "the 1 2 3\nof 4 5 6\n\n",
    "bom_glove.txt": "\ufeffthe 1 2\nof 3 4\n",
    "bom_header.vec": "\ufeff2 2\nthe 1 2\nof 3 4\n",
    "blank_lines.vec": "3 2\na 1 2\n\nb 3 4\n\nc 5 6\n",
    "quotes.vec": '2 2\n"a 1 2\nb" 3 4\n',
    "formats.vec": "1 8\nx -0.0 +1.5 1e-05 -2.5E+3 .25 7. 0.333333343 123456789\n",
    # "España" decomposed (n + U+0303) and "café" composed: words come out NFC.
    "nfd.vec": "2 2\nEspan\u0303a 1 2\ncafé 3 4\n",
}
# Valid files the fast path leaves to the reference parser: the same table either way.
VALID_FALLBACK = {
    "ragged_trailing.vec": "2 2\na 1 2 \nb 3 4\n",
    "double_space.vec": "2 2\na 1  2\nb 3 4\n",
}
# Malformed files: the reference parser's error, on line 3.
MALFORMED = {
    "short_row.vec": "2 3\na 1 2 3\nb 1 2\n",
    "non_numeric.vec": "2 2\na 1 2\nb 1 x2\n",
    "infinite.vec": "2 2\na 1 2\nb inf 2\n",
    "nan.vec": "2 2\na 1 2\nb nan 2\n",
    # The header's row count is checked: a truncated download, or rows it does not count.
    "header_says_fewer.vec": "1 2\na 1 2\nb 3 4\n",
    "no_word.vec": "2 2\na 1 2\n 3 4\n",
    "control_character.vec": "2 2\na 1 2\nb\x1b 3 4\n",
    # pyarrow ends a row at a lone carriage return; the text policy rejects the file.
    "lone_cr.vec": "2 2\na 1 2\nb\r 3 4\n",
    "cr_between_rows.vec": "3 2\na 1 2\nb 3 4\rc 5 6\n",
}


def expected(text, max_words=None):
    """The table of `text` read plainly: values as float64 rounded to float32, first row of a
    repeated word kept."""
    lines = [line for line in text.lstrip("\ufeff").replace("\r\n", "\n").split("\n") if line.strip()]
    fields = lines[0].split()
    if len(fields) == 2 and all(field.isdigit() for field in fields):
        lines = lines[1:]
    words, rows = [], []
    for line in lines[:max_words]:
        word, *values = line.split()
        word = unicodedata.normalize("NFC", word)
        if word not in words:
            words.append(word)
            rows.append(np.array(values, dtype=np.float64).astype(np.float32))
    return words, np.stack(rows)


class TestArrowFastPath(AllenNlpTestCase):
    def write(self, name, text, encoding="utf-8"):
        path = self.TEST_DIR / name
        path.write_bytes(text.encode(encoding))
        return str(path)

    def load(self, monkeypatch, path, **kwargs):
        """`load_word_vectors` without any cache; the calls each parser made."""
        calls = {"arrow": 0, "numpy": 0}
        open_csv, fromstring = csv.open_csv, np.fromstring

        def counting_open_csv(*args, **kw):
            calls["arrow"] += 1
            return open_csv(*args, **kw)

        def counting_fromstring(*args, **kw):
            calls["numpy"] += 1
            return fromstring(*args, **kw)

        monkeypatch.setattr(csv, "open_csv", counting_open_csv)
        monkeypatch.setattr(np, "fromstring", counting_fromstring)
        word_vectors.clear_memory()
        try:
            return word_vectors.load_word_vectors(path, use_cache=False, **kwargs), calls
        finally:
            monkeypatch.undo()

    def assert_table(self, table, words, matrix):
        assert table.words == words
        assert table.matrix.dtype == np.float32
        np.testing.assert_array_equal(table.matrix, matrix)

    @pytest.mark.parametrize("name", sorted(SAME))
    def test_well_formed_files_take_the_fast_path(self, name, monkeypatch):
        path = self.write(name, SAME[name])
        for max_words in (None, 1, 2):
            table, calls = self.load(monkeypatch, path, max_words=max_words)
            assert calls == {"arrow": 1, "numpy": 0}, "the pyarrow reader alone should have read it"
            self.assert_table(table, *expected(SAME[name], max_words))

    @pytest.mark.parametrize("name", sorted(VALID_FALLBACK))
    def test_irregular_valid_files_give_the_same_table(self, name, monkeypatch):
        path = self.write(name, VALID_FALLBACK[name])
        table, calls = self.load(monkeypatch, path)
        assert calls["numpy"] > 0
        self.assert_table(table, *expected(VALID_FALLBACK[name]))

    @pytest.mark.parametrize("name", sorted(MALFORMED))
    def test_malformed_files_get_the_reference_parsers_error(self, name, monkeypatch):
        path = self.write(name, MALFORMED[name])
        with pytest.raises(InputFormatError, match=rf"{name}:3: "):
            self.load(monkeypatch, path)

    def test_header_promising_more_rows(self, monkeypatch):
        path = self.write("cut.vec", "5 2\na 1 2\nb 3 4\n")
        with pytest.raises(InputFormatError, match=r"cut\.vec:1: the header promises 5 vectors, .* only 2"):
            self.load(monkeypatch, path)
        # Only the first rows are read: the rest is not checked.
        table, calls = self.load(monkeypatch, path, max_words=2)
        assert calls == {"arrow": 1, "numpy": 0}
        self.assert_table(table, *expected("a 1 2\nb 3 4\n"))

    def test_lone_carriage_return_far_into_the_file(self, monkeypatch):
        lines = [f"w{i} {i} 1\n" for i in range(30)]
        lines[20] = "w20\r 20 1\n"
        path = self.write("cr.vec", "30 2\n" + "".join(lines))
        with pytest.raises(InputFormatError, match=r"cr\.vec:22: carriage return"):
            self.load(monkeypatch, path)

    def test_gzip_and_latin1(self, monkeypatch):
        path = self.TEST_DIR / "v.vec.gz"
        with gzip.open(path, "wb") as handle:
            handle.write("2 2\nespaña 1 2\nniño 3 4\n".encode("latin-1"))
        table, calls = self.load(monkeypatch, str(path), encoding="latin-1")
        assert calls == {"arrow": 1, "numpy": 0}
        self.assert_table(table, *expected("2 2\nespaña 1 2\nniño 3 4\n"))
        # Words that do not decode: the reference parser reports them with their line.
        with pytest.raises(InputFormatError, match=r"v\.vec\.gz:2: .*utf-8"):
            self.load(monkeypatch, str(path))

    def test_random_table_is_bit_identical_and_cache_too(self, monkeypatch):
        rng = np.random.default_rng(7)
        values = rng.normal(0, 0.3, size=(3000, 17)) * 10.0 ** rng.integers(-7, 4, size=(3000, 17))
        formats = ["%.4f", "%.6g", "%.9e", "%.8f"]
        lines = [
            f"w{i} " + " ".join(formats[(i + j) % 4] % v for j, v in enumerate(row))
            for i, row in enumerate(values)
        ]
        text = f"{len(lines)} 17\n" + "\n".join(lines) + "\n"
        path = self.write("random.vec", text)
        fast, calls = self.load(monkeypatch, path)
        assert calls == {"arrow": 1, "numpy": 0}
        self.assert_table(fast, *expected(text))
        word_vectors.clear_memory()
        parsed = word_vectors.load_word_vectors(path)
        word_vectors.clear_memory()
        cached = word_vectors.load_word_vectors(path)
        np.testing.assert_array_equal(parsed.matrix, cached.matrix)
        np.testing.assert_array_equal(parsed.matrix, fast.matrix)
