import logging
import os
from typing import List, Optional, Union

import numpy as np
import torch
import torch.nn.functional as F
from allennlp.common.checks import ConfigurationError
from allennlp.data import Vocabulary
from allennlp.modules.token_embedders import TokenEmbedder

from xner_allennlp.common.params import as_list
from xner_allennlp.common.vector_math import check_same_dimension
from xner_allennlp.common.word_vectors import WordVectors, load_merged
from xner_allennlp.token_embedders.subword_composition import SubwordComposition

logger = logging.getLogger(__name__)


@TokenEmbedder.register("aligned_vectors")
class AlignedVectorsEmbedder(TokenEmbedder):
    """
    Frozen, cross-lingually aligned word vectors (MUSE `wiki.multi.XX.vec` or anything in the
    same space) for the words of a vocabulary namespace.

    The vector files are merged, the first file winning when a word is in several (the
    paper's de-duplicated source+target table). A vocabulary word with a vector gets it, frozen;
    a word with none gets U[-0.1, 0.1] from a seeded generator, frozen unless `trainable_oov`.
    Padding is zero.

    For zero-shot transfer the vocabulary must already hold the target words that only
    evaluation or prediction will see; the `from_instances_and_vectors` vocabulary does that
    by adding every word of the target vector files. `extend_vocab` (used by
    `allennlp evaluate --extend-vocab`) gives words added later their vectors too.

    When a model is loaded from an archive, allennlp drops `pretrained_file` from the config and
    the weights come from the archive, so the vector files need not exist then.

    With a `composition` (the target table's subword composer), a vocabulary word without a
    vector gets one composed from its character n-grams when the embedder is built, and a word
    outside the vocabulary gets one at evaluate or predict time from the n-grams the
    `single_id_with_ngrams` indexer hashes for it (it needs that indexer; `single_id` gives
    the unknown row as before). A word none of whose n-grams the table has keeps its random
    row.

    Registered as a `TokenEmbedder` with name "aligned_vectors".

    # Parameters

    embedding_dim : `int`
        Dimension of the vectors (checked against the files).
    pretrained_file : `str` or `List[str]`, optional (default = `None`)
        Vector file(s), fastText/MUSE or GloVe text format, optionally gzipped.
    vocab_namespace : `str`, optional (default = `"tokens"`)
    trainable_oov : `bool`, optional (default = `False`)
        Train the rows of words without a vector (the vectors themselves stay frozen).
    oov_seed : `int`, optional (default = `13`)
        Seed of the U[-0.1, 0.1] rows.
    encoding : `str`, optional (default = `"utf-8"`)
        Encoding of the vector files.
    max_words : `int`, optional (default = `None`)
        Read only the first `max_words` rows of each file.
    word_dropout : `float`, optional (default = `0.0`)
        In training, each word's vector is replaced with this probability by a fresh
        U[-0.1, 0.1] row, the kind of row a word without a vector has: the model learns to tag
        from the characters and the context where the vector tells nothing, as it must for a
        target whose words often have no vector (Lample et al. 2016 drop singletons to the
        unknown word for the same reason). Off in evaluation and prediction.
    composition : `SubwordComposition`, optional (default = `None`)
        `{"pretrained_file": "composition-<lang>.npz"}`, written by `allennlp xner-align
        --method projection --composition-model`.
    vocab : `Vocabulary`, supplied by allennlp.
    """

    # Buffers (`register_buffer`): the frozen rows, and which words have a vector.
    weight: torch.Tensor
    has_vector: torch.Tensor

    def __init__(
        self,
        embedding_dim: int,
        pretrained_file: Union[str, List[str], None] = None,
        vocab_namespace: str = "tokens",
        trainable_oov: bool = False,
        oov_seed: int = 13,
        encoding: str = "utf-8",
        max_words: Optional[int] = None,
        word_dropout: float = 0.0,
        composition: Optional[SubwordComposition] = None,
        vocab: Optional[Vocabulary] = None,
    ) -> None:
        super().__init__()
        if vocab is None:
            raise ConfigurationError("aligned_vectors needs the vocabulary")
        if embedding_dim < 1:
            raise ConfigurationError(
                f"aligned_vectors: embedding_dim must be at least 1, got {embedding_dim}"
            )
        if max_words is not None and max_words < 1:
            raise ConfigurationError(f"aligned_vectors: max_words must be at least 1, got {max_words}")
        if not 0.0 <= word_dropout < 1.0:
            raise ConfigurationError(f"aligned_vectors: word_dropout must be in [0, 1), got {word_dropout}")
        self._word_dropout = word_dropout
        self._dim = embedding_dim
        self._namespace = vocab_namespace
        self._trainable_oov = trainable_oov
        self._oov_seed = oov_seed
        self._encoding = encoding
        self._max_words = max_words
        self._files = as_list(pretrained_file)
        if composition is not None and composition.dim and composition.dim != embedding_dim:
            raise ConfigurationError(
                f"aligned_vectors: embedding_dim is {embedding_dim} but the composition's rows "
                f"have dimension {composition.dim}"
            )
        self.composition = composition
        self._oov_index = vocab.get_token_index(vocab._oov_token, vocab_namespace)
        tokens = [
            vocab.get_token_from_index(i, vocab_namespace)
            for i in range(vocab.get_vocab_size(vocab_namespace))
        ]
        table = self._load_table(self._files) if self._files else None
        weight, has_vector = self._build(tokens, table, start=0)
        if table is not None:
            logger.info(
                "aligned_vectors: %d of %d '%s' words have a vector",
                int(has_vector.sum()),
                len(tokens),
                vocab_namespace,
            )
        self.register_buffer("weight", torch.from_numpy(weight))
        self.register_buffer("has_vector", torch.from_numpy(has_vector))
        self._make_oov_parameter()

    def _load_table(self, files: List[str]) -> WordVectors:
        table = load_merged(files, encoding=self._encoding, max_words=self._max_words)
        check_same_dimension(
            self._dim,
            table.dim,
            "embedding_dim",
            ", ".join(files),
            ConfigurationError,
            "{first} is {first_dim} but the vectors in {second} have dimension {second_dim}",
        )
        return table

    def _build(self, tokens: List[str], table: Optional[WordVectors], start: int):
        """Rows for vocabulary entries `start, start+1, ...` (`tokens`)."""
        # Seeded by position so that rebuilding or extending gives the same rows.
        rng = np.random.default_rng([self._oov_seed, start])
        weight = rng.uniform(-0.1, 0.1, size=(len(tokens), self._dim)).astype(np.float32)
        has_vector = np.zeros(len(tokens), dtype=bool)
        if table is not None:
            index = table.index
            rows = [index.get(token, -1) for token in tokens]
            found = np.array([r >= 0 for r in rows], dtype=bool)
            if found.any():
                weight[found] = table.matrix[[r for r in rows if r >= 0]]
            has_vector = found
        if start == 0 and len(tokens):
            weight[0] = 0.0  # padding
            has_vector[0] = True
        if self._composing:
            self._compose_rows(tokens, start, weight, has_vector)
        return weight, has_vector

    @property
    def _composing(self) -> bool:
        # A composition built without its file has no rows until the archive's are loaded.
        return self.composition is not None and self.composition.dim > 0

    def _compose_rows(
        self, tokens: List[str], start: int, weight: np.ndarray, has_vector: np.ndarray
    ) -> None:
        assert self.composition is not None
        positions = [
            i for i, token in enumerate(tokens) if not has_vector[i] and start + i != self._oov_index
        ]
        if not positions:
            return
        composed, found = self.composition.compose([tokens[i] for i in positions])
        placed = np.asarray([p for p, f in zip(positions, found.tolist()) if f], dtype=np.int64)
        if len(placed):
            weight[placed] = composed[found].cpu().numpy()
            has_vector[placed] = True
        logger.info(
            "aligned_vectors: %d of %d words without a vector composed from their n-grams",
            len(placed),
            len(positions),
        )

    def _make_oov_parameter(self) -> None:
        # Full-size so that the parameter's shape depends only on the vocabulary, as archive
        # loading needs; only the rows of words without a vector are ever read.
        self.oov_weight = torch.nn.Parameter(self.weight.clone()) if self._trainable_oov else None

    def composes(self, word: str) -> bool:
        """Whether a word outside the vocabulary gets a vector from the `composition`."""
        if not self._composing:
            return False
        assert self.composition is not None
        return bool(self.composition.compose([word])[1][0])

    def get_output_dim(self) -> int:
        return self._dim

    @property
    def vocab_namespace(self) -> str:
        """The vocabulary namespace whose words this embedder has rows for."""
        return self._namespace

    def forward(self, tokens: torch.Tensor, ngrams: Optional[torch.Tensor] = None) -> torch.Tensor:
        embedded = F.embedding(tokens, self.weight)
        if self.oov_weight is not None:
            embedded = torch.where(
                self.has_vector[tokens].unsqueeze(-1), embedded, F.embedding(tokens, self.oov_weight)
            )
        if ngrams is not None and self._composing and ngrams.size(-1):
            assert self.composition is not None
            # Only words outside the vocabulary have n-grams (`single_id_with_ngrams`).
            unknown = (tokens == self._oov_index) & (ngrams[..., 0] >= 0)
            if unknown.any():
                composed, found = self.composition(ngrams[unknown])
                rows = embedded[unknown]
                embedded = embedded.clone()
                embedded[unknown] = torch.where(found.unsqueeze(-1), composed.to(rows.dtype), rows)
        if self.training and self._word_dropout > 0:
            dropped = (torch.rand(tokens.shape, device=tokens.device) < self._word_dropout) & (tokens != 0)
            if dropped.any():
                embedded = embedded.clone()
                embedded[dropped] = torch.empty(
                    (int(dropped.sum()), self._dim), device=embedded.device, dtype=embedded.dtype
                ).uniform_(-0.1, 0.1)
        return embedded

    def extend_vocab(
        self,
        extended_vocab: Vocabulary,
        vocab_namespace: Optional[str] = None,
        extension_pretrained_file: Optional[str] = None,
        model_path: Optional[str] = None,
    ) -> None:
        """
        Adds rows for words the vocabulary gained after training. They get their vector from
        `extension_pretrained_file` (allennlp's `--embedding-sources-mapping`) or, when that is
        not given, from this embedder's own `pretrained_file`s if they still exist; words with
        no vector get seeded U[-0.1, 0.1] rows.
        """
        namespace = vocab_namespace or self._namespace
        new_size = extended_vocab.get_vocab_size(namespace)
        old_size = self.weight.size(0)
        if new_size <= old_size:
            return
        files = as_list(extension_pretrained_file) or [f for f in self._files if os.path.isfile(f)]
        if not files:
            logger.warning(
                "aligned_vectors: %d new '%s' words but no vector file to look them up in "
                "(pass --embedding-sources-mapping); they get random rows",
                new_size - old_size,
                namespace,
            )
        tokens = [extended_vocab.get_token_from_index(i, namespace) for i in range(old_size, new_size)]
        weight, has_vector = self._build(tokens, self._load_table(files) if files else None, old_size)
        device = self.weight.device
        new_rows = torch.from_numpy(weight).to(device)
        self.weight = torch.cat([self.weight, new_rows])
        self.has_vector = torch.cat([self.has_vector, torch.from_numpy(has_vector).to(device)])
        if self.oov_weight is not None:
            # Keep what training learnt for the old OOV rows.
            self.oov_weight = torch.nn.Parameter(torch.cat([self.oov_weight.detach(), new_rows]))
