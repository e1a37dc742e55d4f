from xner_allennlp.commands.translate import XnerTranslate  # noqa: F401
from xner_allennlp.commands.align import XnerAlign  # noqa: F401
from xner_allennlp.commands.report import XnerReport  # noqa: F401
from xner_allennlp.commands.encoder import XnerEncoder  # noqa: F401
from xner_allennlp.commands.self_train import XnerSelfTrain  # noqa: F401
from xner_allennlp.commands.predict import XnerPredict  # noqa: F401
