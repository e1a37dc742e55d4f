import math
import re
import sys
import tempfile

import numpy as np
import pytest
from allennlp.commands import main as allennlp_main
from allennlp.common import Params
from allennlp.common.checks import ConfigurationError
from allennlp.common.testing import AllenNlpTestCase
from allennlp.data import DatasetReader

from tests.conftest import FIXTURES
from xner_allennlp.common import word_vectors
from xner_allennlp.common.errors import InputFormatError
from xner_allennlp.dataset_readers import XnerConllReader
from xner_allennlp.translation import ContextDictionaryTranslator, Translator

# Hand-built 4-d space. cos(bank, banco) = 0.9 > cos(bank, orilla) = 0.8, but orilla is close
# to "river" (0.6) and banco orthogonal to it, so enough context weight flips the choice:
# with alpha = 0.1 and "river" next to "bank", orilla scores 0.08 + 0.9 * 0.6 / 4 = 0.215
# against banco's 0.09.
S = math.sqrt(1 - 0.81)
EN = {
    "bank": [1, 0, 0, 0],
    "river": [0, 0, 1, 0],
    "the": [0, 0, 0, 1],
    "big": [0, 1, 0, 0],
    "house": [0, 1, 1, 0],
}
ES = {
    "banco": [0.9, S, 0, 0],
    "orilla": [0.8, 0, 0.6, 0],
    "río": [0, 0, 1, 0],
    "el": [0, 0, 0, 1],
    "grande": [0, 1, 0, 0],
    "gran": [0, 1, 0, 0],
    "hogar": [0, 1, 0, 0],
}
DICTIONARY = """bank banco
bank orilla
River río
the el
big grande
big gran
house casa
house hogar
dog perro
shore orilla
shore banco
2 dos
"""


