import json
import sys
import time
import unicodedata

import pytest
import torch
from allennlp.commands import main
from allennlp.common.checks import ConfigurationError
from allennlp.predictors import Predictor

from tests.xner_model_fixture import trained_archive
from xner_allennlp.common.errors import InputFormatError
from xner_allennlp.models.crf_tagger import XnerCrfTagger, infer_target_language
from xner_allennlp.predictors.xner_tagger import XnerTaggerPredictor

SENTENCES = {
    "es": "El presidente de Unión Europea,  Inés Gutiérrez, dimitirá en marzo (dijo Muñoz).",
    "de": "Die Regierung von Würzburg sagte, sie werde Truppen nach Passau schicken.",
    "bn": "ভারী বৃষ্টিতে কুমিল্লা ও টাঙ্গাইলে বন্যা হয়েছে বলে কর্মকর্তারা জানান।",
}
EMPTY = {"tokens": [], "tags": [], "entities": []}


@pytest.fixture(scope="module")
def archive():
    return trained_archive()


@pytest.fixture(scope="module")
def predictor(archive):
    # No predictor name: the model's default_predictor must give xner_tagger.
    return Predictor.from_path(str(archive))


def _is_entity_word(word):
    # Capitalised words, or Bengali-script words (no case), make entities in the stub tagger.
    return word[:1].isupper() or "\u0980" <= word[:1] <= "\u09ff"


def stub_tags(words):
    """
    Runs of entity words, cut into pieces of <= 3 words, as BIOUL spans: PER when the first
    word has an even number of characters, else LOC (so a word's tags do not depend on where
    the input was cut).
    """
    tags = ["O"] * len(words)
    position = 0
    while position < len(words):
        if not _is_entity_word(words[position]):
            position += 1
            continue
        end = position
        while end < len(words) and end - position < 3 and _is_entity_word(words[end]):
            end += 1
        kind = ("PER", "LOC")[len(words[position]) % 2]
        if end - position == 1:
            tags[position] = "U-" + kind
        else:
            inside = ["I-" + kind] * (end - position - 2)
            tags[position:end] = ["B-" + kind] + inside + ["L-" + kind]
        position = end
    return tags


@pytest.fixture
def stubbed(predictor, monkeypatch):
    """The predictor with the model replaced by `stub_tags`, so that there are entities."""
    seen = []

    def predict_batch_instance(instances):
        seen.append([len(i["tokens"]) for i in instances])
        return [{"tags": stub_tags(i["metadata"]["words"])} for i in instances]

    monkeypatch.setattr(predictor, "predict_batch_instance", predict_batch_instance)
    predictor.batches_seen = seen
    return predictor


def _with_language(predictor, language, **kwargs):
    return XnerTaggerPredictor(predictor._model, predictor._dataset_reader, language=language, **kwargs)


def check_offsets(text, output):
    """Each entity's offsets pick its text out of the input; one tag per token."""
    for entity in output["entities"]:
        assert text[entity["start"] : entity["end"]] == entity["text"], entity
    assert len(output["tokens"]) == len(output["tags"])


def test_default_predictor_and_language_come_from_the_archive(predictor):
    assert isinstance(predictor, XnerTaggerPredictor)
    assert isinstance(predictor._model, XnerCrfTagger)
    # The fixture config's target vectors are wiki.multi.es.vec.
    assert predictor._model.target_language == "es"
    assert predictor.language == "es"


def test_infer_target_language_from_config_paths():
    assert infer_target_language({"vocabulary": {"vector_files": ["/x/wiki.multi.bn.vec"]}}) == "bn"
    assert infer_target_language({"validation_data_path": "/d/conll2002/ned.testa"}) == "nl"
    assert infer_target_language({"validation_data_path": "/d/deu.testa"}) == "de"
    assert infer_target_language({"train_data_path": "x"}) is None


@pytest.mark.parametrize("language", ["es", "de", "bn"])
def test_raw_sentence_offsets_and_json_agree(predictor, stubbed, language):
    predictor = _with_language(stubbed, language)
    predictor.predict_batch_instance = stubbed.predict_batch_instance
    sentence = SENTENCES[language]
    plain = predictor.predict_json(predictor.load_line(sentence + "\n"))
    as_json = predictor.predict_json(predictor.load_line(json.dumps({"sentence": sentence}) + "\n"))
    assert plain == as_json
    assert plain["entities"], "the stub tags entities in every test sentence"
    check_offsets(sentence, plain)
    # Every token is at its place in the input, in order.
    position = 0
    for token in plain["tokens"]:
        position = sentence.index(token, position) + len(token)
    # Pre-tokenized input: same words, same tags; offsets index " ".join(tokens).
    tokens = predictor.predict_json({"tokens": plain["tokens"]})
    assert tokens["tokens"] == plain["tokens"] and tokens["tags"] == plain["tags"]
    check_offsets(" ".join(plain["tokens"]), tokens)


