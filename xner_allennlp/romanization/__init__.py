from xner_allennlp.romanization.romanizer import IdentityRomanizer, Romanizer, UromanRomanizer
