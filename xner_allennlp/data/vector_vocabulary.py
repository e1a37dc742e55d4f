import logging
import os
from typing import Dict, Iterable, Iterator, List, Optional, Union, cast

from allennlp.common.checks import ConfigurationError
from allennlp.data import Instance, Vocabulary

from xner_allennlp.common.files import atomic_open
from xner_allennlp.common.word_vectors import load_merged
from xner_allennlp.data.romanized_token import RomanizedToken
from xner_allennlp.romanization import romanizer as romanization

logger = logging.getLogger(__name__)

# Beside the namespace files of the vocabulary directory (and so in the archive). A dot file:
# allennlp's `Vocabulary.from_files` reads every other file there as a namespace.
ROMANIZED_FILE = ".romanized.tsv"
_NO_LANGUAGE = "-"

Romanizations = Dict[Optional[str], Dict[str, str]]


class VectorVocabulary(Vocabulary):
    """
    A `Vocabulary` built from the instances, as `from_instances` does, plus every word of the
    given vector files in one namespace.

    This is what makes zero-shot prediction work: target-language words that never occur in
    the English training data, and maybe not even in the dev or test file the vocabulary was
    built from, are already in the vocabulary when the model is trained, so the
    `aligned_vectors` embedder gives them their aligned vector when they first appear at
    evaluate or predict time. The vocabulary is saved in the archive, so the vector files are
    not needed after training.

    Registered as a `Vocabulary` with name "from_instances_and_vectors".

    # Parameters

    vector_files : `str` or `List[str]`
        Vector files whose words are added (normally the target language's).
    vector_namespace : `str`, optional (default = `"tokens"`)
    vector_encoding : `str`, optional (default = `"utf-8"`)
    max_vector_words : `int`, optional (default = `None`)
        Add only the first (most frequent) `max_vector_words` words of each file.
    **kwargs
        Everything `from_instances` takes (`min_count`, `max_vocab_size`, `non_padded_namespaces`,
        `tokens_to_add`, ...).

    The vocabulary also keeps the uroman romanizations of the non-ASCII words of the
    instances (`romanizations`: `{uroman language code: {word: romanized}}`), saved as
    `.romanized.tsv` in its directory and so in the archive; loading the archive hands them to
    the `uroman` romanizers (`add_known_romanizations`), so that prediction starts uroman (some
    seconds) only for a non-ASCII word never read in training. Only what uroman itself gave the
    instances is stored; the values are the same with or without the file.
    """

    romanizations: Romanizations = {}

    @classmethod
    def from_instances_and_vectors(
        cls,
        instances: Iterable[Instance],
        vector_files: Union[str, List[str]],
        vector_namespace: str = "tokens",
        vector_encoding: str = "utf-8",
        max_vector_words: Optional[int] = None,
        **kwargs,
    ) -> "Vocabulary":
        if max_vector_words is not None and max_vector_words < 1:
            raise ConfigurationError(
                f"from_instances_and_vectors: max_vector_words must be at least 1, got {max_vector_words}"
            )
        surface: Dict[str, Optional[str]] = {}
        # allennlp's classmethods build `cls`, though annotated as returning a `Vocabulary`.
        vocab = cast(VectorVocabulary, cls.from_instances(_recording_romanized(instances, surface), **kwargs))
        vocab.romanizations = _uroman_romanizations(surface)
        files = [vector_files] if isinstance(vector_files, str) else list(vector_files)
        table = load_merged(files, encoding=vector_encoding, max_words=max_vector_words)
        before = vocab.get_vocab_size(vector_namespace)
        vocab.add_tokens_to_namespace(table.words, vector_namespace)
        logger.info(
            "'%s': %d words from the instances, %d more from %s",
            vector_namespace,
            before,
            vocab.get_vocab_size(vector_namespace) - before,
            ", ".join(files),
        )
        return vocab

    def save_to_files(self, directory: str) -> None:
        super().save_to_files(directory)
        if self.romanizations:
            write_romanizations(os.path.join(directory, ROMANIZED_FILE), self.romanizations)

    @classmethod
    def from_files(cls, directory, padding_token=None, oov_token=None) -> "Vocabulary":
        vocab = cast(VectorVocabulary, super().from_files(directory, padding_token, oov_token))
        path = os.path.join(str(directory), ROMANIZED_FILE)
        if os.path.isfile(path):
            vocab.romanizations = read_romanizations(path)
            romanization.add_known_romanizations(vocab.romanizations)
        return vocab


def _recording_romanized(
    instances: Iterable[Instance], surface: Dict[str, Optional[str]]
) -> Iterator[Instance]:
    """`instances`, recording the romanized form of every non-ASCII surface word on the way."""
    for instance in instances:
        field = instance.fields.get("tokens")
        for token in getattr(field, "tokens", ()):
            if isinstance(token, RomanizedToken) and token.surface and not token.surface.isascii():
                surface.setdefault(token.surface, token.romanized)
        yield instance


def _uroman_romanizations(surface: Dict[str, Optional[str]]) -> Romanizations:
    """
    The (language, word, romanized) of the instances that uroman gave this process: the
    instances say which words and forms, the romanizer's record which uroman language code
    (none in the shipped configs).
    """
    table: Romanizations = {}
    for language, known in list(romanization.all_known_romanizations().items()):
        words = {w: r for w, r in surface.items() if r is not None and known.get(w) == r and _storable(w, r)}
        if words:
            table[language] = dict(sorted(words.items()))
    return table


def _storable(word: str, romanized: str) -> bool:
    return bool(romanized) and not any(c in s for s in (word, romanized) for c in "\t\n\r")


def write_romanizations(path: str, table: Romanizations) -> None:
    """One `language<TAB>word<TAB>romanized` line per entry (`-`: no language), atomically."""
    with atomic_open(path, "w", prefix=".romanized-") as handle:
        for language in sorted(table, key=lambda code: code or ""):
            for word, romanized in table[language].items():
                handle.write(f"{language or _NO_LANGUAGE}\t{word}\t{romanized}\n")


def read_romanizations(path: str) -> Romanizations:
    table: Romanizations = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 3:
                logger.warning("%s: ignoring a malformed line", path)
                continue
            language, word, romanized = fields
            table.setdefault(None if language == _NO_LANGUAGE else language, {})[word] = romanized
    return table


Vocabulary.register("from_instances_and_vectors", constructor="from_instances_and_vectors")(VectorVocabulary)
