import os
import re
from typing import Any, Dict, Optional, Union

import torch
from allennlp.common import Params
from allennlp.data import Vocabulary
from allennlp.models import Model
from allennlp.training.metrics import Metric
from allennlp_models.tagging.models.crf_tagger import CrfTagger

from xner_allennlp.common.languages import language_of_code
from xner_allennlp.speed.batched_crf import batched_crf as _batched
from xner_allennlp.training.span_f1 import DistributedSpanBasedF1Measure


@Model.register("xner_crf_tagger")
class XnerCrfTagger(CrfTagger):
    """
    The stock allennlp-models `crf_tagger`: same constructor and parameters, same forward pass,
    same weights, same metrics, plus three things:

    * `xner_tagger` is its `default_predictor`, so `allennlp predict model.tar.gz input.txt`
      needs no `--predictor`; the predictor tokenizes in `target_language`.
    * Its span F1 is `DistributedSpanBasedF1Measure`: the same counts and numbers as
      `span_f1` in one process, added up across workers under allennlp's `distributed` training
      (where allennlp 2.10's own span metric refuses to run).
    * With `batched_crf` (the default) its CRF computes with batched tensor operations
      (`xner_allennlp.speed.batched_crf`): Viterbi decoding of the whole batch at once (the
      same paths and scores; crf_tagger decodes every batch, training batches included, and
      allennlp's decoder goes sentence by sentence) and the log-likelihood's gradient from
      forward-backward marginals (the same values to float rounding). The CRF's parameters
      are the same either way, so weights load into both.

    Registered as a `Model` with name "xner_crf_tagger".

    # Parameters

    vocab : `Vocabulary`
    target_language : `str`, optional (default = `None`)
        The language the model is meant to tag (`"es"`, `"bn"`...): the `xner_tagger`
        predictor's default tokenizer language (`"auto"`, a model for any target: detected
        per input; `None`: the predictor's default, which is also `"auto"`). Metadata
        only: it changes no computation and no weight. The configs set it (`en_to(lang)`), so
        it is stored in the archive's config.
    batched_crf : `bool`, optional (default = `True`)
        The CRF computes batched (above); `false` leaves allennlp's `ConditionalRandomField`
        as `crf_tagger` builds it. The configs' `speed` field (`XNER_SPEED`) sets it.
    **kwargs
        The parameters of `crf_tagger` (`text_field_embedder`, `encoder`, `label_encoding`,
        `constrain_crf_decoding`, `calculate_span_f1`, `dropout`...).
    """

    default_predictor = "xner_tagger"
    # Set by CrfTagger's constructor (allennlp-models has no type information).
    crf: Optional[torch.nn.Module]
    _f1_metric: Optional[Metric]

    def __init__(
        self,
        vocab: Vocabulary,
        target_language: Optional[str] = None,
        batched_crf: bool = True,
        **kwargs,
    ) -> None:
        # **kwargs: allennlp's from_params passes on the parameters of CrfTagger's constructor.
        super().__init__(vocab, **kwargs)
        self.target_language = target_language
        if batched_crf:
            self.crf = _batched(self.crf)
        if getattr(self, "_f1_metric", None) is not None:
            # Same counts and numbers; also adds them up across distributed workers.
            old = self._f1_metric
            metric = DistributedSpanBasedF1Measure.__new__(DistributedSpanBasedF1Measure)
            metric.__dict__.update(old.__dict__)
            self._f1_metric = metric

    @classmethod
    def _load(cls, config: Params, serialization_dir, weights_file=None, cuda_device: int = -1):
        # Archives trained before `target_language` was a parameter: their predictor used the
        # language of the config's file names, and still does. (Read before loading, which
        # consumes the model's params.)
        legacy = "target_language" not in config.get("model", {})
        language = infer_target_language(config) if legacy else None
        model = super()._load(config, serialization_dir, weights_file, cuda_device)
        if legacy:
            model.target_language = language
        return model


# Only for archives trained before `target_language` was a model parameter
# (`XnerCrfTagger._load`): the language of a file name of the paper's data, by the codes of the
# language table (`common/languages.json`, `file_codes`): MUSE vectors (`wiki.multi.es.vec`),
# CoNLL files (`esp.testa`, `ned.testb`, `deu.testa`, `eng.train`), the Bengali files
# (`bn.test.txt`) and the fixtures (`es.dev`).
_VECTOR_FILE = re.compile(r"[._\-]([a-z]{2,3})\.vec(\.gz)?$")


def _language_of_file(path: Any, vectors: bool) -> Optional[str]:
    if not isinstance(path, str):
        return None
    name = os.path.basename(path).lower()
    if vectors:
        match = _VECTOR_FILE.search(name)
        return (language_of_code(match.group(1)) or match.group(1)) if match else None
    for piece in re.split(r"[._\-]", name):
        language = language_of_code(piece)
        if language:
            return language
    return None


def infer_target_language(config: Union[Params, Dict[str, Any]]) -> Optional[str]:
    """
    The target language of an experiment config that has no `model.target_language` (one
    written before that parameter existed), or `None` when its file names do not tell: the
    language of the vocabulary's `vector_files` (the target vectors, `wiki.multi.XX.vec`), else
    of the `validation_data_path` / `test_data_path` file names (`esp.testa` -> `es`). A config
    with `model.target_language` gives that.

    # Parameters

    config : `Params` or `dict`
        An experiment config (an archive's `config.json`).
    """
    if isinstance(config, Params):
        config = config.as_dict(quiet=True)
    model = config.get("model")
    if isinstance(model, dict) and "target_language" in model:
        return model["target_language"]
    vocabulary = config.get("vocabulary")
    if isinstance(vocabulary, dict):
        files = vocabulary.get("vector_files")
        for path in [files] if isinstance(files, str) else list(files or []):
            language = _language_of_file(path, vectors=True)
            if language:
                return language
    for key in ("validation_data_path", "test_data_path"):
        language = _language_of_file(config.get(key), vectors=False)
        if language:
            return language
    return None
