from xner_allennlp.data.token_indexers.romanized_characters_indexer import RomanizedCharactersIndexer
from xner_allennlp.data.token_indexers.single_id_with_ngrams_indexer import SingleIdWithNgramsIndexer
from xner_allennlp.data.token_indexers.surface_transformer_indexer import (
    SurfaceTransformerMismatchedIndexer,
)

__all__ = [
    "RomanizedCharactersIndexer",
    "SingleIdWithNgramsIndexer",
    "SurfaceTransformerMismatchedIndexer",
]
