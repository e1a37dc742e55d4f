"""
Vectors composed from a word's hashed character n-grams inside the model, so that a word with
no vector gets one at predict time too (the `aligned_vectors` embedder's `composition`).
"""

import logging
from typing import Any, Optional, Sequence, Tuple

import torch
from allennlp.common import FromParams
from allennlp.common.checks import ConfigurationError

from xner_allennlp.alignment.composition import MAX_N, MIN_N, ngram_hashes, read_saved_composer

logger = logging.getLogger(__name__)


class SubwordComposition(torch.nn.Module, FromParams):
    """
    A frozen `SubwordComposer` (`alignment.composition`) fitted on the target table by
    `allennlp xner-align --method projection --composition-model`: a word's vector is the mean
    of the rows of all its n-gram hashes (zero for an n-gram no table word has), normalised to
    unit length like the projected rows. A word none of whose n-grams occurs in the table gets
    none (`found` is false) and keeps the row it had.

    The rows are buffers, so they are saved in the archive: allennlp drops `pretrained_file`
    when it loads a model, and the buffers then take the archive's shapes, so the file need not
    exist at predict time.

    # Parameters

    pretrained_file : `str`, optional (default = `None`)
        The `.npz` file `xner-align --composition-model` wrote (`composition-<lang>.npz`).
        Required when training; `None` only when the rows come from an archive.
    """

    # Buffers: the composer's [min_n, max_n, buckets]; bucket -> row (-1: a zero row); rows.
    settings: torch.Tensor
    bucket_rows: torch.Tensor
    rows: torch.Tensor

    def __init__(self, pretrained_file: Optional[str] = None) -> None:
        super().__init__()
        if pretrained_file is None:
            settings = torch.tensor([MIN_N, MAX_N, 1])
            bucket_rows = torch.full((1,), -1, dtype=torch.int32)
            rows = torch.zeros((0, 0))
        else:
            (min_n, max_n, buckets), _, used, matrix = read_saved_composer(pretrained_file)
            if (min_n, max_n) != (MIN_N, MAX_N):
                raise ConfigurationError(
                    f"{pretrained_file}: n-grams of lengths {min_n}-{max_n}, but the "
                    f"`single_id_with_ngrams` indexer hashes {MIN_N}-{MAX_N}"
                )
            settings = torch.tensor([min_n, max_n, buckets])
            bucket_rows = torch.full((buckets,), -1, dtype=torch.int32)
            bucket_rows[torch.from_numpy(used)] = torch.arange(len(used), dtype=torch.int32)
            rows = torch.from_numpy(matrix)
            logger.info("subword composition: %d of %d buckets from %s", len(used), buckets, pretrained_file)
        self.register_buffer("settings", settings)
        self.register_buffer("bucket_rows", bucket_rows)
        self.register_buffer("rows", rows)

    @property
    def dim(self) -> int:
        return self.rows.size(1)

    def _load_from_state_dict(self, state_dict, prefix, *args: Any, **kwargs: Any) -> None:
        # Built without its file (archive loading): take the saved shapes before copying.
        for name in ("settings", "bucket_rows", "rows"):
            saved = state_dict.get(prefix + name)
            if saved is not None and saved.shape != getattr(self, name).shape:
                setattr(self, name, torch.empty_like(saved, device=getattr(self, name).device))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, hashes: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """
        `hashes`: (..., n) n-gram hashes of each word (`ngram_hashes`), padded with -1. Returns
        the composed vectors (..., dim) and whether each word got one (...).
        """
        valid = hashes >= 0
        row = self.bucket_rows[torch.where(valid, hashes, 0) % self.settings[2]].long()
        known = valid & (row >= 0)
        gathered = self.rows[row.clamp(min=0)] * known.unsqueeze(-1)
        total = gathered.sum(dim=-2) / valid.sum(dim=-1, keepdim=True).clamp(min=1)
        norm = total.norm(dim=-1, keepdim=True)
        found = norm.squeeze(-1) > 1e-6
        return total / norm.clamp(min=1e-12), found

    def compose(self, words: Sequence[str]) -> Tuple[torch.Tensor, torch.Tensor]:
        """`forward` for words given as strings (hashed here), without gradients."""
        hashes = [ngram_hashes(word) for word in words]
        padded = torch.full((len(hashes), max(map(len, hashes), default=0)), -1, dtype=torch.long)
        for row, values in enumerate(hashes):
            padded[row, : len(values)] = torch.tensor(values)
        with torch.no_grad():
            return self(padded.to(self.rows.device))
