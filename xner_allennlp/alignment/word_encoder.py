"""
Vectors of words out of context from a multilingual transformers encoder.

A multilingual encoder has read the target language, which the dictionary-projected table has
not: a Bengali word outside the en-bn dictionary still gets a meaningful vector from it. The
`encoder` composition (`alignment.composition.EncoderComposer`) maps these vectors into the
table's space, and the romanized match uses them to tell a transliterated name ("ঢাকা" ->
"dhaka") from a chance spelling ("করতে", "to do" -> "karate").
"""

import logging
from typing import Sequence

import numpy as np
import torch
from allennlp.common.checks import ConfigurationError

from xner_allennlp.pretrained.resolve import resolve_encoder

logger = logging.getLogger(__name__)


class BareWordEncoder:
    """
    Encodes each word alone (`<s> word </s>`) and averages the states of its sub-tokens in
    one layer, special tokens left out.

    # Parameters

    model_name : `str`
        A transformers checkpoint directory (e.g. the one `allennlp xner-encoder` writes).
    layer : `int`, optional (default = `-1`)
        Which hidden state: 0 is the embedding layer, -1 the last layer.
    batch_size : `int`, optional (default = `512`)
        Words per forward pass.
    max_length : `int`, optional (default = `24`)
        Sub-tokens per word, special tokens included; longer words are cut.
    """

    def __init__(self, model_name: str, layer: int = -1, batch_size: int = 512, max_length: int = 24) -> None:
        from transformers import AutoModel, AutoTokenizer

        if batch_size < 1 or max_length < 3:
            raise ConfigurationError(
                "BareWordEncoder needs batch_size >= 1 and max_length >= 3, "
                f"got {batch_size} and {max_length}"
            )
        source = resolve_encoder(model_name)
        self.model_name = model_name
        self._tokenizer = AutoTokenizer.from_pretrained(source)
        self._model = AutoModel.from_pretrained(source).eval()
        layers = self._model.config.num_hidden_layers + 1
        if not -layers <= layer < layers:
            raise ConfigurationError(
                f"layer {layer} does not exist: {model_name} has hidden states 0-{layers - 1}"
            )
        self.layer = layer
        self.batch_size = batch_size
        self.max_length = max_length
        self.dim = self._model.config.hidden_size

    def __call__(self, words: Sequence[str]) -> np.ndarray:
        rows = []
        with torch.no_grad():
            for start in range(0, len(words), self.batch_size):
                batch = list(words[start : start + self.batch_size])
                inputs = self._tokenizer(
                    batch,
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                    return_special_tokens_mask=True,
                )
                special = inputs.pop("special_tokens_mask")
                states = self._model(**inputs, output_hidden_states=True).hidden_states[self.layer]
                mask = (inputs["attention_mask"] * (1 - special)).unsqueeze(-1).to(states.dtype)
                rows.append(((states * mask).sum(1) / mask.sum(1).clamp(min=1)).numpy())
        return np.concatenate(rows).astype(np.float32) if rows else np.zeros((0, self.dim), np.float32)

    def paired_similarity(self, first: Sequence[str], second: Sequence[str]) -> np.ndarray:
        """
        Cosine of `first[i]` and `second[i]`, after removing the mean vector of both lists:
        bare-word vectors share a large common direction that makes any two words look alike.
        """
        if len(first) != len(second):
            raise ValueError(
                f"paired_similarity needs lists of one length, got {len(first)} and {len(second)}"
            )
        if not first:
            return np.zeros(0, np.float32)
        vectors = self(list(first) + list(second))
        vectors -= vectors.mean(axis=0)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return (vectors[: len(first)] * vectors[len(first) :]).sum(axis=1)
