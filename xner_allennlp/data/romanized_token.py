from typing import Optional

from allennlp.data.tokenizers import Token


class RomanizedToken(Token):
    """
    A `Token` whose `text` is the normalised word (what the word embedding looks up) and whose
    `romanized` is the romanized surface form (what the character encoder reads). One token
    carries both so that a single `TextField` feeds both indexers, as the stock `crf_tagger`
    expects.
    """

    __slots__ = ["romanized", "surface"]

    def __init__(
        self,
        text: str,
        romanized: Optional[str] = None,
        idx: Optional[int] = None,
        surface: Optional[str] = None,
        **kwargs,
    ):
        super().__init__(text=text, idx=idx, **kwargs)
        self.romanized = romanized
        self.surface = surface

    def __str__(self):
        return self.text

    def __repr__(self):
        return f"RomanizedToken({self.text!r}, {self.romanized!r})"
