import gzip
import logging
import re
import time
from collections import Counter

import pytest
from allennlp.common import Params
from allennlp.common.checks import ConfigurationError
from allennlp.common.testing import AllenNlpTestCase
from allennlp.data import DatasetReader, Token, Vocabulary
from allennlp.data.dataset_readers.dataset_reader import WorkerInfo

from tests.conftest import FIXTURES
from xner_allennlp.common.errors import InputFormatError
from xner_allennlp.common.normalization import normalize_word
from xner_allennlp.data.romanized_token import RomanizedToken
from xner_allennlp.data.token_indexers import RomanizedCharactersIndexer
from xner_allennlp.dataset_readers.xner_conll import XnerConllReader
from xner_allennlp.romanization.romanizer import Romanizer


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

    def test_characters_per_token_are_capped(self):
        indexer = RomanizedCharactersIndexer()
        vocab = Vocabulary()
        vocab.add_tokens_to_namespace(list("abcxyzMadrid"), "token_characters")
        long_word = "a" * 50_000 + "b" * 50_000
        start = time.perf_counter()
        indexed = indexer.tokens_to_indices(
            [RomanizedToken("madrid", "Madrid"), RomanizedToken("x", long_word), Token("xyz")], vocab
        )["token_characters"]
        assert time.perf_counter() - start < 0.5
        index = vocab.get_token_to_index_vocabulary("token_characters")
        assert indexed[0] == [index[c] for c in "Madrid"]
        assert indexed[1] == [index["a"]] * 25 + [index["b"]] * 25
        assert indexed[2] == [index[c] for c in "xyz"]
        uncapped = RomanizedCharactersIndexer(max_characters_per_token=None)
        assert len(uncapped.tokens_to_indices([Token(long_word)], vocab)["token_characters"][0]) == 100_000
        counts = {"token_characters": Counter()}
        indexer.count_vocab_items(Token("a" * 100 + "z"), counts)
        assert counts["token_characters"] == {"a": 49, "z": 1}
        with pytest.raises(ConfigurationError, match="max_characters_per_token"):
            RomanizedCharactersIndexer(max_characters_per_token=0)

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

    # ---------------------------------------------------------------- bad input

    def test_one_column_line(self):
        path = self.write("a O\nb\n")
        with pytest.raises(InputFormatError, match=r"data\.txt:2: token 'b' has no tag column.*empty_tag"):
            list(XnerConllReader().read(path))

    def test_bad_tag(self):
        path = self.write("a O\n\nb TIM\n")
        with pytest.raises(
            InputFormatError, match=r"data\.txt:3: tag 'TIM' is not O or B-/I-/E-/L-/S-/U-TYPE.*tag_map"
        ):
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

    def test_cr_only_line_endings_are_an_error(self):
        # Read as one line, the whole file used to be one token tagged with its last tag.
        path = self.write("Madrid B-LOC\rvisita O\r")
        with pytest.raises(InputFormatError, match=r"data\.txt:1: carriage return inside a line.*CR-only"):
            list(XnerConllReader().read(path))

    def test_crlf_file_reads_like_lf_file(self):
        text = "\ufeff-DOCSTART- O\n\nMadrid B-LOC\nvisita\tO\n\nInés B-PER\nGutiérrez I-PER\n"
        lf = list(XnerConllReader().read(self.write(text, name="lf.txt")))
        crlf = list(XnerConllReader().read(self.write(text.replace("\n", "\r\n"), name="crlf.txt")))
        assert [i["metadata"]["words"] for i in crlf] == [i["metadata"]["words"] for i in lf]
        assert tags_of(crlf) == tags_of(lf) == [["U-LOC", "O"], ["B-PER", "L-PER"]]

    def test_no_break_space_stays_inside_the_token(self):
        path = self.write("Logroño\u00a0Capital B-LOC\nvisita O\n")
        instance = list(XnerConllReader().read(path))[0]
        assert instance["metadata"]["words"] == ["Logroño\u00a0Capital", "visita"]
        assert list(instance["tags"].labels) == ["U-LOC", "O"]

    def test_nfd_words_come_out_nfc(self):
        path = self.write("Logron\u0303o B-LOC\n")
        instance = list(XnerConllReader().read(path))[0]
        # The NFC word is the one the vectors and the vocabulary have.
        assert instance["metadata"]["words"] == ["Logro\u00f1o"]
        assert texts_of(instance) == ["logro\u00f1o"]

    def test_control_characters_are_an_error(self):
        for name, text, code in [
            ("nul.txt", "a O\nMa\x00drid B-LOC\n", "U+0000"),
            ("esc.txt", "a O\nMa\x1bdrid B-LOC\n", "U+001B"),
        ]:
            with pytest.raises(InputFormatError, match=re.escape(f"{name}:2: control character {code}")):
                list(XnerConllReader().read(self.write(text, name=name)))

    def test_utf8_read_as_latin1_warns(self, caplog):
        path = self.write("Logroño B-LOC\nvisita O\n", name="utf8.txt")
        with caplog.at_level(logging.WARNING):
            instance = list(XnerConllReader(encoding="latin-1").read(path))[0]
        assert instance["metadata"]["words"][0] == "LogroÃ±o"
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1
        assert "utf8.txt:1:" in warnings[0] and "set the encoding to utf-8" in warnings[0]

    def test_clean_latin1_file_does_not_warn(self, caplog):
        path = self.write("Logroño B-LOC\nEspaña B-LOC\n", "latin-1")
        with caplog.at_level(logging.WARNING):
            instance = list(XnerConllReader(encoding="latin-1").read(path))[0]
        assert instance["metadata"]["words"] == ["Logroño", "España"]
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]

    def test_file_without_sentences_is_an_error(self):
        docs = "-DOCSTART- -X- O O\n\n\n-DOCSTART- -X- O O\n \n"
        for name, text in [("empty.txt", ""), ("docs.txt", docs)]:
            path = self.write(text, name=name)
            with pytest.raises(InputFormatError, match=re.escape(f"{name}: no sentences")):
                list(XnerConllReader().read(path))
            source = {"path": path, "reader": {"type": "xner_conll"}}
            multi = DatasetReader.from_params(Params({"type": "multi_source", "sources": {"x": source}}))
            with pytest.raises(InputFormatError, match="no sentences"):
                list(multi.read("x"))

    def test_a_shard_without_sentences_is_not_an_error(self):
        # The file has one sentence: the second data-loader worker's share is empty, and that
        # is no error of the file.
        path = self.write("Madrid B-LOC\n")
        reader = XnerConllReader()
        reader.check_worker_share = False
        reader._set_worker_info(WorkerInfo(2, 1))
        assert list(reader.read(path)) == []
        reader._set_worker_info(WorkerInfo(2, 0))
        assert len(list(reader.read(path))) == 1

    def test_bioes_sentence_that_does_not_parse(self):
        for text, line, tag, expected in [
            # IOB2 entity (B- I-) next to a BIOES one: the I- is not closed by E-.
            ("a B-PER\nb I-PER\nc O\nd S-LOC\n", 3, "O", "I-PER or E-PER/L-PER after 'I-PER'"),
            # IOB1 starts an entity with I-, BIOES never does.
            ("a S-PER\nb O\nc I-LOC\n", 3, "I-LOC", "O, B- or S-/U- after 'O'"),
            ("a B-PER\nb E-PER\nc I-LOC\nd E-LOC\n", 3, "I-LOC", "O, B- or S-/U- after 'E-PER'"),
            ("a E-PER\n", 1, "E-PER", "at the start of a sentence"),
            ("a B-PER\nb E-LOC\n", 2, "E-LOC", "I-PER or E-PER/L-PER"),
            ("a O\n\nx O\ny S-PER\nz B-LOC\n", 5, "B-LOC", "closed with E-LOC/L-LOC"),
        ]:
            path = self.write(text)
            with pytest.raises(InputFormatError) as error:
                list(XnerConllReader().read(path))
            message = str(error.value)
            assert message.startswith(f"{path}:{line}: tag {tag!r}"), message
            assert expected in message and "mix IOB and BIOES" in message, message

    def test_valid_bioes_and_bioul_sentences(self):
        path = self.write("a B-PER\nb I-PER\nc E-PER\nd O\ne S-LOC\n\nf U-ORG\ng B-MISC\nh L-MISC\n")
        assert tags_of(XnerConllReader().read(path)) == [
            ["B-PER", "I-PER", "L-PER", "O", "U-LOC"],
            ["U-ORG", "B-MISC", "L-MISC"],
        ]

    def test_tag_the_model_does_not_know_names_its_line(self):
        vocab = Vocabulary()
        vocab.add_tokens_to_namespace(["O", "U-PER", "B-PER", "L-PER", "U-LOC"], "labels")
        path = self.write("Ana B-PER\nvisita O\n\nla O\nFeria B-EVENT\nde I-EVENT\nAbril I-EVENT\n")
        instances = list(XnerConllReader().read(path))
        instances[0].index_fields(vocab)
        with pytest.raises(InputFormatError) as error:
            instances[1].index_fields(vocab)
        message = str(error.value)
        assert message.startswith(f"{path}:5: tag 'B-EVENT' (entity type EVENT")
        assert "it knows B-PER, L-PER, O, U-LOC, U-PER" in message and "tag_map" in message
        # Shuffled words keep their lines.
        shuffled = list(XnerConllReader(shuffle_words=True).read(path))[1]
        with pytest.raises(InputFormatError, match=r"data\.txt:5: tag 'B-EVENT'"):
            shuffled.index_fields(vocab)

    def test_gzip_files_are_read(self):
        text = "Madrid B-LOC\nvisita O\n\nInés B-PER\n"
        path = self.TEST_DIR / "data.txt.gz"
        path.write_bytes(gzip.compress(text.encode("utf-8")))
        assert tags_of(XnerConllReader().read(str(path))) == [["U-LOC", "O"], ["U-PER"]]

    def test_truncated_gzip_is_an_error(self):
        path = self.TEST_DIR / "data.txt.gz"
        path.write_bytes(gzip.compress(("Madrid B-LOC\nvisita O\n\n" * 2000).encode("utf-8"))[:-40])
        with pytest.raises(InputFormatError, match=r"data\.txt\.gz: the compressed file is truncated"):
            list(XnerConllReader().read(str(path)))
        path.write_bytes(b"Madrid B-LOC\n")  # not gzip at all
        with pytest.raises(InputFormatError, match=r"data\.txt\.gz: the compressed file is truncated"):
            list(XnerConllReader().read(str(path)))

    def test_directory_is_an_error(self):
        message = f"{self.TEST_DIR}: is a directory; expected a data file"
        with pytest.raises(InputFormatError, match=re.escape(message)):
            list(XnerConllReader().read(str(self.TEST_DIR)))

    # ---------------------------------------------------------------- shuffle

    # test_shuffle_keeps_words_and_entities (shuffle_keeping_entities itself, and the shuffle
    # ablation's reader on the fixtures): tests/end_to_end/test_ablations.py.

    def test_shuffle_option_is_seeded(self):
        path = self.write("".join(f"w{i} O\n" for i in range(12)) + "A B-PER\nB L-PER\n")
        first = list(XnerConllReader(shuffle_words=True).read(path))[0]
        again = list(XnerConllReader(shuffle_words=True).read(path))[0]
        words = first["metadata"]["words"]
        assert words == again["metadata"]["words"]
        assert words != [f"w{i}" for i in range(12)] + ["A", "B"]
        assert words[words.index("A") + 1] == "B"


