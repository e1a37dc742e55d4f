import random

import pytest
from allennlp.common import Params
from allennlp.common.checks import ConfigurationError
from allennlp.common.testing import AllenNlpTestCase
from allennlp.data import DatasetReader

from xner_allennlp.common.errors import InputFormatError
from xner_allennlp.dataset_readers.normalization import normalize_word
from xner_allennlp.dataset_readers.xner_conll import (
    XnerConllReader,
    entity_units,
    shuffle_keeping_entities,
)
from xner_allennlp.romanization.romanizer import Romanizer
from tests.conftest import FIXTURES


def tags_of(instances):
    return [list(i["tags"].labels) for i in instances]


def texts_of(instance):
    return [t.text for t in instance["tokens"].tokens]


class UpperRomanizer(Romanizer):
    def romanize(self, word):
        return word.upper()


class TestXnerConllReader(AllenNlpTestCase):
    def write(self, text, encoding="utf-8", name="data.txt"):
        path = self.TEST_DIR / name
        path.write_bytes(text.encode(encoding))
        return str(path)

    # ---------------------------------------------------------------- layouts

    def test_english_four_columns_iob1(self):
        path = self.write(
            "-DOCSTART- -X- O O\n\nEU NNP I-NP I-ORG\nrejects VBZ I-VP O\nGerman JJ I-NP I-MISC\n"
            "call NN I-NP O\n\nPeter NNP I-NP I-PER\nBlackburn NNP I-NP I-PER\nSmith NNP I-NP B-PER\n"
        )
        instances = list(XnerConllReader().read(path))
        assert len(instances) == 2
        assert tags_of(instances) == [
            ["U-ORG", "O", "U-MISC", "O"],
            ["B-PER", "L-PER", "U-PER"],
        ]
        assert instances[0]["metadata"]["words"] == ["EU", "rejects", "German", "call"]
        assert texts_of(instances[0]) == ["eu", "rejects", "german", "call"]

    def test_spanish_two_columns_latin1_iob2(self):
        path = self.write("La O\nAudiencia B-ORG\nNacional I-ORG\nde O\nEspaña B-LOC\n", "latin-1")
        instance = list(XnerConllReader(encoding="latin-1").read(path))[0]
        assert instance["metadata"]["words"][-1] == "España"
        assert list(instance["tags"].labels) == ["O", "B-ORG", "L-ORG", "O", "U-LOC"]

    def test_dutch_three_columns_with_docstart(self):
        path = self.write(
            "-DOCSTART- -DOCSTART- O\nDe Art O\nBelgische Adj B-MISC\nkoning N O\n\n"
            "-DOCSTART- -DOCSTART- O\nBrussel N B-LOC\n",
            "latin-1",
        )
        instances = list(XnerConllReader(encoding="latin-1").read(path))
        assert tags_of(instances) == [["O", "U-MISC", "O"], ["U-LOC"]]

    def test_german_five_columns(self):
        path = self.write(
            "-DOCSTART- -X- -X- -X- O\n\ndie die ART I-NC O\ngrünen grün ADJA I-NC I-ORG\n",
            "latin-1",
        )
        instance = list(XnerConllReader(encoding="latin-1").read(path))[0]
        assert instance["metadata"]["words"] == ["die", "grünen"]
        assert list(instance["tags"].labels) == ["O", "U-ORG"]

    def test_fixture_files_of_every_layout(self):
        for name, encoding in [
            ("en.train", "utf-8"),
            ("es.test", "latin-1"),
            ("nl.test", "latin-1"),
            ("de.test", "latin-1"),
            ("bn.test", "utf-8"),
        ]:
            instances = list(XnerConllReader(encoding=encoding).read(str(FIXTURES / "conll" / name)))
            assert len(instances) > 10, name
            assert any(t != "O" for tags in tags_of(instances) for t in tags), name

    def test_bioes_input_and_bom(self):
        path = self.write("\ufeffa S-PER\nb B-LOC\nc E-LOC\nd O\n")
        instance = list(XnerConllReader().read(path))[0]
        assert instance["metadata"]["words"][0] == "a"
        assert list(instance["tags"].labels) == ["U-PER", "B-LOC", "L-LOC", "O"]

    # ---------------------------------------------------------------- options

    def test_normalisation_switches(self):
        words = ["Madrid", "1.500", "12/03/1998", "http://x.com/a", "www.efe.es", "3rd", "Año"]
        assert [normalize_word(w) for w in words] == ["madrid", "num", "num", "url", "url", "num", "año"]
        assert normalize_word("Madrid", lowercase=False) == "Madrid"
        assert normalize_word("1.500", replace_numbers=False) == "1.500"
        assert normalize_word("http://x.com", replace_urls=False) == "http://x.com"
        reader = XnerConllReader(lowercase=False, replace_numbers=False)
        assert texts_of(reader.text_to_instance(["Madrid", "1990"])) == ["Madrid", "1990"]

    def test_characters_read_the_romanized_surface_word(self):
        reader = XnerConllReader(romanizer=UpperRomanizer())
        tokens = reader.text_to_instance(["Grünen", "1990"])["tokens"].tokens
        assert [t.text for t in tokens] == ["grünen", "num"]
        assert [t.romanized for t in tokens] == ["GRÜNEN", "1990"]

    def test_empty_romanization_falls_back_to_the_word(self):
        class Empty(Romanizer):
            def romanize(self, word):
                return ""

        tokens = XnerConllReader(romanizer=Empty()).text_to_instance(["\u200b"])["tokens"].tokens
        assert tokens[0].romanized == "\u200b"

    def test_drop_tag_types(self):
        path = self.write("x B-MISC\ny I-MISC\nz B-PER\n")
        reader = XnerConllReader(drop_tag_types=["MISC"])
        assert tags_of(reader.read(path)) == [["O", "O", "U-PER"]]

    def test_tag_map_and_empty_tag(self):
        path = self.write("\ufeffক B-PER\nখ TIM\nগ\t\n")
        reader = XnerConllReader(tag_map={"TIM": "O"}, empty_tag="O")
        assert tags_of(reader.read(path)) == [["U-PER", "O", "O"]]

    def test_from_params(self):
        reader = DatasetReader.from_params(
            Params({"type": "xner_conll", "encoding": "latin-1", "romanizer": {"type": "uroman"}})
        )
        assert isinstance(reader, XnerConllReader)

    def test_unknown_translation_mode(self):
        with pytest.raises(ConfigurationError, match="replace, append"):
            XnerConllReader(translation_mode="both")

    # ---------------------------------------------------------------- bad input

    def test_one_column_line(self):
        path = self.write("a O\nb\n")
        with pytest.raises(InputFormatError, match=r"data\.txt:2: token 'b' has no tag column.*empty_tag"):
            list(XnerConllReader().read(path))

    def test_bad_tag(self):
        path = self.write("a O\n\nb TIM\n")
        with pytest.raises(InputFormatError, match=r"data\.txt:3: tag 'TIM' is not O or B-/I-/E-/L-/S-/U-TYPE.*tag_map"):
            list(XnerConllReader().read(path))
        path = self.write("a X-PER\n", name="x.txt")
        with pytest.raises(InputFormatError, match=r"x\.txt:1: tag 'X-PER'"):
            list(XnerConllReader().read(path))

    def test_bytes_not_in_encoding(self):
        path = self.write("a O\nEspaña B-LOC\n", "latin-1")
        with pytest.raises(InputFormatError, match=r"data\.txt:2: bytes that are not valid utf-8"):
            list(XnerConllReader().read(path))

    def test_missing_file_is_named(self):
        with pytest.raises(FileNotFoundError, match="no/such/file.conll"):
            list(XnerConllReader().read("no/such/file.conll"))

    # ---------------------------------------------------------------- shuffle

    def test_shuffle_keeps_words_and_entities(self):
        words = ["The", "New", "York", "Times", "said", "John", "Smith", "left", "Paris", "."]
        tags = ["O", "B-ORG", "I-ORG", "L-ORG", "O", "B-PER", "L-PER", "O", "U-LOC", "O"]
        seen = set()
        for seed in range(20):
            shuffled, shuffled_tags = shuffle_keeping_entities(words, tags, random.Random(seed))
            assert sorted(zip(shuffled, shuffled_tags)) == sorted(zip(words, tags))
            text = " ".join(shuffled)
            assert "New York Times" in text and "John Smith" in text
            assert [shuffled[s:e] for s, e in entity_units(shuffled_tags) if e - s > 1] != []
            seen.add(text)
        assert len(seen) > 1

    def test_shuffle_option_is_seeded(self):
        path = self.write("".join(f"w{i} O\n" for i in range(12)) + "A B-PER\nB L-PER\n")
        first = list(XnerConllReader(shuffle_words=True).read(path))[0]
        again = list(XnerConllReader(shuffle_words=True).read(path))[0]
        words = first["metadata"]["words"]
        assert words == again["metadata"]["words"]
        assert words != [f"w{i}" for i in range(12)] + ["A", "B"]
        assert words[words.index("A") + 1] == "B"
