from xner_allennlp.commands.align import XnerAlign
from xner_allennlp.commands.cache import XnerCache
from xner_allennlp.commands.encoder import XnerEncoder
from xner_allennlp.commands.predict import XnerPredict
from xner_allennlp.commands.report import XnerReport
from xner_allennlp.commands.self_train import XnerSelfTrain
from xner_allennlp.commands.serve import XnerServe
from xner_allennlp.commands.target_text import XnerTargetText
from xner_allennlp.commands.translate import XnerTranslate

__all__ = [
    "XnerAlign",
    "XnerCache",
    "XnerEncoder",
    "XnerPredict",
    "XnerReport",
    "XnerSelfTrain",
    "XnerServe",
    "XnerTargetText",
    "XnerTranslate",
]