class _DictionaryTranslator:
    """A word-for-word English -> German lookup; other words stay as they are."""

    words = {
        "the": "die",
        "government": "regierung",
        "met": "traf",
        "in": "in",
        "berlin": "berlin",
        "ministers": "minister",
        "german": "deutsche",
    }

    def translate(self, words):
        return [self.words.get(w, w) for w in words]


def test_capitalize_nouns_capitalises_translated_common_nouns(tmp_path):
    path = tmp_path / "en.conll"
    path.write_text(
        "-DOCSTART- -X- -X- O\n\n"
        "The DT B-NP O\ngovernment NN I-NP O\nministers NNS I-NP O\nmet VBD B-VP O\n"
        "in IN B-PP O\nBerlin NNP B-NP B-LOC\n",
        encoding="utf-8",
    )
    plain = XnerConllReader(translator=_DictionaryTranslator())
    nouns = XnerConllReader(translator=_DictionaryTranslator(), capitalize_nouns=True)
    (before,) = plain.read(str(path))
    (after,) = nouns.read(str(path))
    assert before["metadata"]["words"] == ["Die", "regierung", "minister", "traf", "in", "Berlin"]
    # Common nouns (NN, NNS) capitalised as German nouns are; the rest, and the tags, unchanged.
    assert after["metadata"]["words"] == ["Die", "Regierung", "Minister", "traf", "in", "Berlin"]
    assert [t.romanized for t in after["tokens"].tokens][1] == "Regierung"
    assert texts_of(after) == texts_of(before)  # the word vectors' (normalised) words
    assert tags_of([after]) == tags_of([before])


