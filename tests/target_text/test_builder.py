"""
The target-text step without the network: a small local text stands in for a fetched source;
its sentences that are in the dev file fixtures/conll/de.dev are dropped, the others kept.
"""

import json

import pytest
from allennlp.common.testing import AllenNlpTestCase

from tests.conftest import FIXTURES
from xner_allennlp.commands.self_train import read_text_sentences
from xner_allennlp.common.errors import InputFormatError
from xner_allennlp.target_text.builder import (
    BuildStats,
    DevIndex,
    SentenceSplitter,
    TextFile,
    build_sentences,
    build_target_text,
    default_dev_files,
    read_dev_index,
)
from xner_allennlp.target_text.sources import line_paragraphs

DE_DEV = str(FIXTURES / "conll" / "de.dev")
# Two sentences of de.dev as raw text (spaCy splits "mit," and "Koch," as the CoNLL file does),
# one with another tokenization of a dev sentence ("Davis-Cup aufeinander." glued), and new ones.
TEXT = (
    "Siemens teilte am Dienstag mit, es werde BMW für 77 Millionen Dollar kaufen. "
    "Das Wetter war gestern in Hamburg sehr schön.\n"
    "Der Präsident von Österreich, Koch, traf am Donnerstag in Köln ein.\n"
    "Mandela und Petra Schneider treffen in der zweiten Runde der Davis-Cup aufeinander.\n"
    "Die Firma eröffnet eine neue Fabrik in Leipzig. Die Firma eröffnet eine neue Fabrik in Leipzig.\n"
    "Nein\n"
    "1997.\n"
)


class TestDeduplication(AllenNlpTestCase):
    def setup_method(self):
        super().setup_method()
        self.text = self.TEST_DIR / "de.txt"
        self.text.write_text(TEXT, encoding="utf-8")
        self.dev = read_dev_index([(DE_DEV, "latin-1")], "de")

    def test_dev_index_reads_the_conll_words(self):
        assert self.dev.files == {DE_DEV: 80}
        assert ("Die", "Preise", "stiegen", "im", "Mai", "um", "95", "Prozent", ".") in self.dev.tokens
        # Latin-1 in the file, the same NFC string as the text's.
        assert ["Die", "Grünen", "gewannen", "6", "Sitze", "in", "München", "."] in self.dev

    def test_a_sentence_of_the_dev_file_is_dropped_and_the_others_kept(self):
        sentences, stats = build_sentences(line_paragraphs(str(self.text)), SentenceSplitter("de"), self.dev)
        assert sentences == [
            ["Das", "Wetter", "war", "gestern", "in", "Hamburg", "sehr", "schön", "."],
            ["Die", "Firma", "eröffnet", "eine", "neue", "Fabrik", "in", "Leipzig", "."],
        ]
        assert stats.paragraphs == 6
        assert stats.in_dev == 3  # Siemens ..., Der Präsident ..., Mandela ...
        assert stats.duplicates == 1
        assert stats.too_short == 1  # "Nein"
        assert stats.no_letter == 1  # "1997 ."

    def test_without_the_dev_file_nothing_is_dropped_as_dev(self):
        sentences, stats = build_sentences(
            line_paragraphs(str(self.text)), SentenceSplitter("de"), DevIndex()
        )
        assert stats.in_dev == 0
        assert ["Siemens", "teilte", "am", "Dienstag", "mit", ","] == sentences[0][:6]

    def test_characters_catch_another_tokenization(self):
        dev = DevIndex()
        dev.characters.add("Ichfahrenach.")
        assert ["Ich", "fahre", "nach."] in dev
        assert ["Ich", "fahre", "nach", "Bonn", "."] not in dev

    def test_the_output_is_xner_self_train_text_input(self):
        output = self.TEST_DIR / "out" / "sentences.txt"
        files = [TextFile(str(self.text), lambda: line_paragraphs(str(self.text)), "test text")]
        manifest = build_target_text("de", str(output), files, [(DE_DEV, "latin-1")])
        read_back = list(read_text_sentences(str(output), "utf-8"))
        assert read_back == [
            ["Das", "Wetter", "war", "gestern", "in", "Hamburg", "sehr", "schön", "."],
            ["Die", "Firma", "eröffnet", "eine", "neue", "Fabrik", "in", "Leipzig", "."],
        ]
        on_disk = json.loads((self.TEST_DIR / "out" / "sentences.json").read_text(encoding="utf-8"))
        assert on_disk["counts"] == manifest["counts"]
        assert on_disk["counts"]["in_dev"] == 3 and on_disk["dev_files"] == {DE_DEV: 80}
        # Written whole: no staging file left beside it.
        assert sorted(p.name for p in output.parent.iterdir()) == ["sentences.json", "sentences.txt"]

    def test_max_sentences_is_a_seeded_sample_in_order(self):
        paragraphs = [f"Der Hund Nummer {i} bellt laut." for i in range(50)]
        first, stats = build_sentences(paragraphs, SentenceSplitter("de"), DevIndex(), max_sentences=10)
        again, _ = build_sentences(paragraphs, SentenceSplitter("de"), DevIndex(), max_sentences=10)
        assert first == again and len(first) == 10 and stats.sampled_out == 40
        numbers = [int(s[3]) for s in first]
        assert numbers == sorted(numbers) and numbers != list(range(10))

    def test_long_sentences_are_counted_and_dropped(self):
        stats = BuildStats()
        long = " ".join(["Wort"] * 30) + "."
        sentences, _ = build_sentences(
            [long, "Ein kurzer Satz."], SentenceSplitter("de"), DevIndex(), max_tokens=20, stats=stats
        )
        assert sentences == [["Ein", "kurzer", "Satz", "."]] and stats.too_long == 1


def test_bengali_sentences_end_at_the_danda():
    sentences = list(SentenceSplitter("bn")(["আমি ভাত খাই। ঢাকা বাংলাদেশের রাজধানী।"]))
    assert sentences == [["আমি", "ভাত", "খাই", "।"], ["ঢাকা", "বাংলাদেশের", "রাজধানী", "।"]]


def test_default_dev_files_are_the_language_tables_that_exist(tmp_path):
    (tmp_path / "conll2003_de").mkdir()
    (tmp_path / "conll2003_de" / "deu.testa").write_text("x O\n", encoding="latin-1")
    assert default_dev_files("de", str(tmp_path)) == [
        (str(tmp_path / "conll2003_de" / "deu.testa"), "latin-1")
    ]
    assert default_dev_files("bn", str(tmp_path)) == []


def test_empty_input_is_an_error_naming_the_file(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n", encoding="utf-8")
    files = [TextFile(str(empty), lambda: line_paragraphs(str(empty)), "test text")]
    with pytest.raises(
        InputFormatError, match=rf"^{empty}: no text \(empty or blank\); expected German \(de\)"
    ):
        build_target_text("de", str(tmp_path / "out.txt"), files, [])
    assert not (tmp_path / "out.txt").exists()