def test_spanish_entities_by_hand(stubbed):
    sentence = SENTENCES["es"]
    output = stubbed.predict(sentence)
    # Capitalised runs: El | Unión Europea | Inés Gutiérrez | Muñoz; the type is PER for an
    # even-length first word. Offsets count the double space before Inés: "El"=0-2,
    # " presidente de " up to 17, "Unión Europea"=17-30, ",  " up to 33, "Inés Gutiérrez"=33-47,
    # ", dimitirá en marzo (dijo " up to 73, "Muñoz"=73-78.
    assert [(e["text"], e["type"], e["start"], e["end"]) for e in output["entities"]] == [
        ("El", "PER", 0, 2),
        ("Unión Europea", "LOC", 17, 30),
        ("Inés Gutiérrez", "PER", 33, 47),
        ("Muñoz", "LOC", 73, 78),
    ]
    assert output["tags"][:5] == ["U-PER", "O", "O", "B-LOC", "L-LOC"]


def test_real_model_on_raw_text(predictor):
    for language, sentence in SENTENCES.items():
        tagger = _with_language(predictor, language)
        output = tagger.predict_json(tagger.load_line(sentence + "\n"))
        assert output["tokens"] and all(t[0] in "BILUO" for t in output["tags"])
        check_offsets(sentence, output)
        assert tagger.predict_json(tagger.load_line(json.dumps({"sentence": sentence}))) == output
        assert tagger.predict_json({"tokens": output["tokens"]})["tags"] == output["tags"]
    # spaCy's Bengali rules split off the danda.
    assert _with_language(predictor, "bn").predict(SENTENCES["bn"])["tokens"][-1] == "\u0964"


def test_empty_inputs_give_empty_results(predictor):
    for line in ["\n", "", "   \t\n"]:
        assert predictor.predict_json(predictor.load_line(line)) == EMPTY
    assert predictor.predict_json({"tokens": []}) == EMPTY
    batch = predictor.predict_batch_json([{"sentence": ""}, {"sentence": "Hola Madrid ."}, {"tokens": []}])
    assert batch[0] == EMPTY and batch[2] == EMPTY
    assert batch[1]["tokens"] == ["Hola", "Madrid", "."]


def test_batch_equals_one_by_one(predictor):
    inputs = [{"sentence": s} for s in SENTENCES.values()] + [{"tokens": ["Lucía", "Domínguez"]}]
    assert predictor.predict_batch_json(inputs) == [predictor.predict_json(i) for i in inputs]


def test_ten_thousand_token_line(predictor, stubbed):
    # 9 tokens, 3 entities: Joaquín Muñoz, Bruselas, Inés.
    sentence = "Joaquín Muñoz visitó Bruselas con Inés en marzo ."
    line = " ".join([sentence] * 1112)[: -len(" .")]  # 10 007 tokens, no final "."
    whole = stub_tags(line.split())
    output = stubbed.predict_json(stubbed.load_line(line + "\n"))
    assert len(output["tokens"]) == len(output["tags"]) == 10007
    # Chunks of at most max_tokens, cut after a "." so no entity is split: the same tags as
    # tagging the whole line at once.
    assert max(max(batch) for batch in stubbed.batches_seen) <= 400
    assert output["tags"] == whole
    assert len(output["entities"]) == 3 * 1112
    check_offsets(line, output)


def test_ten_thousand_token_line_real_model(predictor):
    line = " ".join(["Joaquín Muñoz visitó Bruselas ."] * 2000)
    output = predictor.predict_json(predictor.load_line(line))
    assert len(output["tags"]) == 10000
    check_offsets(line, output)


def test_chunks_without_sentence_ends(predictor):
    small = _with_language(predictor, "es", max_tokens=7)
    words = [f"w{i}" for i in range(20)]
    assert small._chunks(words) == [(0, 7), (7, 14), (14, 20)]
    words[4] = "."
    assert small._chunks(words) == [(0, 5), (5, 12), (12, 19), (19, 20)]


