"""
The Python API: tag text with a trained archive without a subprocess.

    from xner_allennlp import Tagger
    tagger = Tagger.from_archive("model.tar.gz")
    tagger("Inés visitó Bruselas.")   # {"tokens": [...], "tags": [...], "entities": [...]}

A thin layer over `Predictor.from_path(..., "xner_tagger")`: the same dicts as
`allennlp predict` writes, one per input.
"""

import os
import tarfile
from typing import Any, Dict, List, Optional, Sequence, Union

from allennlp.common.checks import ConfigurationError
from allennlp.common.util import JsonDict
from allennlp.predictors import Predictor

Text = Union[str, Sequence[str]]


class Tagger:
    """
    # Parameters

    predictor : `Predictor`
        An `xner_tagger` predictor (use `Tagger.from_archive`).
    """

    def __init__(self, predictor: Predictor) -> None:
        self.predictor = predictor

    @classmethod
    def from_archive(
        cls,
        archive_file: str,
        language: Optional[str] = None,
        cuda_device: int = -1,
        batch_size: int = 32,
        num_threads: Optional[Union[int, str]] = None,
    ) -> "Tagger":
        """
        Loads `archive_file` (an xner model's `model.tar.gz`). `language` overrides the
        tokenizer language the archive implies; `batch_size` is the predictor's
        `max_batch_size`; `num_threads` as the predictor's.
        """
        from xner_allennlp.models.crf_tagger import XnerCrfTagger

        if not os.path.isfile(archive_file):
            raise FileNotFoundError(f"model archive not found: {archive_file}")
        kwargs: Dict[str, Any] = {"max_batch_size": batch_size}
        if language is not None:
            kwargs["language"] = language
        if num_threads is not None:
            kwargs["num_threads"] = num_threads
        try:
            predictor = Predictor.from_path(archive_file, "xner_tagger", cuda_device=cuda_device, **kwargs)
        except (OSError, EOFError, ValueError, tarfile.TarError) as error:
            raise ConfigurationError(f"{archive_file}: not a readable model archive ({error})") from None
        if not isinstance(predictor._model, XnerCrfTagger):
            raise ConfigurationError(
                f"{archive_file}: not an xner model (model type {type(predictor._model).__name__}; "
                "expected xner_crf_tagger)"
            )
        return cls(predictor)

    @property
    def language(self) -> str:
        # The `xner_tagger` predictor's tokenizer language (not an attribute of `Predictor`).
        language: str = getattr(self.predictor, "language")
        return language

    def __call__(self, text: Text) -> JsonDict:
        """Tags one input: a string (tokenized like `allennlp predict`'s plain lines) or a
        list of words (like `{"tokens": [...]}`)."""
        return self.tag_batch([text])[0]

    def tag_batch(self, texts: Sequence[Text]) -> List[JsonDict]:
        """Tags several inputs at once (batched through the model)."""
        inputs = [{"sentence": t} if isinstance(t, str) else {"tokens": list(t)} for t in texts]
        return self.predictor.predict_batch_json(inputs)
