"""
The reader's word normalisation, kept importable here for configs, benchmarks and tests; it
lives in `xner_allennlp.common.normalization`, below both the reader and the translator.
"""

from xner_allennlp.common.normalization import (
    NUMBER_TOKEN,
    TAG_PATTERN,
    URL_TOKEN,
    normalize_word,
    transfer_case,
)

__all__ = [
    "NUMBER_TOKEN",
    "TAG_PATTERN",
    "URL_TOKEN",
    "normalize_word",
    "transfer_case",
]
