"""
`surface_transformer_mismatched` loads the encoder's tokenizer once (allennlp's tokenizer asks
for it twice, under two cache keys) and indexes as the stock `pretrained_transformer_mismatched`.
"""

import transformers
from allennlp.common import cached_transformers
from allennlp.data import Token, Vocabulary
from allennlp.data.token_indexers import PretrainedTransformerMismatchedIndexer

from tests.token_embedders.test_cached_transformer import SENTENCES, TINY
from xner_allennlp.data.token_indexers.surface_transformer_indexer import SurfaceTransformerMismatchedIndexer


def test_the_tokenizer_is_loaded_once_and_indexes_as_allennlp(monkeypatch):
    cached_transformers._clear_caches()
    loads = []
    original = transformers.AutoTokenizer.from_pretrained

    def counted(*args, **kwargs):
        loads.append(kwargs.get("add_special_tokens"))
        return original(*args, **kwargs)

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", counted)
    ours = SurfaceTransformerMismatchedIndexer(TINY)
    assert loads == [False]
    assert len(cached_transformers._tokenizer_cache) == 2
    assert len({id(t) for t in cached_transformers._tokenizer_cache.values()}) == 1
    cached_transformers._clear_caches()
    stock = PretrainedTransformerMismatchedIndexer(TINY)
    assert loads == [False, False, True]  # allennlp alone: twice
    for sentence in SENTENCES:
        tokens = [Token(w) for w in sentence.split()]
        assert ours.tokens_to_indices(tokens, Vocabulary()) == stock.tokens_to_indices(tokens, Vocabulary())


def test_words_are_encoded_in_one_call_with_allennlps_pieces_and_offsets(monkeypatch):
    from allennlp.data.tokenizers.pretrained_transformer_tokenizer import PretrainedTransformerTokenizer

    ours = SurfaceTransformerMismatchedIndexer(TINY)
    tokenizer = ours._allennlp_tokenizer
    # Words without pieces (empty, a zero-width space) keep their `None` offset.
    words = SENTENCES[3].split() + ["", "\u200b", " ", "Madrid", "a\u0301", "\U0001f600"]
    expected = PretrainedTransformerTokenizer._intra_word_tokenize(tokenizer, words)
    calls = []
    original = type(tokenizer.tokenizer).__call__

    def counted(self, *args, **kwargs):
        calls.append(args[0])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(type(tokenizer.tokenizer), "__call__", counted)
    pieces, offsets = tokenizer._intra_word_tokenize(words)
    assert calls == [words]
    assert offsets == expected[1] and None in offsets
    assert [(t.text, t.text_id) for t in pieces] == [(t.text, t.text_id) for t in expected[0]]
    assert tokenizer._intra_word_tokenize([]) == ([], [])
