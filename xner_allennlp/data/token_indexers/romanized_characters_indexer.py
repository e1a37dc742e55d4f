from typing import Dict, List, Optional

from allennlp.common.checks import ConfigurationError
from allennlp.data.token_indexers import TokenCharactersIndexer, TokenIndexer
from allennlp.data.token_indexers.token_indexer import IndexedTokenList
from allennlp.data.tokenizers import Token
from allennlp.data.vocabulary import Vocabulary

DEFAULT_MAX_CHARACTERS_PER_TOKEN = 50


@TokenIndexer.register("romanized_characters")
class RomanizedCharactersIndexer(TokenCharactersIndexer):
    """
    A `TokenCharactersIndexer` that reads the characters of a token's romanized surface form
    (`RomanizedToken.romanized`, set by the `xner_conll` reader) instead of its normalised
    `text`; plain `Token`s are indexed by their `text`. Takes the same parameters as
    `TokenCharactersIndexer` ("characters"), and one more.

    Registered as a `TokenIndexer` with name "romanized_characters".

    # Parameters

    max_characters_per_token : `int`, optional (default = `50`)
        The most characters indexed per token: a longer token gives its first
        `ceil(max / 2)` and last `floor(max / 2)` characters. Without a cap one pathological
        token (a 100,000-character line without spaces) makes the batch's character tensor and
        the character LSTM as long as that token for every word: minutes and gigabytes. CoNLL
        words rarely reach 40 characters (the fixtures' longest has 17), so real words are not
        cut; the word vector indexer still reads the whole word. `None` indexes every
        character.
    """

    def __init__(
        self, max_characters_per_token: Optional[int] = DEFAULT_MAX_CHARACTERS_PER_TOKEN, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        if max_characters_per_token is not None and max_characters_per_token < 1:
            raise ConfigurationError(
                f"romanized_characters: max_characters_per_token must be >= 1 or null, got "
                f"{max_characters_per_token}"
            )
        self._max_characters = max_characters_per_token

    def _surface(self, token: Token) -> Token:
        romanized = getattr(token, "romanized", None)
        text = token.text if romanized is None else romanized
        cap = self._max_characters
        if cap is not None and text is not None and len(text) > cap:
            # Prefix and suffix: what the last states of the backward and the forward character
            # LSTM mostly see.
            return Token(text[: (cap + 1) // 2] + text[len(text) - cap // 2 :])
        return token if romanized is None else Token(romanized)

    def count_vocab_items(self, token: Token, counter: Dict[str, Dict[str, int]]):
        super().count_vocab_items(self._surface(token), counter)

    def tokens_to_indices(self, tokens: List[Token], vocabulary: Vocabulary) -> IndexedTokenList:
        indexed = super().tokens_to_indices([self._surface(t) for t in tokens], vocabulary)
        cap = self._max_characters
        if cap is not None:
            # The cut above counts characters; a character tokenizer that emits several ids per
            # character (byte encoding, start/end tokens) can still exceed the cap.
            head, tail = (cap + 1) // 2, cap // 2
            indexed["token_characters"] = [
                ids if len(ids) <= cap else ids[:head] + ids[len(ids) - tail :]
                for ids in indexed["token_characters"]
            ]
        return indexed
