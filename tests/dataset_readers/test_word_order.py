import random

import pytest
from allennlp.common.checks import ConfigurationError
from allennlp.data.dataset_readers.dataset_utils.span_utils import bioul_tags_to_spans, to_bioul

from xner_allennlp.common.errors import InputFormatError
from xner_allennlp.dataset_readers.word_order import chunk_units, head_final_order
from xner_allennlp.dataset_readers.xner_conll import XnerConllReader

# word POS chunk NER, as eng.train writes them (IOB1 chunks and tags).
SENTENCE = """Germany NNP I-NP I-LOC
beat VBD I-VP O
England NNP I-NP I-LOC
in IN I-PP O
London NNP I-NP I-LOC
, , O O
said VBD I-VP O
the DT I-NP O
Bank NNP I-NP I-ORG
of IN I-PP I-ORG
England NNP I-NP I-ORG
."""


def columns(text):
    rows = [line.split() for line in text.splitlines()]
    return [r[0] for r in rows], [r[2] if len(r) > 2 else "O" for r in rows], [r[-1] for r in rows]


def test_prepositions_follow_their_noun_phrase_and_verbs_their_objects():
    words, chunks, tags = columns(SENTENCE.replace("\n.", "\n. . O O"))
    order = head_final_order(to_bioul(tags, encoding="IOB1"), chunks)
    assert [words[i] for i in order] == (
        "Germany England London in beat , the Bank of England said .".split()
    )


def test_an_entity_across_chunks_is_one_unit():
    words, chunks, tags = columns(
        "The DT I-NP O\nBank NNP I-NP I-ORG\nof IN I-PP I-ORG\nEngland NNP I-NP I-ORG"
    )
    units = chunk_units(chunks, to_bioul(tags, encoding="IOB1"))
    assert units == [(0, 4, "NP")]


def test_b_chunks_and_particles():
    # "it" (B-NP) is a new NP after "Thursday"; "up" (PRT) travels with its verb. A verb group
    # goes after every chunk up to the next verb group (no parser tells "it" is said's subject).
    words = "they set up a fund on Thursday it said".split()
    chunks = ["I-NP", "I-VP", "I-PRT", "I-NP", "I-NP", "I-PP", "I-NP", "B-NP", "I-VP"]
    order = head_final_order(["O"] * len(words), chunks)
    assert [words[i] for i in order] == "they a fund Thursday on it set up said".split()


def test_any_sentence_gives_a_permutation_keeping_entities_whole():
    rng = random.Random(5)
    kinds = ["I-NP", "B-NP", "I-VP", "I-PP", "I-PRT", "I-SBAR", "I-ADVP", "O"]
    for _ in range(300):
        n = rng.randint(1, 25)
        chunks = [rng.choice(kinds) for _ in range(n)]
        iob = [rng.choice(["O", "O", "I-PER", "I-LOC", "B-LOC"]) for _ in range(n)]
        tags = to_bioul(iob, encoding="IOB1")
        order = head_final_order(tags, chunks)
        assert sorted(order) == list(range(n))
        moved = [tags[i] for i in order]
        # The same entities, each still contiguous and in its own order.
        assert len(bioul_tags_to_spans(moved)) == len(bioul_tags_to_spans(tags))
        assert sorted(label for label, _ in bioul_tags_to_spans(moved)) == sorted(
            label for label, _ in bioul_tags_to_spans(tags)
        )


def test_the_reader_reorders_before_translation(tmp_path):
    path = tmp_path / "en.conll"
    path.write_text(SENTENCE.replace("\n.", "\n. . O O") + "\n", encoding="utf-8")
    (instance,) = XnerConllReader(head_final_order=True).read(str(path))
    assert (
        instance["metadata"]["words"] == "Germany England London in beat , the Bank of England said .".split()
    )
    assert instance["tags"].labels[:3] == ["U-LOC", "U-LOC", "U-LOC"]
    assert instance["tags"].labels[6:10] == ["O", "B-ORG", "I-ORG", "L-ORG"]


def test_the_reader_needs_a_chunk_column(tmp_path):
    path = tmp_path / "nl.conll"
    path.write_text("De Art O\nbank N B-ORG\n", encoding="utf-8")
    with pytest.raises(InputFormatError, match=r"nl.conll:1: head_final_order needs a chunk column"):
        list(XnerConllReader(head_final_order=True).read(str(path)))


def test_head_final_order_and_shuffle_exclude_each_other():
    with pytest.raises(ConfigurationError, match="choose one"):
        XnerConllReader(head_final_order=True, shuffle_words=True)
