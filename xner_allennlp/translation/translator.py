from typing import List

from allennlp.common import Registrable


class Translator(Registrable):
    """
    Translates a source-language sentence word by word into the target language ("reverse
    translation" of the training data, paper section 3.2). Input and output are the
    *normalised* words the reader produces; the output has the same length, and a word with
    no translation is returned unchanged.
    """

    default_implementation = "context_dictionary"

    def translate(self, words: List[str]) -> List[str]:
        raise NotImplementedError
