import itertools
from typing import Dict, List

import torch
from allennlp.data import Token, Vocabulary
from allennlp.data.token_indexers import SingleIdTokenIndexer, TokenIndexer
from allennlp.data.token_indexers.token_indexer import IndexedTokenList

from xner_allennlp.alignment.composition import ngram_hashes


@TokenIndexer.register("single_id_with_ngrams")
class SingleIdWithNgramsIndexer(SingleIdTokenIndexer):
    """
    `single_id`'s word ids (`tokens`), plus the hashed character n-grams (`ngrams`,
    `alignment.composition.ngram_hashes` of the same text) of every word that is not in the
    vocabulary, so that the `aligned_vectors` embedder's `composition` can give a word first
    seen at evaluate or predict time a vector from its form. Words of the vocabulary get no
    n-grams (their rows are built when the embedder is): training batches carry almost none.

    Registered as a `TokenIndexer` with name "single_id_with_ngrams".

    # Parameters

    Those of `single_id` (`namespace`, `lowercase_tokens`, `start_tokens`, `end_tokens`,
    `feature_name`, `default_value`, `token_min_padding_length`).
    """

    def tokens_to_indices(self, tokens: List[Token], vocabulary: Vocabulary) -> Dict[str, List]:
        indexed: Dict[str, List] = dict(super().tokens_to_indices(tokens, vocabulary))
        if self.namespace is None:
            raise ValueError("single_id_with_ngrams needs a vocabulary namespace")
        oov = vocabulary.get_token_index(vocabulary._oov_token, self.namespace)
        ngrams: List[List[int]] = []
        for token, index in zip(
            itertools.chain(self._start_tokens, tokens, self._end_tokens), indexed["tokens"]
        ):
            if index != oov:
                ngrams.append([])
                continue
            text = self._get_feature_value(token)
            ngrams.append(ngram_hashes(text.lower() if self.lowercase_tokens else text))
        indexed["ngrams"] = ngrams
        return indexed

    def get_empty_token_list(self) -> IndexedTokenList:
        return {"tokens": [], "ngrams": []}

    def get_padding_lengths(self, indexed_tokens: IndexedTokenList) -> Dict[str, int]:
        length = max(len(indexed_tokens["tokens"]), self._token_min_padding_length)
        return {
            "tokens": length,
            "ngrams": length,
            "num_ngrams": max((len(n) for n in indexed_tokens["ngrams"]), default=0),
        }

    def as_padded_tensor_dict(
        self, tokens: IndexedTokenList, padding_lengths: Dict[str, int]
    ) -> Dict[str, torch.Tensor]:
        padded = super().as_padded_tensor_dict(
            {"tokens": tokens["tokens"]}, {"tokens": padding_lengths["tokens"]}
        )
        # -1 pads both ways: a hash is never negative.
        ngrams = torch.full((padding_lengths["ngrams"], padding_lengths["num_ngrams"]), -1, dtype=torch.long)
        for position, hashes in enumerate(tokens["ngrams"][: padding_lengths["ngrams"]]):
            if hashes:
                ngrams[position, : len(hashes)] = torch.tensor(hashes[: padding_lengths["num_ngrams"]])
        padded["ngrams"] = ngrams
        return padded
