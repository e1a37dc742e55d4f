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
    """
    if replace_urls and _URL.fullmatch(word):
        return URL_TOKEN
    if replace_numbers and _NUMBER.fullmatch(word):
        return NUMBER_TOKEN
    return word.lower() if lowercase else word
