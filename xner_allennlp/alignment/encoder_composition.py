"""
Vectors for words outside a static table from a multilingual encoder: each word alone (no
context) is run through the encoder, its pieces' hidden states averaged over a band of layers
and over the pieces, and a ridge-regression map, fitted on the table's own words, takes those
features into the table's space. The encoder knows the pieces of inflected and compound forms
that no dictionary lists (German compounds, Bengali case endings), so this reaches words that
neither a stem match nor character n-grams fitted on the table can place well.
"""
import logging
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from allennlp.common.checks import ConfigurationError
from allennlp.common.tqdm import Tqdm

logger = logging.getLogger(__name__)


class EncoderComposer:
    """
    Maps bare-word encoder features into a static table's space (same `fit` / `__call__` as
    `SubwordComposer`).

    # Parameters

    encoder : `str`
        A transformers checkpoint directory or model name (`xner-encoder` builds
        multilingual-e5-small offline).
    layers : `Tuple[int, int]`, optional (default = `(4, 12)`)
        Hidden states `first..last` (1 = first layer's output) averaged per piece: e5's last
        layer is trained for sentence embeddings, the middle ones keep more of the word.
    l2 : `float`, optional (default = `1.0`)
        Ridge penalty of the map, relative to the mean squared feature norm.
    max_fit_words : `int`, optional (default = `40000`)
        At most this many table words (the first ones: frequent words come first in
        frequency-sorted tables) fit the map; encoding every word of a large table costs
        minutes on a CPU and adds little.
    batch_size : `int`, optional (default = `256`)
        Words per encoder call.
    """

    def __init__(
        self,
        encoder: str,
        layers: Tuple[int, int] = (4, 12),
        l2: float = 1.0,
        max_fit_words: int = 40000,
        batch_size: int = 256,
    ) -> None:
        if not 1 <= layers[0] <= layers[1]:
            raise ConfigurationError(f"layers must satisfy 1 <= first <= last, got {layers}")
        if l2 <= 0 or max_fit_words < 1 or batch_size < 1:
            raise ConfigurationError(
                f"l2, max_fit_words and batch_size must be positive, got {l2}, {max_fit_words}, {batch_size}"
            )
        from transformers import AutoModel, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(encoder)
        self.model = AutoModel.from_pretrained(encoder).eval()
        count = self.model.config.num_hidden_layers
        if layers[1] > count:
            raise ConfigurationError(f"layers {layers}: {encoder} has {count} layers")
        self.layers, self.l2, self.max_fit_words, self.batch_size = layers, l2, max_fit_words, batch_size
        self.mean: Optional[np.ndarray] = None
        self.weights: Optional[np.ndarray] = None

    def features(self, words: Sequence[str]) -> np.ndarray:
        """Bare-word features, one row per word, in order."""
        first, last = self.layers
        out = np.zeros((len(words), self.model.config.hidden_size), np.float32)
        # Length-sorted batches: bare words differ little in length, but padding still costs.
        order = sorted(range(len(words)), key=lambda i: len(words[i]))
        starts = range(0, len(order), self.batch_size)
        for start in Tqdm.tqdm(starts, desc="encoding words", total=len(starts)):
            chunk = order[start : start + self.batch_size]
            batch = self.tokenizer([words[i] for i in chunk], padding=True, truncation=True,
                                   max_length=32, return_tensors="pt", return_special_tokens_mask=True)
            special = batch.pop("special_tokens_mask")
            with torch.no_grad():
                states = self.model(**batch, output_hidden_states=True).hidden_states
            mixed = torch.stack(states[first : last + 1]).mean(dim=0)
            pieces = (batch["attention_mask"].bool() & ~special.bool()).unsqueeze(-1).float()
            pooled = (mixed * pieces).sum(dim=1) / pieces.sum(dim=1).clamp(min=1.0)
            out[chunk] = pooled.numpy()
        return out

    def fit(self, words: Sequence[str], matrix: np.ndarray) -> "EncoderComposer":
        """Fits the ridge map from the features of (up to `max_fit_words`) `words` to `matrix`."""
        words = list(words[: self.max_fit_words])
        target = np.asarray(matrix[: len(words)], dtype=np.float64)
        feats = self.features(words).astype(np.float64)
        self.mean = feats.mean(axis=0)
        centred = feats - self.mean
        gram = centred.T @ centred
        penalty = self.l2 * np.trace(gram) / gram.shape[0]
        self.weights = np.linalg.solve(gram + penalty * np.eye(gram.shape[0]), centred.T @ target)
        self._target_mean = target.mean(axis=0)
        return self

    def __call__(self, words: Sequence[str]) -> np.ndarray:
        if self.weights is None:
            raise RuntimeError("EncoderComposer.fit must be called first")
        feats = self.features(list(words)).astype(np.float64)
        return ((feats - self.mean) @ self.weights + self._target_mean).astype(np.float32)


def held_out_cosine(
    composer_factory, words: List[str], matrix: np.ndarray, held_out: int = 2000, seed: int = 0
) -> float:
    """Mean cosine between composed and true vectors of `held_out` random table words left out
    of the fit: how well the composition places words it never saw."""
    rng = np.random.RandomState(seed)
    chosen = set(rng.choice(len(words), size=min(held_out, len(words) // 5), replace=False).tolist())
    fit_rows = [i for i in range(len(words)) if i not in chosen]
    test_rows = sorted(chosen)
    composer = composer_factory().fit([words[i] for i in fit_rows], matrix[fit_rows])
    predicted = composer([words[i] for i in test_rows])
    truth = matrix[test_rows]
    cosines = (predicted * truth).sum(1) / (
        np.linalg.norm(predicted, axis=1) * np.linalg.norm(truth, axis=1) + 1e-12
    )
    return float(cosines.mean())
