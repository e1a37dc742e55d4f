import pytest

from xner_allennlp.common.languages import DEFAULT_LANGUAGE, LANGUAGES, detect_language


@pytest.mark.parametrize(
    "language, text",
    [
        ("es", "Inés visitó Bruselas con la Comisión Europea en marzo para la cumbre."),
        ("nl", "De minister van Buitenlandse Zaken sprak in Den Haag met Jan Peeters."),
        ("de", "Angela Merkel traf den Vorstand der Deutschen Bank in Frankfurt."),
        ("en", "John Smith joined the United Nations in New York at the end of the year."),
        ("bn", "ঢাকা বিশ্ববিদ্যালয়ে শেখ হাসিনা বক্তৃতা দিলেন।"),
        # A few Latin letters (a name) inside Bengali text do not outvote its script.
        ("bn", "ঢাকায় Google এর অফিস খুলেছে।"),
    ],
)
def test_detects_the_language_of_a_sentence(language, text):
    assert detect_language(text) == language


@pytest.mark.parametrize("text", ["", "   ", "1999 - 2000", "Paris", "Madrid Barcelona"])
def test_unsure_is_the_multilingual_default(text):
    # No function word and no script of its own: the multilingual tokenizer, not a guess.
    assert detect_language(text) == DEFAULT_LANGUAGE


def test_letters_of_one_language_count():
    assert detect_language("Muñoz y Gutiérrez") == "es"
    assert detect_language("Straße in Köln") == "de"


def test_a_tie_is_the_multilingual_default():
    # "der" (German) and "het" (Dutch) once each.
    assert detect_language("der het") == DEFAULT_LANGUAGE


def test_function_words_tell_apart_the_languages_that_share_a_script():
    lists = {
        code: set(entry["function_words"]) for code, entry in LANGUAGES.items() if "function_words" in entry
    }
    assert set(lists) == {"en", "es", "nl", "de"}
    for code, words in lists.items():
        others = set().union(*(w for c, w in lists.items() if c != code))
        # Most of each list is the language's own: a shared word cannot decide alone.
        assert len(words - others) >= 15, code
