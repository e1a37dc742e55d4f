from xner_allennlp.translation.translator import Translator
from xner_allennlp.translation.context_dictionary import (
    ContextDictionaryTranslator,
    TranslationStats,
)

# The package's MUSE dictionary parser, exported here for the translator's users (benchmarks).
from xner_allennlp.common.dictionary import read_dictionary
