"""
Zero-shot cross-lingual NER for AllenNLP. Importing the package registers every component
(allennlp imports it through `.allennlp_plugins`).
"""
from xner_allennlp.common.config_vars import define_config_variables

define_config_variables()

from xner_allennlp import (  # noqa: E402,F401
    commands,
    data,
    dataset_readers,
    predictors,
    romanization,
    token_embedders,
    training,
    translation,
)
