"""
The one table of the languages this package knows (`languages.json`, beside this module), read
by the predictor (spaCy tokenizers), the alignment tools (Snowball stemmers, dictionary file
names), `scripts/reproduce.py` (data files) and the jsonnet configs, which import the same
JSON file (`training_configs/base.libsonnet`).

Per language:

- `name`; `file_codes`, the codes its data files use (`esp.testa`, `deu.testa`);
- `snowball`, NLTK's Snowball stemmer name or null;
- `capitalizes_nouns`; `lowercases_adjectives` (adjectives of nationality: German "deutsche",
  Spanish "alemán");
- `train` / `dev` / `test`, the labelled CoNLL files under the shared data root with their
  encoding (null where there is none); a training file's `noun_tags` / `adjective_tags` are the
  POS tags of its common nouns and adjectives, for `capitalize_nouns` / `lowercase_adjectives`;
- `romanized_match` (optional), how `xner-align --compose romanized` matches a romanized word
  to an English one (`drop_final`: the inherent vowel uroman writes out; `suffixes`: case
  endings);
- `source_extra` / `target_extra`, reader options of that language's experiments (e.g.
  Bengali's `TIM` tag mapped to O);
- `function_words` (optional), frequent short words that tell the language from the others
  of the table written in the same script, and `letters` (optional), letters that the others
  hardly use (Spanish "ñ", German "ß"); `script` (optional), the first and last code point
  of the Unicode block of a language whose script is its own (Bengali): `detect_language`.

"xx" is spaCy's multilingual tokenizer, for any other text.
"""

import json
import os
import re
from typing import Any, Dict, Optional

_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "languages.json")

with open(_PATH, encoding="utf-8") as _handle:
    LANGUAGES: Dict[str, Dict[str, Any]] = json.load(_handle)

DEFAULT_LANGUAGE = "xx"


def language_info(code: str) -> Dict[str, Any]:
    """The table's entry of `code`; a `ValueError` listing the known codes otherwise."""
    try:
        return LANGUAGES[code]
    except KeyError:
        known = ", ".join(f"{c} ({entry['name']})" for c, entry in LANGUAGES.items())
        raise ValueError(f"unknown language {code!r}: expected one of {known}") from None


def language_of_code(file_code: str) -> Optional[str]:
    """The language whose data files use `file_code` (`esp` -> `es`), or None."""
    lowered = file_code.lower()
    for code, entry in LANGUAGES.items():
        if lowered in entry["file_codes"]:
            return code
    return None


_FUNCTION_WORDS = {
    code: frozenset(entry["function_words"])
    for code, entry in LANGUAGES.items()
    if entry.get("function_words")
}
_LETTERS = {code: frozenset(LANGUAGES[code].get("letters", "")) for code in _FUNCTION_WORDS}
_SCRIPTS = {code: tuple(entry["script"]) for code, entry in LANGUAGES.items() if entry.get("script")}
_WORD = re.compile(r"\w+")


def detect_language(text: str) -> str:
    """
    The table's language `text` is most likely written in, else `DEFAULT_LANGUAGE`: a language
    with a script of its own when most letters are in it, otherwise the one with most words
    that are its `function_words` or hold its `letters` (a tie, or none at all, is
    `DEFAULT_LANGUAGE`). Meant for choosing a tokenizer, which is why a guess that is not sure
    falls back to the multilingual one rather than to a wrong language's.
    """
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return DEFAULT_LANGUAGE
    for code, (first, last) in _SCRIPTS.items():
        inside = sum(1 for c in letters if first <= ord(c) <= last)
        if inside * 2 > len(letters):
            return code
    words = _WORD.findall(text.lower())
    scores = {
        code: sum(1 for w in words if w in vocabulary or not _LETTERS[code].isdisjoint(w))
        for code, vocabulary in _FUNCTION_WORDS.items()
    }
    best = max(scores.values(), default=0)
    leaders = [code for code, score in scores.items() if score == best]
    return leaders[0] if best > 0 and len(leaders) == 1 else DEFAULT_LANGUAGE
