import os
import re
from typing import Any, Dict, Optional, Union

from allennlp.common import Params
from allennlp.data import Vocabulary
from allennlp.models import Model
from allennlp_models.tagging.models.crf_tagger import CrfTagger

from xner_allennlp.modules.conditional_random_field import batched_crf
from xner_allennlp.training.span_f1 import DistributedSpanBasedF1Measure

# Code of a language as it appears in file names of the paper's data: MUSE vectors
# (`wiki.multi.es.vec`), CoNLL files (`esp.testa`, `ned.testb`, `deu.testa`, `eng.train`), the
# Bengali files (`bn.test.txt`) and the fixtures (`es.dev`).
_FILE_LANGUAGE = {
    "en": "en",
    "eng": "en",
    "es": "es",
    "esp": "es",
    "nl": "nl",
    "ned": "nl",
    "de": "de",
    "deu": "de",
    "bn": "bn",
    "ben": "bn",
}
_VECTOR_FILE = re.compile(r"[._\-]([a-z]{2,3})\.vec(\.gz)?$")


def _language_of_file(path: Any, vectors: bool) -> Optional[str]:
    if not isinstance(path, str):
        return None
    name = os.path.basename(path).lower()
    if vectors:
        match = _VECTOR_FILE.search(name)
        return _FILE_LANGUAGE.get(match.group(1), match.group(1)) if match else None
    for piece in re.split(r"[._\-]", name):
        if piece in _FILE_LANGUAGE:
            return _FILE_LANGUAGE[piece]
    return None


def infer_target_language(config: Union[Params, Dict[str, Any]]) -> Optional[str]:
    """
    The target language of an experiment config, or `None` when it cannot be told: the
    language of the vocabulary's `vector_files` (the target vectors, `wiki.multi.XX.vec`), else
    of the `validation_data_path` / `test_data_path` file names (`esp.testa` -> `es`).
    """
    if isinstance(config, Params):
        config = config.as_dict(quiet=True)
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


@Model.register("xner_crf_tagger")
class XnerCrfTagger(CrfTagger):
    """
    The stock allennlp-models `crf_tagger`, unchanged: same constructor and parameters, same
    forward pass, same weights, same metrics. It exists so that the configs' model names
    `xner_tagger` as its `default_predictor`, which makes
    `allennlp predict model.tar.gz input.txt` work without `--predictor`, and so that its
    CRF computes with batched tensor operations
    (`xner_allennlp.modules.conditional_random_field`): Viterbi decoding of the whole batch at
    once (the same paths and scores; crf_tagger decodes every batch, training batches
    included, and allennlp's decoder goes sentence by sentence) and the log-likelihood's
    gradient from forward-backward marginals (the same values to float rounding).

    Its span F1 is `DistributedSpanBasedF1Measure`: the same counts and numbers as
    `span_f1` in one process, added up across workers under allennlp's `distributed` training
    (where allennlp 2.10's own span metric refuses to run).

    The one addition is metadata: a model loaded from an archive gets a `target_language`
    attribute (e.g. `"es"`, or `None`), read from the archive's config by
    `infer_target_language`; the `xner_tagger` predictor uses it as its default tokenizer
    language. It is not a parameter and is not saved.

    Registered as a `Model` with name "xner_crf_tagger".
    """

    default_predictor = "xner_tagger"
    target_language: Optional[str] = None

    def __init__(self, vocab: Vocabulary, **kwargs) -> None:
        # **kwargs: allennlp's from_params takes the parameters of CrfTagger's constructor.
        super().__init__(vocab, **kwargs)
        self.crf = batched_crf(self.crf)
        if getattr(self, "_f1_metric", None) is not None:
            # Same counts and numbers; also adds them up across distributed workers.
            old = self._f1_metric
            metric = DistributedSpanBasedF1Measure.__new__(DistributedSpanBasedF1Measure)
            metric.__dict__.update(old.__dict__)
            self._f1_metric = metric

    @classmethod
    def _load(cls, config: Params, serialization_dir, weights_file=None, cuda_device: int = -1):
        model = super()._load(config, serialization_dir, weights_file, cuda_device)
        model.target_language = infer_target_language(config)
        return model