def test_capitalize_nouns_needs_pos(tmp_path):
    path = tmp_path / "two.conll"
    path.write_text("regierung O\ntraf O\n", encoding="utf-8")
    with pytest.raises(InputFormatError, match=r"two.conll:1: capitalize_nouns needs a POS column"):
        list(XnerConllReader(translator=_DictionaryTranslator(), capitalize_nouns=True).read(str(path)))
    with pytest.raises(ConfigurationError, match="noun_tags must be a non-empty list of POS tags"):
        XnerConllReader(capitalize_nouns=True, noun_tags=[])


def test_capitalize_nouns_of_an_untranslated_source(tmp_path):
    # A Dutch source of a German model: its own nouns (CoNLL-2002 tag N) capitalised.
    path = tmp_path / "nl.conll"
    path.write_text(
        "De Art O\nregering N O\nvan Prep O\nBelgi\u00eb N B-LOC\nvergadert V O\n", encoding="utf-8"
    )
    (plain,) = XnerConllReader().read(str(path))
    (nouns,) = XnerConllReader(capitalize_nouns=True, noun_tags=["N"]).read(str(path))
    assert nouns["metadata"]["words"] == ["De", "Regering", "van", "Belgi\u00eb", "vergadert"]
    assert [t.romanized for t in nouns["tokens"].tokens][1] == "Regering"
    assert texts_of(nouns) == texts_of(plain) and tags_of([nouns]) == tags_of([plain])
    (english,) = XnerConllReader(capitalize_nouns=True).read(str(path))  # NN/NNS: none here
    assert english["metadata"]["words"] == plain["metadata"]["words"]


