from xner_allennlp.romanization.romanizer import IdentityRomanizer, Romanizer, UromanRomanizer

__all__ = [
    "IdentityRomanizer",
    "Romanizer",
    "UromanRomanizer",
]
