import gzip

import numpy as np
import pytest
from allennlp.common.testing import AllenNlpTestCase

from xner_allennlp.common import word_vectors
from xner_allennlp.common.errors import InputFormatError

pytest.importorskip("pyarrow")

# The pyarrow reader must give exactly what the numpy reader gives, or step aside (None) so
# that the numpy reader parses the file and reports its errors.
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
}
FALLBACK = {
    "ragged_trailing.vec": "2 2\na 1 2 \nb 3 4\n",
    "double_space.vec": "2 2\na 1  2\nb 3 4\n",
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


class TestArrowFastPath(AllenNlpTestCase):
    def write(self, name, text, encoding="utf-8"):
        path = self.TEST_DIR / name
        path.write_bytes(text.encode(encoding))
        return str(path)

    def assert_same(self, fast, reference):
        assert fast is not None, "the pyarrow reader should have been used"
        assert fast.words == reference.words
        assert fast.matrix.dtype == np.float32
        np.testing.assert_array_equal(fast.matrix, reference.matrix)

    @pytest.mark.parametrize("name", sorted(SAME))
    def test_same_as_numpy_reader(self, name):
        path = self.write(name, SAME[name])
        for max_words in (None, 1, 2):
            self.assert_same(
                word_vectors._parse_with_arrow(path, "utf-8", max_words),
                word_vectors._parse_with_numpy(path, "utf-8", max_words),
            )

    @pytest.mark.parametrize("name", sorted(FALLBACK))
    def test_malformed_files_fall_back_to_numpy_reader(self, name):
        path = self.write(name, FALLBACK[name])
        assert word_vectors._parse_with_arrow(path, "utf-8", None) is None
        if name != "ragged_trailing.vec" and name != "double_space.vec":
            with pytest.raises(InputFormatError, match=rf"{name}:3: "):
                word_vectors._parse_file(path, "utf-8", None)

    def test_header_promising_more_rows_falls_back_and_is_an_error(self):
        path = self.write("cut.vec", "5 2\na 1 2\nb 3 4\n")
        assert word_vectors._parse_with_arrow(path, "utf-8", None) is None
        assert word_vectors._parse_with_arrow(path, "utf-8", 3) is None
        self.assert_same(
            word_vectors._parse_with_arrow(path, "utf-8", 2),
            word_vectors._parse_with_numpy(path, "utf-8", 2),
        )
        with pytest.raises(InputFormatError, match=r"cut\.vec:1: the header promises 5 vectors, .* only 2"):
            word_vectors._parse_file(path, "utf-8", None)

    def test_words_are_nfc_on_both_paths(self):
        # "España" decomposed (n + U+0303) and "café" composed: the same strings either way.
        path = self.write("nfd.vec", "2 2\nEspan\u0303a 1 2\ncafé 3 4\n")
        fast = word_vectors._parse_with_arrow(path, "utf-8", None)
        self.assert_same(fast, word_vectors._parse_with_numpy(path, "utf-8", None))
        assert fast.words == ["Espa\u00f1a", "café"]

    @pytest.mark.parametrize("parts", [1, 3])
    def test_lone_carriage_return_in_ranges(self, parts):
        lines = [f"w{i} {i} 1\n" for i in range(30)]
        lines[20] = "w20\r 20 1\n"
        path = self.write("cr.vec", "30 2\n" + "".join(lines))
        assert word_vectors._parse_with_arrow(path, "utf-8", None, parts=parts) is None
        with pytest.raises(InputFormatError, match=r"cr\.vec:22: carriage return"):
            word_vectors._parse_file(path, "utf-8", None)

    def test_gzip_and_latin1(self):
        path = self.TEST_DIR / "v.vec.gz"
        with gzip.open(path, "wb") as handle:
            handle.write("2 2\nespaña 1 2\nniño 3 4\n".encode("latin-1"))
        self.assert_same(
            word_vectors._parse_with_arrow(str(path), "latin-1", None),
            word_vectors._parse_with_numpy(str(path), "latin-1", None),
        )
        # Words that do not decode: the numpy reader reports them with their line.
        assert word_vectors._parse_with_arrow(str(path), "utf-8", None) is None
        with pytest.raises(InputFormatError, match=r"v\.vec\.gz:2: .*utf-8"):
            word_vectors._parse_file(str(path), "utf-8", None)

    def test_random_table_is_bit_identical_and_cache_too(self):
        rng = np.random.default_rng(7)
        values = rng.normal(0, 0.3, size=(3000, 17)) * 10.0 ** rng.integers(-7, 4, size=(3000, 17))
        formats = ["%.4f", "%.6g", "%.9e", "%.8f"]
        lines = [
            f"w{i} " + " ".join(formats[(i + j) % 4] % v for j, v in enumerate(row))
            for i, row in enumerate(values)
        ]
        path = self.write("random.vec", f"{len(lines)} 17\n" + "\n".join(lines) + "\n")
        fast = word_vectors._parse_with_arrow(path, "utf-8", None)
        self.assert_same(fast, word_vectors._parse_with_numpy(path, "utf-8", None))
        word_vectors._memory.clear()
        parsed = word_vectors.load_word_vectors(path)
        word_vectors._memory.clear()
        cached = word_vectors.load_word_vectors(path)
        np.testing.assert_array_equal(parsed.matrix, cached.matrix)
        np.testing.assert_array_equal(parsed.matrix, fast.matrix)

    @pytest.mark.parametrize("parts", [2, 3, 7])
    @pytest.mark.parametrize("style", ["header", "glove", "trailing", "bom", "blank_lines"])
    def test_parallel_ranges_give_the_same_table(self, parts, style):
        rng = np.random.default_rng(parts)
        values = rng.normal(0, 1, size=(200, 5))
        end = " \n" if style == "trailing" else "\n"
        lines = [f"w{i} " + " ".join(f"{v:.6f}" for v in row) + end for i, row in enumerate(values)]
        if style == "blank_lines":
            lines = [line + ("\n" if i % 17 == 0 else "") for i, line in enumerate(lines)]
        text = "".join(lines)
        if style != "glove":
            text = "200 5\n" + text
        if style == "bom":
            text = "\ufeff" + text
        path = self.write(f"{style}.vec", text)
        self.assert_same(
            word_vectors._parse_with_arrow(path, "utf-8", None, parts=parts),
            word_vectors._parse_with_numpy(path, "utf-8", None),
        )
