# The package's MUSE dictionary parser, exported here for the translator's users (benchmarks).
from xner_allennlp.common.dictionary import read_dictionary
from xner_allennlp.translation.context_dictionary import (
    ContextDictionaryTranslator,
    TranslationStats,
)
from xner_allennlp.translation.translator import Translator

__all__ = [
    "read_dictionary",
    "ContextDictionaryTranslator",
    "TranslationStats",
    "Translator",
]
