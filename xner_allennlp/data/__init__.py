from xner_allennlp.data.romanized_token import RomanizedToken
from xner_allennlp.data.token_indexers import RomanizedCharactersIndexer
from xner_allennlp.data.vector_vocabulary import VectorVocabulary

__all__ = [
    "RomanizedToken",
    "RomanizedCharactersIndexer",
    "VectorVocabulary",
]