def test_lowercase_characters(tmp_path):
    path = tmp_path / "de.conll"
    path.write_text("Die O\nRegierung O\nBERLIN B-LOC\n", encoding="utf-8")
    (instance,) = XnerConllReader(lowercase_characters=True).read(str(path))
    assert [t.romanized for t in instance["tokens"].tokens] == ["die", "regierung", "berlin"]
    # The surface words (metadata, predictions) keep their case.
    assert instance["metadata"]["words"] == ["Die", "Regierung", "BERLIN"]


def test_collapse_repeated_characters(tmp_path):
    path = tmp_path / "en.conll"
    path.write_text("Mohammad B-PER\nAllen I-PER\n2000 O\nbook O\n", encoding="utf-8")
    (instance,) = XnerConllReader(collapse_repeated_characters=True, lowercase_characters=True).read(
        str(path)
    )
    # Letters only, after lower-casing ("Aa" is a run); digits keep their count.
    assert [t.romanized for t in instance["tokens"].tokens] == ["mohamad", "alen", "2000", "bok"]
    assert [t.text for t in instance["tokens"].tokens] == ["mohammad", "allen", "num", "book"]
    assert instance["metadata"]["words"] == ["Mohammad", "Allen", "2000", "book"]
    (plain,) = XnerConllReader().read(str(path))
    assert [t.romanized for t in plain["tokens"].tokens] == ["Mohammad", "Allen", "2000", "book"]


def test_collapse_repeated_characters_after_uroman():
    from xner_allennlp.romanization import UromanRomanizer

    reader = XnerConllReader(romanizer=UromanRomanizer(), collapse_repeated_characters=True)
    plain = XnerConllReader(romanizer=UromanRomanizer())
    words = ["বাংলাদেশ", "ঢাকা"]
    assert [t.romanized for t in plain.text_to_instance(words)["tokens"].tokens] == [
        "baanglaadesha",
        "ddhaakaa",
    ]
    assert [t.romanized for t in reader.text_to_instance(words)["tokens"].tokens] == ["bangladesha", "dhaka"]


def test_a_huge_non_ascii_word_is_romanized_by_its_ends():
    from xner_allennlp.romanization import UromanRomanizer

    reader = XnerConllReader(romanizer=UromanRomanizer())
    word = "কলকাতা" * 20_000  # 120,000 Bengali characters: about 25 s for uroman whole
    start = time.perf_counter()
    instance = reader.text_to_instance(["ঢাকা", word])
    assert time.perf_counter() - start < 10
    short, huge = instance["tokens"].tokens
    assert short.romanized == UromanRomanizer().romanize("ঢাকা")
    assert huge.surface == word and huge.text == normalize_word(word)  # the word itself is kept
    assert huge.romanized.startswith(UromanRomanizer().romanize("কলকাতা"))  # its ends, romanized
    assert len(huge.romanized) < 5_000


def test_lowercase_adjectives_of_translated_sentences(tmp_path):
    # German writes adjectives of nationality in lower case ("deutsche", CoNLL MISC).
    path = tmp_path / "en.conll"
    path.write_text(
        "German JJ B-NP B-MISC\ngovernment NN I-NP O\nmet VBD B-VP O\nin IN B-PP O\nBerlin NNP B-NP B-LOC\n",
        encoding="utf-8",
    )
    reader = XnerConllReader(
        translator=_DictionaryTranslator(), capitalize_nouns=True, lowercase_adjectives=True
    )
    (instance,) = reader.read(str(path))
    words = instance["metadata"]["words"]
    assert words == ["deutsche", "Regierung", "traf", "in", "Berlin"]
    (plain,) = XnerConllReader(translator=_DictionaryTranslator(), capitalize_nouns=True).read(str(path))
    assert plain["metadata"]["words"][0][0].isupper()
    assert tags_of([instance]) == tags_of([plain]) and texts_of(instance) == texts_of(plain)
    with pytest.raises(ConfigurationError, match="adjective_tags must be a non-empty list"):
        XnerConllReader(lowercase_adjectives=True, adjective_tags=[""])
    two = tmp_path / "two.conll"
    two.write_text("german B-MISC\n", encoding="utf-8")
    with pytest.raises(InputFormatError, match=r"two.conll:1: lowercase_adjectives needs a POS column"):
        list(XnerConllReader(lowercase_adjectives=True).read(str(two)))