def test_bad_json_lines_name_the_line(predictor):
    fresh = _with_language(predictor, "es")
    fresh.load_line("Hola Madrid\n")
    fresh.load_line('{"sentence": "Hola"}\n')
    with pytest.raises(InputFormatError, match=r"input:3: .*\"sentence\".*\"tokens\".*\['text'\]"):
        fresh.load_line('{"text": "Hola"}\n')
    with pytest.raises(InputFormatError, match=r"input:4: .*not valid JSON"):
        fresh.load_line('{"sentence": \n')
    with pytest.raises(InputFormatError, match=r"input:5: .*list of non-blank strings"):
        fresh.load_line('{"tokens": "Hola Madrid"}\n')
    with pytest.raises(InputFormatError, match="exactly one"):
        fresh.predict_json({"sentence": "a", "tokens": ["a"]})


def test_bom_is_not_part_of_the_first_token(stubbed):
    fresh = _with_language(stubbed, "es")
    fresh.predict_batch_instance = stubbed.predict_batch_instance
    output = fresh.predict_json(fresh.load_line("\ufeffHola Madrid .\n"))
    assert output["tokens"] == ["Hola", "Madrid", "."]
    assert fresh.load_line('{"sentence": "Hola"}\n') == {"sentence": "Hola"}
    json_first = _with_language(stubbed, "es")
    assert json_first.load_line('\ufeff{"tokens": ["Hola"]}\n') == {"tokens": ["Hola"]}


def test_nfd_input_gets_the_tags_of_nfc(predictor, stubbed):
    nfc = SENTENCES["es"]
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfd != nfc
    # The stub's entity type depends on the word's length, which NFD changes ("Unión" is 6
    # code points there): equal outputs mean the model saw the NFC words.
    expected = stubbed.predict_json(stubbed.load_line(nfc + "\n"))
    assert stubbed.predict_json(stubbed.load_line(nfd + "\n")) == expected
    assert stubbed.predict_json(stubbed.load_line(json.dumps({"sentence": nfd}))) == expected
    assert stubbed.predict(nfd) == expected
    nfd_tokens = [unicodedata.normalize("NFD", t) for t in expected["tokens"]]
    tokens = stubbed.predict_json({"tokens": nfd_tokens})
    assert tokens["tokens"] == expected["tokens"] and tokens["tags"] == expected["tags"]
    real = _with_language(predictor, "es")
    assert real.predict(nfd)["tags"] == real.predict(nfc)["tags"]


def test_control_characters_name_the_input_line(predictor):
    fresh = _with_language(predictor, "es")
    fresh.load_line("Hola Madrid\n")
    with pytest.raises(InputFormatError, match=r"input:2: control character U\+0000 at column 3"):
        fresh.load_line("Ho\x00la Madrid\n")
    with pytest.raises(InputFormatError, match=r"predictor input:3: control character U\+001B"):
        fresh.load_line('{"tokens": ["Hola", "\\u001b[31mMadrid"]}\n')
    with pytest.raises(InputFormatError, match=r"predictor input: control character U\+0007"):
        fresh.predict("Hola\x07")


def test_hundred_thousand_character_token(predictor):
    # The character indexer caps the characters per token, so the time does not grow with it
    # (83 s and gigabytes without the cap).
    line = "Hola " + "ab" * 50_000 + " Madrid"
    start = time.perf_counter()
    output = predictor.predict_json(predictor.load_line(line))
    assert time.perf_counter() - start < 10
    assert output["tokens"] == ["Hola", "ab" * 50_000, "Madrid"]
    assert len(output["tags"]) == 3


def test_unsupported_language(predictor):
    supported = r"'fr' is not supported.*bn .*de .*en .*es .*nl .*xx.*'auto'"
    with pytest.raises(ConfigurationError, match=supported):
        _with_language(predictor, "fr")


def test_auto_language_tokenizes_each_input_in_its_own_language(predictor):
    auto = _with_language(predictor, "auto")
    sentences = [SENTENCES["es"], SENTENCES["de"], SENTENCES["bn"], "Paris"]
    outputs = auto.predict_batch_json([{"sentence": s} for s in sentences])
    assert [o["language"] for o in outputs] == ["es", "de", "bn", "xx"]
    for sentence, output in zip(sentences, outputs):
        language = output.pop("language")
        # The same tokens, tags and offsets as a predictor told the language.
        assert output == _with_language(predictor, language).predict(sentence)
    # Pre-tokenized input keeps its words; its language is still reported.
    tokens = auto.predict_json({"tokens": ["Ana", "vive", "en", "la", "casa", "de", "Madrid"]})
    assert tokens["language"] == "es" and tokens["tokens"][-1] == "Madrid"


