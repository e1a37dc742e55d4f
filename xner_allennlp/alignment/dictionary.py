"""
Bilingual dictionaries in MUSE format: one `source target` pair a line (space or tab separated),
several lines per word allowed, UTF-8. Parsed by the package's one parser
(`xner_allennlp.common.dictionary`); this module gives the alignment tools their view of it:
distinct pairs, their rows in two vector tables, and the languages a file name says.
"""

import logging
import os
import re
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Tuple

import numpy as np

from xner_allennlp.common.dictionary import read_dictionary
from xner_allennlp.common.errors import InputFormatError

logger = logging.getLogger(__name__)

Pair = Tuple[str, str]

# `en-es.txt`, `en-es.0-5000.txt`, `en-es.train.txt`, `en_es.txt`: language codes of 2-3 letters.
# Any code, not only those of `common.languages`: the code only names the output files.
_FILE_NAME_LANGUAGES = re.compile(r"^([A-Za-z]{2,3})[-_]([A-Za-z]{2,3})(?=$|[._\-])")


def infer_languages(path: str) -> Optional[Tuple[str, str]]:
    """`(source, target)` language codes from a MUSE dictionary file name, or `None`."""
    match = _FILE_NAME_LANGUAGES.match(os.path.basename(str(path)))
    if match is None:
        return None
    return match.group(1).lower(), match.group(2).lower()


def read_dictionary_pairs(path: str, encoding: str = "utf-8") -> List[Pair]:
    """
    The distinct `(source, target)` pairs of a MUSE dictionary, in order of first appearance
    (`common.dictionary.read_dictionary` parses it: blank lines skipped, a line without exactly
    two words raises `InputFormatError` with its line number); a file without any pair is an
    `InputFormatError` too.
    """
    pairs: List[Pair] = []
    seen = set()
    for _, source_word, target_word in read_dictionary(path, encoding):
        pair = (source_word, target_word)
        if pair not in seen:
            seen.add(pair)
            pairs.append(pair)
    if not pairs:
        raise InputFormatError(path, None, "no dictionary pairs found (empty file)")
    return pairs


@dataclass
class DictionaryMatch:
    """
    The pairs of a dictionary whose two words both have vectors, as row indices.

    pairs : `np.ndarray`
        `(n, 2)` int64, `(source row, target row)`, sorted by source row (MUSE's order).
    """

    pairs: np.ndarray
    total: int
    source_found: int
    target_found: int
    path: str = ""

    def __len__(self) -> int:
        return int(self.pairs.shape[0])

    def describe(self) -> str:
        return (
            f"{len(self)} of {self.total} pairs have both words in the vocabularies "
            f"({self.source_found} pairs with a known source word, "
            f"{self.target_found} with a known target word)"
        )


def match_dictionary(
    pairs: List[Pair],
    source_index: Mapping[str, int],
    target_index: Mapping[str, int],
    path: str = "",
) -> DictionaryMatch:
    rows = []
    source_found = target_found = 0
    for source_word, target_word in pairs:
        s = source_index.get(source_word)
        t = target_index.get(target_word)
        source_found += s is not None
        target_found += t is not None
        if s is not None and t is not None:
            rows.append((s, t))
    matched = np.array(sorted(rows), dtype=np.int64).reshape(-1, 2)
    return DictionaryMatch(matched, len(pairs), source_found, target_found, path)


def translations_by_target(pairs: List[Pair]) -> Dict[str, List[str]]:
    """Target word -> its source translations, both in order of first appearance."""
    grouped: Dict[str, List[str]] = {}
    for source_word, target_word in pairs:
        grouped.setdefault(target_word, []).append(source_word)
    return grouped
