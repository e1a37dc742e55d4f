import logging
from typing import Iterable, List, Optional, Union

from allennlp.data import Instance, Vocabulary

from xner_allennlp.common.word_vectors import load_merged

logger = logging.getLogger(__name__)


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
    """

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
        vocab = Vocabulary.from_instances(instances, **kwargs)
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


Vocabulary.register("from_instances_and_vectors", constructor="from_instances_and_vectors")(
    VectorVocabulary
)
