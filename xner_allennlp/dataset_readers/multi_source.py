import os
from typing import Dict, Iterable, Iterator, List, Tuple, cast

from allennlp.common import FromParams
from allennlp.common.checks import ConfigurationError
from allennlp.data import DatasetReader, Instance

from xner_allennlp.dataset_readers.xner_conll import XnerConllReader


class Source(FromParams):
    """
    One labelled training file of a `multi_source` reader.

    # Parameters

    path : `str`
        The CoNLL file.
    reader : `DatasetReader`
        How to read it (its own encoding, tag options and translator), usually `xner_conll`.
    """

    def __init__(self, path: str, reader: DatasetReader) -> None:
        self.path = path
        self.reader = reader


@DatasetReader.register("multi_source")
class MultiSourceReader(DatasetReader):
    """
    Training data from several labelled files, each read by its own reader: several source
    languages (the paper's "+" setting), or the English data plus a pseudo-labelled target file
    (`allennlp xner-self-train`). Every epoch yields each source's sentences once, source by
    source in the order of `train_data_path`.

    `train_data_path` names the sources to read, comma-separated (e.g. `"en,es"`), so one reader
    configuration serves several experiments.

    Registered as a `DatasetReader` with name "multi_source".

    # Parameters

    sources : `Dict[str, Source]`
        Name -> `{path, reader}`.
    """

    def __init__(self, sources: Dict[str, Source], **kwargs) -> None:
        super().__init__(manual_distributed_sharding=True, manual_multiprocess_sharding=True, **kwargs)
        if not sources:
            raise ConfigurationError("multi_source: `sources` is empty")
        for name, source in sources.items():
            if not os.path.isfile(source.path):
                raise ConfigurationError(f"multi_source: source {name!r}: file not found: {source.path}")
        self.sources = sources

    def _read(self, file_path) -> Iterable[Instance]:
        for name in self.source_names(str(file_path)):
            source = self.sources[name]
            # The sub-readers shard like this reader (distributed workers, data-loader workers).
            source.reader._worker_info = self._worker_info
            source.reader._distributed_info = self._distributed_info
            # One small source (a few pseudo-labelled sentences) may leave a worker without any
            # of its sentences; the other sources still give that worker some.
            if isinstance(source.reader, XnerConllReader):
                source.reader.check_worker_share = False
            yield from source.reader._read(source.path)

    def source_names(self, file_path: str) -> List[str]:
        names = [n.strip() for n in file_path.split(",") if n.strip()]
        unknown = [n for n in names if n not in self.sources]
        if unknown or not names:
            raise ConfigurationError(
                f"multi_source: train_data_path {file_path!r} names {', '.join(unknown) or 'no source'}; "
                f"the sources are {', '.join(self.sources)}"
            )
        return names

    def _first_reader(self) -> DatasetReader:
        # The sources share one input format; the first one stands for all of them.
        return next(iter(self.sources.values())).reader

    def text_to_instance(self, *args, **kwargs) -> Instance:
        return self._first_reader().text_to_instance(*args, **kwargs)

    def apply_token_indexers(self, instance: Instance) -> None:
        self._first_reader().apply_token_indexers(instance)

    def read_sentences(self, path: str) -> Iterator[Tuple[int, List[str], List[str]]]:
        # The sources are `xner_conll` readers, the ones with `read_sentences`.
        return cast(XnerConllReader, self._first_reader()).read_sentences(path)
