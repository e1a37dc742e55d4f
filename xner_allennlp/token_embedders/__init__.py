from xner_allennlp.speed.unique_character_encoding import UniqueCharacterEncoder
from xner_allennlp.token_embedders.aligned_vectors import AlignedVectorsEmbedder
from xner_allennlp.token_embedders.cached_transformer_mismatched import (
    CachedTransformerMismatchedEmbedder,
)

__all__ = [
    "UniqueCharacterEncoder",
    "AlignedVectorsEmbedder",
    "CachedTransformerMismatchedEmbedder",
]
