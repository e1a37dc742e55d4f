import pytest

from xner_allennlp.common.errors import InputFormatError
from xner_allennlp.target_text.language_check import MIN_WORDS, check_language, measure, profile_of

BENGALI = "ঢাকা বাংলাদেশের রাজধানী। শহরটি বুড়িগঙ্গা নদীর তীরে অবস্থিত (Buriganga)।"
GERMAN = "Der Hund ist nicht in der Stadt, aber er wird sich mit uns auf den Weg machen. "
ENGLISH = "The dog is not in the town, but it will go with us on the way there. "


def test_bengali_passes_the_script_check():
    check_language([BENGALI], "bn", "bn.txt")
    # "Buriganga" is 9 of its 60 letters.
    assert measure(BENGALI, profile_of("bn"))[0] == pytest.approx(51 / 60)


def test_latin_text_is_rejected_as_bengali():
    with pytest.raises(InputFormatError) as error:
        check_language([GERMAN, ENGLISH], "bn", "cache/bn/raw/x/ben.txt", "run with --refresh")
    assert str(error.value) == (
        "cache/bn/raw/x/ben.txt: 0% of its letters are Bengali script; expected Bengali (bn) text, "
        "at least 50% Bengali letters; run with --refresh"
    )


def test_bengali_text_is_rejected_as_german_by_its_script():
    with pytest.raises(
        InputFormatError, match=r"^de.txt: 15% of its letters are Latin script; expected German"
    ):
        check_language([BENGALI], "de", "de.txt")


def test_english_is_rejected_as_german_by_its_function_words():
    words = len(ENGLISH.split())
    english = [ENGLISH] * (MIN_WORDS // words + 1)
    with pytest.raises(
        InputFormatError, match=r"^en.txt: 0.0% of its \d+ words are common German function words"
    ):
        check_language(english, "de", "en.txt")
    check_language([GERMAN] * (MIN_WORDS // words + 1), "de", "de.txt")


def test_a_short_file_is_judged_by_its_script_alone():
    # A list of names has no function words, and too few words to count them on.
    check_language(["Anna", "Berta", "Carl Friedrich"], "de", "vornamen")


def test_unknown_language():
    with pytest.raises(ValueError, match="no language check for 'fr'"):
        profile_of("fr")
