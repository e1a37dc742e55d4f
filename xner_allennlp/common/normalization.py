"""
The word forms every part of the package agrees on: the paper's word normalisation (which
decides the vector a word gets, so the reader, the translator and `xner-align` must apply the
same one), the shape of an NER tag, and how a translation takes the capitalisation of the word
it replaces.
"""

import re

_NUMBER = re.compile(r"[+\-]?(\d+([.,:/\-']\d+)*|[.,]\d+)(%|st|nd|rd|th|s)?", re.IGNORECASE)
_URL = re.compile(r"((https?|ftp)://|www\.)\S+|\S+\.(com|org|net|edu|gov)(/\S*)?", re.IGNORECASE)

NUMBER_TOKEN = "num"
URL_TOKEN = "url"


# An NER tag as the CoNLL files write it: O, or an IOB1 / IOB2 / BIOES / BIOUL prefix and a type.
TAG_PATTERN = re.compile(r"O|[BIELSU]-\S+")


def normalize_word(
    word: str, lowercase: bool = True, replace_numbers: bool = True, replace_urls: bool = True
) -> str:
    """
    The paper's word normalisation: URLs become `url`, numbers (`1,234.5`, `12/03`, `3rd`,
    `1990s`, `45%`) become `num`, everything else is lowercased. The aligned vectors are
    lowercase, so this decides which vector a word gets.

    # Parameters

    word : `str`
    lowercase : `bool`, optional (default = `True`)
    replace_numbers : `bool`, optional (default = `True`)
    replace_urls : `bool`, optional (default = `True`)
        Each step can be turned off (the reader's parameters of the same names).
    """
    if replace_urls and _URL.fullmatch(word):
        return URL_TOKEN
    if replace_numbers and _NUMBER.fullmatch(word):
        return NUMBER_TOKEN
    return word.lower() if lowercase else word


def transfer_case(source: str, translated: str) -> str:
    """
    `translated` (a lowercase dictionary word) with the capitalisation of the word `source` it
    replaces: all capitals for an all-capital word of two or more letters, a capital initial
    for a capitalised one, unchanged otherwise.
    """
    if source.isupper() and len(source) > 1:
        return translated.upper()
    if source[:1].isupper():
        return translated[:1].upper() + translated[1:]
    return translated
