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
  Bengali's `TIM` tag mapped to O).

"xx" is spaCy's multilingual tokenizer, for any other text.
"""

import json
import os
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
