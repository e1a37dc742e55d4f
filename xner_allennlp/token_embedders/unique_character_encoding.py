"""Moved to `xner_allennlp.speed.unique_character_encoding`; this path stays importable."""

from xner_allennlp.speed.unique_character_encoding import UniqueCharacterEncoder

__all__ = [
    "UniqueCharacterEncoder",
]