def vec_file(path, table):
    dim = len(next(iter(table.values())))
    lines = [f"{len(table)} {dim}"] + [f"{w} {' '.join(map(str, v))}" for w, v in table.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


@pytest.fixture(autouse=True)
def _fresh_vector_memo():
    # TEST_DIR is one path reused by every test: never serve one test's vectors to another.
    word_vectors.clear_memory()
    yield
    word_vectors.clear_memory()


class TranslationTestCase(AllenNlpTestCase):
    def setup_method(self):
        super().setup_method()
        self.en = vec_file(self.TEST_DIR / "en.vec", EN)
        self.es = vec_file(self.TEST_DIR / "es.vec", ES)
        self.dictionary = self.write("en-es.txt", DICTIONARY)

    def write(self, name, text, encoding="utf-8"):
        path = self.TEST_DIR / name
        path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
        return str(path)

    def translator(self, **kwargs):
        params = dict(dictionary=self.dictionary, source_vectors=self.en, target_vectors=self.es)
        params.update(kwargs)
        return ContextDictionaryTranslator(**params)


class TestContextDictionaryTranslator(TranslationTestCase):
    def test_alpha_one_picks_the_closest_direct_translation(self):
        assert self.translator(alpha=1.0).translate(["the", "river", "bank"]) == [
            "el",
            "río",
            "banco",
        ]

    def test_context_flips_the_choice_with_small_alpha(self):
        translator = self.translator(alpha=0.1)
        assert translator.translate(["the", "river", "bank"])[2] == "orilla"
        # Without "river" nearby the direct term decides again.
        assert translator.translate(["the", "bank"])[1] == "banco"

    def test_distance_weight_and_window(self):
        # "river" at distance 2 weighs 1/9: orilla still wins (0.08 + 0.9 * 0.6 / 9 = 0.14).
        assert self.translator(alpha=0.1).translate(["river", "the", "bank"])[2] == "orilla"
        assert self.translator(alpha=0.1, window=1).translate(["river", "the", "bank"])[2] == "banco"
        assert self.translator(alpha=0.1, window=0).translate(["the", "river", "bank"])[2] == "banco"

    def test_matches_the_formula(self):
        translator = self.translator(alpha=0.3)
        words = ["bank", "the", "river", "bank"]
        unit = {w: np.array(v, float) / np.linalg.norm(v) for w, v in {**EN, **ES}.items()}

        def score(i, t):
            context = sum(unit[t] @ unit[c] / (abs(i - j) + 1) ** 2 for j, c in enumerate(words) if j != i)
            return 0.3 * unit[t] @ unit[words[i]] + 0.7 * context

        expected = [max(["banco", "orilla"], key=lambda t: score(i, t)) for i in (0, 3)]
        output = translator.translate(words)
        assert [output[0], output[3]] == expected

    def test_untranslatable_words_and_unknown_context_words_are_kept(self):
        words = ["paris", "xyzzy", "bank", "num", "url"]
        output = self.translator().translate(words)
        assert output == ["paris", "xyzzy", "banco", "num", "url"]
        assert self.translator().translate([]) == []

    def test_number_pairs_do_not_translate_the_placeholder(self):
        # "2 dos" normalises to "num dos": taking it would turn every number into "dos".
        assert self.translator().translate(["num"]) == ["num"]

    def test_ties_go_to_the_first_dictionary_candidate(self):
        assert self.translator().translate(["big"]) == ["grande"]
        self.dictionary = self.write("rev.txt", "big gran\nbig grande\nthe el\n")
        assert self.translator().translate(["big", "the"]) == ["gran", "el"]

    def test_candidates_without_target_vector(self):
        translator = self.translator()
        # "casa" has no Spanish vector: "hogar" wins although it comes second; "perro" is the
        # only candidate of "dog" and has no vector, so the dictionary order decides.
        assert translator.translate(["house", "dog"]) == ["hogar", "perro"]
        assert translator.stats.unscored == 1

    def test_source_word_without_vector_is_translated_by_context(self):
        translator = self.translator()
        assert translator.translate(["shore"]) == ["orilla"]  # no context: first candidate
        assert translator.translate(["the", "river", "shore"])[2] == "orilla"
        assert translator.translate(["the", "big", "shore"])[2] == "banco"

    def test_dictionary_entries_are_normalised(self):
        assert self.translator().translate(["river"]) == ["río"]

    def test_stats(self):
        translator = self.translator()
        translator.translate(["the", "river", "bank", "paris", "dog"])
        stats = translator.stats
        assert (stats.translated, stats.kept, stats.candidates) == (4, 1, 5)
        assert stats.mean_candidates == pytest.approx(5 / 4)

    def test_list_of_vector_files_and_from_params(self):
        extra = vec_file(self.TEST_DIR / "en2.vec", {"paris": [1, 1, 1, 1]})
        translator = Translator.from_params(
            Params(
                {
                    "type": "context_dictionary",
                    "dictionary": self.dictionary,
                    "source_vectors": [self.en, extra],
                    "target_vectors": self.es,
                    "alpha": 1.0,
                }
            )
        )
        assert isinstance(translator, ContextDictionaryTranslator)
        assert translator.translate(["bank"]) == ["banco"]

    def test_bad_parameters(self):
        with pytest.raises(ConfigurationError, match="alpha"):
            self.translator(alpha=1.5)
        with pytest.raises(ConfigurationError, match="window"):
            self.translator(window=-1)


class TestDictionaryErrors(TranslationTestCase):
    def test_line_with_one_field(self):
        self.dictionary = self.write("one.txt", "bank banco\norilla\n")
        with pytest.raises(InputFormatError, match=r"one\.txt:2: 1 field .*source target"):
            self.translator()

    def test_undecodable_bytes(self):
        self.dictionary = self.write("bad.txt", "bank banco\n\nriver r\xedo\n".encode("latin-1"))
        with pytest.raises(InputFormatError, match=r"bad\.txt:3: bytes that are not valid utf-8"):
            self.translator()
        self.translator(dictionary_encoding="latin-1")

    def test_no_pair_can_be_scored(self):
        self.dictionary = self.write("cats.txt", "cat gato\ndog perro\n")
        with pytest.raises(InputFormatError, match=r"cats\.txt: zero candidates could be scored"):
            self.translator()
        # Swapped vector files: the dictionary reads the other way round against them.
        self.dictionary = self.write("ok.txt", DICTIONARY)
        with pytest.raises(InputFormatError, match=r"ok\.txt: the dictionary looks reversed"):
            self.translator(source_vectors=self.es, target_vectors=self.en)

    def test_reversed_dictionary(self):
        # es-en where en-es is expected: it would run and put English words for English words.
        lines = (FIXTURES / "dictionaries" / "en-es.txt").read_text(encoding="utf-8").splitlines()
        self.dictionary = self.write("es-en.txt", "".join(f"{t} {s}\n" for s, t in map(str.split, lines)))
        vectors = dict(
            source_vectors=str(FIXTURES / "vectors" / "wiki.multi.en.vec"),
            target_vectors=str(FIXTURES / "vectors" / "wiki.multi.es.vec"),
        )
        message = (
            r"es-en\.txt: the dictionary looks reversed \(`target source` lines\): \d+ of its "
            r"\d+ pairs have a target word \(second column\) in the source vectors \(.*wiki\.multi"
            r"\.en\.vec\), but only \d+ have their source word \(first column\) there"
        )
        with pytest.raises(InputFormatError, match=message):
            self.translator(**vectors)
        self.dictionary = str(FIXTURES / "dictionaries" / "en-es.txt")
        assert self.translator(**vectors).translate(["the"]) in (["el"], ["la"])

    def test_empty_dictionary(self):
        self.dictionary = self.write("empty.txt", "\n")
        with pytest.raises(InputFormatError, match="no `source target` pairs"):
            self.translator()


CONLL = """-DOCSTART- -X- O O

The DT I-NP O
river NN I-NP O
Bank NNP I-NP I-ORG
of IN I-PP I-ORG
Paris NNP I-NP I-ORG
said VBD I-VP O

BIG JJ I-NP O
dog NN I-NP O
"""


class TestReaderTranslation(TranslationTestCase):
    def read(self, **kwargs):
        path = self.write("en.conll", CONLL)
        return list(XnerConllReader(**kwargs).read(path))

    @staticmethod
    def texts(instance):
        return [t.text for t in instance["tokens"].tokens]

    def test_replace_keeps_tags_and_lengths(self):
        plain = self.read()
        translated = self.read(translator=self.translator(alpha=1.0))
        assert len(translated) == len(plain) == 2
        for a, b in zip(plain, translated):
            assert a["tags"].labels == b["tags"].labels
            assert len(a["tokens"]) == len(b["tokens"])
        assert plain[0]["tags"].labels == ["O", "O", "B-ORG", "I-ORG", "L-ORG", "O"]
        assert self.texts(translated[0]) == ["el", "río", "banco", "of", "paris", "said"]
        assert translated[0]["metadata"]["words"] == ["El", "río", "Banco", "of", "Paris", "said"]
        assert self.texts(translated[1]) == ["grande", "perro"]

    def test_append_doubles_the_instances(self):
        instances = self.read(translator=self.translator(alpha=1.0), translation_mode="append")
        assert len(instances) == 4
        assert [self.texts(i) for i in instances[::2]] == [self.texts(i) for i in self.read()]
        assert self.texts(instances[1])[:3] == ["el", "río", "banco"]

    def test_reader_without_translator_yields_original_words(self):
        instances = self.read()
        assert self.texts(instances[0]) == ["the", "river", "bank", "of", "paris", "said"]
        assert instances[0]["metadata"]["words"][2] == "Bank"

    def test_unknown_translation_mode(self):
        with pytest.raises(ConfigurationError, match="'swap' is not one of replace, append"):
            XnerConllReader(translator=self.translator(), translation_mode="swap")
        # Checked without a translator too (where the mode would not be used yet).
        with pytest.raises(ConfigurationError, match="'both' is not one of replace, append"):
            XnerConllReader(translation_mode="both")

    def test_reader_from_params(self):
        reader = DatasetReader.from_params(
            Params(
                {
                    "type": "xner_conll",
                    "translator": {
                        "type": "context_dictionary",
                        "dictionary": self.dictionary,
                        "source_vectors": self.en,
                        "target_vectors": [self.es],
                        "alpha": 1.0,
                    },
                }
            )
        )
        instances = list(reader.read(self.write("en.conll", CONLL)))
        assert self.texts(instances[0])[:3] == ["el", "río", "banco"]


class TestConfigs(AllenNlpTestCase):
    def test_en_to_configs_translate_only_the_training_data(self, monkeypatch):
        for lang in ("es", "nl", "de", "bn"):
            config = Params.from_file(f"training_configs/en_to_{lang}.jsonnet").as_dict()
            translator = config["dataset_reader"]["translator"]
            assert translator["type"] == "context_dictionary"
            assert translator["dictionary"].endswith(f"dictionaries/en-{lang}.txt")
            assert translator["target_vectors"].endswith(f"wiki.multi.{lang}.vec")
            assert "translator" not in config["validation_dataset_reader"]
        monkeypatch.setenv("XNER_DICTIONARY", "none")
        config = Params.from_file("training_configs/en_to_es.jsonnet").as_dict()
        assert "translator" not in config["dataset_reader"]

    def test_fixture_config_translates_the_training_data(self):
        config = Params.from_file("training_configs/fixture.jsonnet").as_dict()
        translator = config["dataset_reader"]["translator"]
        assert translator["dictionary"] == f"{FIXTURES}/dictionaries/en-es.txt"
        assert translator["source_vectors"].endswith("wiki.multi.en.vec")
        assert translator["target_vectors"].endswith("wiki.multi.es.vec")
        assert "translator" not in config["validation_dataset_reader"]

    def test_fixture_config_reader_translates(self):
        config = Params.from_file("training_configs/fixture.jsonnet")
        reader = DatasetReader.from_params(config.pop("dataset_reader"))
        plain = DatasetReader.from_params(config.pop("validation_dataset_reader"))
        path = config["train_data_path"]
        translated = list(reader.read(path))
        original = list(XnerConllReader().read(path))
        assert len(translated) == len(original)
        changed = 0
        for a, b in zip(original, translated):
            assert a["tags"].labels == b["tags"].labels
            changed += sum(x.text != y.text for x, y in zip(a["tokens"].tokens, b["tokens"].tokens))
        assert changed > 0
        assert reader._translator.stats.translated > 0
        assert plain._translator is None


INPUT = (
    "-DOCSTART- -X- O O\n"
    "\n"
    "The DT I-NP O\n"
    "RIVER\tNN\tI-NP\tO  \n"
    "Bank NNP I-NP I-ORG\r\n"
    "Paris NNP I-NP I-ORG\n"
    "\n"
    "\n"
    "1990 CD I-NP O\n"
    "dog NN I-NP O"
)


class TestTranslateCommand(TranslationTestCase):
    def run_command(self, monkeypatch, *args):
        monkeypatch.setattr(sys, "argv", ["allennlp", "xner-translate", *args])
        allennlp_main()

    def translate(self, monkeypatch, source, output, *extra):
        """`xner-translate` of `source` into `output` with the test dictionary and vectors."""
        self.run_command(monkeypatch, source, "--dictionary", self.dictionary, "--source-vectors", self.en,
                         "--target-vectors", self.es, "--output-file", output, *extra)  # fmt: skip

    def check_round_trip(self, source: bytes, output: bytes):
        before, after = source.splitlines(keepends=True), output.splitlines(keepends=True)
        assert len(before) == len(after)
        changed = 0
        for a, b in zip(before, after):
            fields_a, fields_b = a.split(), b.split()
            if not fields_a or fields_a[0] == b"-DOCSTART-":
                assert a == b
                continue
            # Everything after the token (separators, columns, line ending) is byte-identical.
            assert a[len(fields_a[0]) :] == b[len(fields_b[0]) :]
            assert fields_a[-1] == fields_b[-1]
            changed += fields_a[0] != fields_b[0]
        return changed

    def test_round_trip(self, monkeypatch, capsys):
        source = self.write("in.conll", INPUT)
        output = str(self.TEST_DIR / "out" / "es.conll")
        self.translate(monkeypatch, source, output, "--alpha", "1")
        result = open(output, "rb").read()
        assert self.check_round_trip(INPUT.encode(), result) == 4
        assert result.decode().splitlines()[2:6] == [
            "El DT I-NP O",
            "RÍO\tNN\tI-NP\tO  ",
            "Banco NNP I-NP I-ORG",
            "Paris NNP I-NP I-ORG",
        ]
        assert "1990 CD" in result.decode() and result.endswith(b"perro NN I-NP O")
        summary = capsys.readouterr().out
        assert "4 tokens translated (66.7%), 2 kept" in summary
        assert "1.25 dictionary candidates per translated word" in summary

    def test_byte_order_mark_and_line_endings_are_kept(self, monkeypatch):
        source = self.write("bom.conll", "\ufeffThe x O\r\nriver x O\nbank x O")
        output = self.TEST_DIR / "bom.out"
        self.translate(monkeypatch, source, str(output), "--alpha", "1")
        assert output.read_bytes() == "\ufeffEl x O\r\nrío x O\nbanco x O".encode("utf-8")

    def test_latin1_and_window(self, monkeypatch):
        source = self.write("in.conll", "The x O\nriver x O\nbank x O\n", encoding="latin-1")
        output = str(self.TEST_DIR / "out.conll")
        self.translate(monkeypatch, source, output, "--encoding", "latin-1", "--alpha", "0.1")
        assert open(output, encoding="latin-1").read() == "El x O\nrío x O\norilla x O\n"
        self.translate(
            monkeypatch, source, output, "--encoding", "latin-1", "--alpha", "0.1", "--window", "0"
        )
        assert open(output, encoding="latin-1").read().endswith("banco x O\n")

    def command_error(self, monkeypatch, capsys, *args):
        """The one line a user error prints on stderr (exit status 2)."""
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_info:
            self.run_command(monkeypatch, *args)
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        if "translating" in err:  # the progress bar of the work done before the error
            err = err.split("\n", err.count("\n") - 1)[-1]
        assert err.count("\n") == 1 and err.startswith("error: "), err
        return err.strip()

    def test_bad_input_leaves_no_output(self, monkeypatch, capsys):
        source = self.write("in.conll", b"The x O\nr\xedo x O\n")
        output = self.TEST_DIR / "out.conll"
        args = [source, "--dictionary", self.dictionary, "--source-vectors", self.en,
                "--target-vectors", self.es, "--output-file", str(output)]  # fmt: skip
        line = self.command_error(monkeypatch, capsys, *args)
        assert re.match(r"error: .*in\.conll:2: bytes that are not valid utf-8 .*--encoding$", line)
        assert not output.exists()
        assert [p.name for p in self.TEST_DIR.iterdir() if p.name.startswith((".", "tmp"))] == []
        # --debug and XNER_DEBUG=1: the traceback.
        with pytest.raises(InputFormatError, match=r"in\.conll:2: .*--encoding"):
            self.run_command(monkeypatch, *args, "--debug")
        monkeypatch.setenv("XNER_DEBUG", "1")
        with pytest.raises(InputFormatError, match=r"in\.conll:2: .*--encoding"):
            self.run_command(monkeypatch, *args)

    def test_nonsense_parameters_and_outputs(self, monkeypatch, capsys):
        source = self.write("in.conll", INPUT)
        common = [source, "--dictionary", self.dictionary, "--source-vectors", self.en,
                  "--target-vectors", self.es]  # fmt: skip
        output = ["--output-file", str(self.TEST_DIR / "out.conll")]
        line = self.command_error(monkeypatch, capsys, *common, *output, "--alpha", "1.5")
        assert line == "error: argument --alpha: expected a weight in [0, 1], got 1.5"
        line = self.command_error(monkeypatch, capsys, *common, *output, "--window", "-1")
        assert line == "error: argument --window: expected an integer >= 0, got -1"
        line = self.command_error(monkeypatch, capsys, *common)
        assert line == "error: the following arguments are required: --output-file"
        line = self.command_error(monkeypatch, capsys, *common, "--output-file", str(self.TEST_DIR))
        assert line == f"error: --output-file {self.TEST_DIR}: is a directory, expected a file name"
        line = self.command_error(monkeypatch, capsys, *common, "--output-file", f"{source}/x")
        assert line == f"error: --output-file {source}/x: {source} is not a directory"
        line = self.command_error(monkeypatch, capsys, *common[:1], "--dictionary", "nowhere.txt",
                                  *common[3:], *output)  # fmt: skip
        assert line == "error: bilingual dictionary not found: nowhere.txt"

        # No permission to write (simulated: the tests may run as root): the message names the
        # output file, not the temporary one it was about to create.
        def denied(dir, prefix):
            raise PermissionError(13, "Permission denied", f"{dir}/{prefix}x1y2z3")

        monkeypatch.setattr(tempfile, "mkdtemp", denied)
        line = self.command_error(monkeypatch, capsys, *common, *output)
        assert line == f"error: [Errno 13] Permission denied: '{self.TEST_DIR / 'out.conll'}'"
        assert not (self.TEST_DIR / "out.conll").exists()

    def test_fixture_round_trip(self, monkeypatch):
        source = FIXTURES / "conll" / "en.train"
        output = self.TEST_DIR / "en.train.es"
        self.run_command(
            monkeypatch,
            str(source),
            "--dictionary",
            str(FIXTURES / "dictionaries" / "en-es.txt"),
            "--source-vectors",
            str(FIXTURES / "vectors" / "wiki.multi.en.vec"),
            "--target-vectors",
            str(FIXTURES / "vectors" / "wiki.multi.es.vec"),
            "--output-file",
            str(output),
        )
        assert self.check_round_trip(source.read_bytes(), output.read_bytes()) > 0


def test_pivot_pairs_compose_two_english_dictionaries():
    from xner_allennlp.translation.context_dictionary import pivot_pairs

    en_es = [(1, "bank", "banco"), (2, "bank", "orilla"), (3, "Shore", "orilla"), (4, "house", "casa")]
    en_bn = [(1, "bank", "ব্যাংক"), (2, "shore", "তীর"), (3, "bank", "তীর"), (4, "cat", "বিড়াল")]
    pairs = pivot_pairs(en_es, en_bn, (True, True, True))
    # Each Spanish word gets the Bengali translations of its English ones, in the pivot's
    # order, once each; an English word without a target translation ("house") gives nothing.
    assert pairs == [
        (1, "banco", "ব্যাংক"),
        (1, "banco", "তীর"),
        (2, "orilla", "ব্যাংক"),
        (2, "orilla", "তীর"),
    ]


def test_a_pivot_translator_translates_spanish_to_dutch(tmp_path):
    # es -> nl through the fixtures' en-es and en-nl dictionaries: "en" (Spanish "in") -> "in".
    translator = ContextDictionaryTranslator(
        dictionary=str(FIXTURES / "dictionaries" / "en-nl.txt"),
        pivot_dictionary=str(FIXTURES / "dictionaries" / "en-es.txt"),
        source_vectors=str(FIXTURES / "vectors" / "wiki.multi.es.vec"),
        target_vectors=str(FIXTURES / "vectors" / "wiki.multi.nl.vec"),
    )
    assert translator.translate(["en", "el", "xyzzy"]) == ["in", "de", "xyzzy"]
    unrelated = tmp_path / "en-xx.txt"
    unrelated.write_text("zebra zebra\n", encoding="utf-8")
    with pytest.raises(InputFormatError, match=r"en-xx.txt: no English word of it is in .*en-nl.txt"):
        ContextDictionaryTranslator(
            dictionary=str(FIXTURES / "dictionaries" / "en-nl.txt"),
            pivot_dictionary=str(unrelated),
            source_vectors=str(FIXTURES / "vectors" / "wiki.multi.es.vec"),
            target_vectors=str(FIXTURES / "vectors" / "wiki.multi.nl.vec"),
        )
