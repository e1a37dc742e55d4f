from xner_allennlp.dataset_readers.multi_source import MultiSourceReader
from xner_allennlp.dataset_readers.xner_conll import XnerConllReader

__all__ = [
    "MultiSourceReader",
    "XnerConllReader",
]