def test_a_model_for_any_target_detects_the_language(predictor):
    model = predictor._model
    saved, model.target_language = model.target_language, None
    try:
        assert XnerTaggerPredictor(model, predictor._dataset_reader).language == "auto"
    finally:
        model.target_language = saved
    # A model with a target keeps it and reports no language.
    assert "language" not in predictor.predict(SENTENCES["es"])


def run_predict(monkeypatch, archive, source, output, *extra):
    """`allennlp predict ARCHIVE SOURCE --output-file OUTPUT ...`, its output lines as dicts."""
    monkeypatch.setattr(
        sys, "argv", ["allennlp", "predict", str(archive), str(source), "--output-file", str(output), *extra]
    )
    main()
    return [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]


def test_allennlp_predict_command(archive, tmp_path, monkeypatch):
    source = tmp_path / "input.txt"
    source.write_text(
        SENTENCES["es"]
        + "\n\n"
        + json.dumps({"tokens": ["Lucía", "Domínguez"]})
        + "\n"
        + json.dumps({"sentence": "Joaquín Muñoz visitó Bruselas."})
        + "\n",
        encoding="utf-8",
    )
    output = tmp_path / "output.jsonl"
    results = run_predict(
        monkeypatch,
        archive,
        source,
        output,
        "--batch-size",
        "2",
        "--silent",
        "--predictor-args",
        '{"language": "es"}',
    )
    # allennlp predict skips the blank line.
    assert [r["tokens"][:2] for r in results] == [
        ["El", "presidente"],
        ["Lucía", "Domínguez"],
        ["Joaquín", "Muñoz"],
    ]
    assert "Gutiérrez" in output.read_text(encoding="utf-8")  # not \u-escaped


def test_allennlp_predict_command_with_a_bom(archive, tmp_path, monkeypatch):
    source = tmp_path / "input.txt"
    source.write_bytes("\ufeffHola Madrid .\r\nInés visitó Logron\u0303o .\r\n".encode("utf-8"))
    output = tmp_path / "output.jsonl"
    results = run_predict(
        monkeypatch, archive, source, output, "--silent", "--predictor-args", '{"language": "es"}'
    )
    assert [r["tokens"] for r in results] == [
        ["Hola", "Madrid", "."],
        ["Inés", "visitó", "Logroño", "."],
    ]


def test_allennlp_predict_on_input_that_is_not_utf8(archive, tmp_path, monkeypatch, capsys):
    source = tmp_path / "latin1.txt"
    source.write_bytes("Hola Madrid .\nInés visitó Logroño .\n".encode("latin-1"))
    output = tmp_path / "output.jsonl"
    monkeypatch.setattr(
        sys, "argv", ["allennlp", "predict", str(archive), str(source), "--output-file", str(output)]
    )
    # Was a bare UnicodeDecodeError from allennlp's reading of the file, without file or line;
    # now one line and status 2 (more in tests/reliability/test_bad_input.py).
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    assert f"error: {source}:2: not UTF-8 (" in capsys.readouterr().err
    assert not output.exists()


def test_num_threads_argument_and_environment(archive, monkeypatch):
    from allennlp.models.archival import load_archive

    loaded = load_archive(archive)
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("XNER_NUM_THREADS", "")
        torch.set_num_threads(2)
        XnerTaggerPredictor(loaded.model, loaded.validation_dataset_reader)
        assert torch.get_num_threads() == 2  # neither given: torch's setting is left alone
        XnerTaggerPredictor(loaded.model, loaded.validation_dataset_reader, num_threads=1)
        assert torch.get_num_threads() == 1
        monkeypatch.setenv("XNER_NUM_THREADS", "2")
        XnerTaggerPredictor(loaded.model, loaded.validation_dataset_reader)
        assert torch.get_num_threads() == 2
        with pytest.raises(ConfigurationError, match="num_threads"):
            XnerTaggerPredictor(loaded.model, loaded.validation_dataset_reader, num_threads="many")
    finally:
        torch.set_num_threads(before)
