from xner_allennlp.translation.translator import Translator
from xner_allennlp.translation.context_dictionary import (
    ContextDictionaryTranslator,
    TranslationStats,
    read_dictionary,
)
