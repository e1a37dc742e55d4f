from typing import Dict, List

from allennlp.data.token_indexers import TokenCharactersIndexer, TokenIndexer
from allennlp.data.token_indexers.token_indexer import IndexedTokenList
from allennlp.data.tokenizers import Token
from allennlp.data.vocabulary import Vocabulary


def _surface(token: Token) -> Token:
    romanized = getattr(token, "romanized", None)
    return token if romanized is None else Token(romanized)


@TokenIndexer.register("romanized_characters")
class RomanizedCharactersIndexer(TokenCharactersIndexer):
    """
    A `TokenCharactersIndexer` that reads the characters of a token's romanized surface form
    (`RomanizedToken.romanized`, set by the `xner_conll` reader) instead of its normalised
    `text`; plain `Token`s are indexed by their `text`. Takes the same parameters as
    `TokenCharactersIndexer` ("characters").

    Registered as a `TokenIndexer` with name "romanized_characters".
    """

    def count_vocab_items(self, token: Token, counter: Dict[str, Dict[str, int]]):
        super().count_vocab_items(_surface(token), counter)

    def tokens_to_indices(self, tokens: List[Token], vocabulary: Vocabulary) -> IndexedTokenList:
        return super().tokens_to_indices([_surface(t) for t in tokens], vocabulary)
