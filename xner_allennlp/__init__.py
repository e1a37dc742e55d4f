"""
Zero-shot cross-lingual NER for AllenNLP. Importing the package registers every component
(allennlp imports it through `.allennlp_plugins`).
"""

import warnings as _warnings

# Third-party warnings that every allennlp start prints and that no user can act on, each
# silenced by the module that raises it (nothing else is filtered): google-api-core's "Python
# 3.10 is not supported" FutureWarning, fairscale's torch.cuda.amp FutureWarnings, setuptools'
# "pkg_resources is deprecated" UserWarning (raised for the importing module, so matched by its
# message), allennlp's torch.load(weights_only) FutureWarning when it loads an archive, and
# torch's set_default_tensor_type UserWarning that thinc (spaCy) triggers. A plugin import comes
# after allennlp's own imports in the `allennlp` command, so there it silences what comes
# later; `import xner_allennlp` first (the Python API) silences them all.
for _category, _message, _module in (
    (FutureWarning, "", r"google\.api_core(\.|$)"),
    (FutureWarning, "", r"fairscale(\.|$)"),
    (UserWarning, r"pkg_resources is deprecated", ""),
    (FutureWarning, r"You are using `torch\.load` with `weights_only=False`", r"allennlp\.nn\.util$"),
    (UserWarning, r"torch\.set_default_tensor_type\(\) is deprecated", r"torch(\.|$)"),
):
    _warnings.filterwarnings("ignore", message=_message, category=_category, module=_module)

from xner_allennlp.common.config_vars import define_config_variables  # noqa: E402

define_config_variables()

# allennlp-models' tagging pieces only (the crf_tagger model, imported by `models`): the rest of
# allennlp-models is never imported by this package (the `allennlp` command imports it anyway).
from xner_allennlp import (  # noqa: E402
    commands,
    data,
    dataset_readers,
    models,
    modules,
    predictors,
    pretrained,
    romanization,
    speed,
    token_embedders,
    training,
    translation,
)
from xner_allennlp.tagger import Tagger  # noqa: E402

__all__ = [
    "Tagger",
    "commands",
    "data",
    "dataset_readers",
    "models",
    "modules",
    "predictors",
    "pretrained",
    "romanization",
    "speed",
    "token_embedders",
    "training",
    "translation",
]
