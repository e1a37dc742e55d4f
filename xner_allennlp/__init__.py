"""
Zero-shot cross-lingual NER for AllenNLP. Importing the package registers every component
(allennlp imports it through `.allennlp_plugins`).
"""
from xner_allennlp.common.config_vars import define_config_variables

define_config_variables()

# The configs use allennlp-models' crf_tagger; import it directly so that it is registered even
# when another allennlp_models subpackage fails to import.
import allennlp_models.tagging  # noqa: E402,F401

from xner_allennlp import (  # noqa: E402,F401
    commands,
    data,
    dataset_readers,
    models,
    modules,
    predictors,
    pretrained,
    romanization,
    token_embedders,
    training,
    translation,
)
from xner_allennlp.tagger import Tagger  # noqa: E402,F401
