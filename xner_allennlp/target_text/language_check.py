"""
Whether a file of unlabelled text is in the language it is meant to be: a cache filled for
another language (or by a package whose content changed) would otherwise be tokenized, tagged
and trained on without a word of complaint.

Two measures, per file:

- the script: the share of its letters that are of the language's script (Bengali: U+0980 to
  U+09FF; Latin: Basic Latin, Latin-1 and the Latin Extended blocks), at least
  `LanguageProfile.min_script_share`;
- for a Latin-script language, whose script tells German from English nothing: the share of its
  words that are among the language's commonest function words ("der", "und", "nicht", ...),
  at least `min_function_share` (15 %). Running German, Spanish or Dutch text has 29-37 % of its
  own language's, English and the other two under 9 % (the lists leave out words the languages
  share, such as "in" or "so"). A file of fewer
  than `MIN_WORDS` words (a list of first names) is too short to count them on and is judged by
  its script alone.
"""

import re
import unicodedata
from dataclasses import dataclass
from typing import Dict, FrozenSet, Iterable, Tuple

from xner_allennlp.common.errors import InputFormatError
from xner_allennlp.common.languages import LANGUAGES

MIN_WORDS = 200

_WORD = re.compile(r"[^\W\d_]+")


@dataclass(frozen=True)
class LanguageProfile:
    """
    What text of one language looks like to `check_language`.

    # Parameters

    name : `str`
        For messages ("German").
    script : `str`
        `"Latin"` or `"Bengali"`.
    min_script_share : `float`
        Least share of the letters that must be of `script`.
    function_words : `FrozenSet[str]`
        Lower-case function words of the language; empty for none (a script of its own).
    min_function_share : `float`
        Least share of the words that must be `function_words`.
    """

    name: str
    script: str
    min_script_share: float
    function_words: FrozenSet[str] = frozenset()
    min_function_share: float = 0.0


PROFILES: Dict[str, LanguageProfile] = {
    "bn": LanguageProfile("Bengali", "Bengali", 0.5),
    "de": LanguageProfile(
        "German",
        "Latin",
        0.9,
        frozenset(
            "der die das den dem des und oder ist sind nicht ein eine einen einem einer es er sie "
            "wir ich du sich mit von zu zum zur im auf für auch dass daß wie wenn aber noch nur hat "
            "haben wird werden kann bei aus nach um über wer sein ihre ihr uns mich mir dich".split()
        ),
        0.15,
    ),
    "es": LanguageProfile(
        "Spanish",
        "Latin",
        0.9,
        frozenset(
            "el la los las del y que en un una es se por con para lo al como más pero su sus le ya "
            "fue ha este esta muy sin sobre también hay son está yo".split()
        ),
        0.15,
    ),
    "nl": LanguageProfile(
        "Dutch",
        "Latin",
        0.9,
        frozenset(
            "de het een en van dat niet op te zijn met voor er ook aan maar om als bij wordt door "
            "naar ze hij we ik je werd heeft hebben nog wel uit".split()
        ),
        0.15,
    ),
}


def profile_of(language: str) -> LanguageProfile:
    """The profile of `language`; a `ValueError` naming the languages that have one otherwise."""
    try:
        return PROFILES[language]
    except KeyError:
        raise ValueError(
            f"no language check for {language!r}: unlabelled text is built for "
            f"{', '.join(sorted(PROFILES))}"
        ) from None


# The Bengali block, from the language table (`script`), which `detect_language` reads too.
_BENGALI_FIRST, _BENGALI_LAST = LANGUAGES["bn"]["script"]


def _script_of(char: str) -> str:
    code = ord(char)
    if _BENGALI_FIRST <= code <= _BENGALI_LAST:
        return "Bengali"
    if code < 0x0250 or 0x1E00 <= code <= 0x1EFF:
        return "Latin"
    return "other"


def _is_letter(char: str) -> bool:
    # Bengali vowel signs and the virama are combining marks, not letters, but carry as much of
    # the script as the consonants they join.
    return unicodedata.category(char)[0] in "LM"


def measure(text: str, profile: LanguageProfile) -> Tuple[float, float, int]:
    """(share of the letters in the profile's script, share of the words that are its function
    words, number of words) of `text`; a share is 0 where there is nothing to count."""
    letters = [c for c in text if _is_letter(c)]
    in_script = sum(1 for c in letters if _script_of(c) == profile.script)
    words = _WORD.findall(text.lower())
    functional = sum(1 for w in words if w in profile.function_words)
    return (
        in_script / len(letters) if letters else 0.0,
        functional / len(words) if words else 0.0,
        len(words),
    )


def check_language(paragraphs: Iterable[str], language: str, path: str, hint: str = "") -> None:
    """
    Raises an `InputFormatError` naming `path` when the text of `paragraphs` (the whole of the
    file at `path`) is not of `language` by the measures of the module's docstring; `hint` is
    added to the message (what to do about it).
    """
    profile = profile_of(language)
    text = "\n".join(paragraphs)
    script_share, function_share, words = measure(text, profile)
    expected = f"expected {profile.name} ({language}) text"
    suffix = f"; {hint}" if hint else ""
    if script_share < profile.min_script_share:
        raise InputFormatError(
            path,
            None,
            f"{script_share:.0%} of its letters are {profile.script} script; {expected}, at least "
            f"{profile.min_script_share:.0%} {profile.script} letters{suffix}",
        )
    if profile.function_words and words >= MIN_WORDS and function_share < profile.min_function_share:
        examples = ", ".join(sorted(profile.function_words)[:6])
        raise InputFormatError(
            path,
            None,
            f"{function_share:.1%} of its {words} words are common {profile.name} function words "
            f"({examples}, ...); {expected}, at least {profile.min_function_share:.0%}{suffix}",
        )
