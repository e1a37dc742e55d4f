from xner_allennlp.predictors.xner_tagger import XnerTaggerPredictor

__all__ = [
    "XnerTaggerPredictor",
]
