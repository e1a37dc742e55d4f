from xner_allennlp.models.crf_tagger import XnerCrfTagger, infer_target_language

__all__ = [
    "XnerCrfTagger",
    "infer_target_language",
]
