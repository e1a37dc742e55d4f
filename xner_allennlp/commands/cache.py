"""
`allennlp xner-cache CONFIG`: fills the on-disk feature cache of a config's frozen encoder
(`cached_transformer_mismatched`) for every data file the config reads, before training (or
beside another training run), so that `allennlp train` finds the features there and computes
only what is still missing.
"""

import argparse
import copy
import logging
import os
import time
from typing import Any, Dict, Iterator, List, Optional, Tuple

from allennlp.commands.subcommand import Subcommand
from allennlp.common import Params
from allennlp.common.checks import ConfigurationError
from allennlp.common.tqdm import Tqdm
from allennlp.data import Batch, DatasetReader, Instance, Vocabulary
from allennlp.data.fields import TextField
from allennlp.modules.token_embedders import TokenEmbedder

from xner_allennlp.commands.errors import add_command, count
from xner_allennlp.common.errors import require_file
from xner_allennlp.token_embedders.cached_transformer_mismatched import (
    CachedTransformerMismatchedEmbedder,
)
from xner_allennlp.training.threads import set_torch_threads

logger = logging.getLogger(__name__)

EMBEDDER_TYPE = "cached_transformer_mismatched"
# The data files allennlp train reads, and the reader of each (allennlp's defaults: the
# validation reader is the training reader unless given; the test file is read with the
# validation reader).
DATA_KEYS = (
    ("train_data_path", "dataset_reader"),
    ("validation_data_path", "validation_dataset_reader"),
    ("test_data_path", "validation_dataset_reader"),
)


@Subcommand.register("xner-cache")
class XnerCache(Subcommand):
    def add_subparser(self, parser: argparse._SubParsersAction) -> argparse.ArgumentParser:
        description = """Fill the on-disk feature cache of a config's frozen encoder
        (cached_transformer_mismatched with a cache_dir) for every data file the config reads
        (train, validation and test), so that training computes only what is still missing.
        The config is read as `allennlp train` reads it (jsonnet, XNER_* variables,
        --overrides). Safe to run while another job trains on the same cache (SQLite)."""
        subparser = parser.add_parser(
            self.name, description=description, help="Fill the encoder feature cache."
        )
        subparser.add_argument("param_path", help="the training config (.jsonnet or .json)")
        subparser.add_argument(
            "-o",
            "--overrides",
            default="",
            help="a JSON(NET) structure overriding the config, as for allennlp train",
        )
        subparser.add_argument(
            "--batch-size",
            type=count(1),
            default=256,
            help="sentences per cache lookup and encoding call (default 256; sorted by length)",
        )
        subparser.add_argument(
            "--num-threads",
            default=None,
            help="torch threads: a number or auto (the idle cores; default $XNER_NUM_THREADS, else auto)",
        )
        return add_command(subparser, cache_from_args)


def cache_from_args(args: argparse.Namespace) -> None:
    set_torch_threads(args.num_threads or os.environ.get("XNER_NUM_THREADS") or "auto")
    require_file(args.param_path, "config")
    params = Params.from_file(args.param_path, args.overrides)
    for row in fill_feature_cache(params, args.batch_size):
        print(
            f"{row['key']} {row['path']} ({row['embedder']}): {row['sentences']} sentences, "
            f"{row['computed']} computed, {row['sentences'] - row['computed']} already cached or repeated, "
            f"{row['seconds']:.1f} s; cache {row['cache']}"
        )


def cached_embedders(config: Dict[str, Any]) -> List[Tuple[str, Dict[str, Any]]]:
    """(token embedder name, its params) of every `cached_transformer_mismatched` of the model;
    the name is that of the indexer whose tensors it embeds."""
    found: List[Tuple[str, Dict[str, Any]]] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            embedders = value.get("token_embedders")
            if isinstance(embedders, dict):
                for name, embedder in embedders.items():
                    if isinstance(embedder, dict) and embedder.get("type") == EMBEDDER_TYPE:
                        found.append((name, embedder))
            for child in value.values():
                walk(child)
        elif isinstance(value, list):
            for child in value:
                walk(child)

    walk(config.get("model"))
    return found


def build_embedder(name: str, embedder_params: Dict[str, Any]) -> CachedTransformerMismatchedEmbedder:
    params = copy.deepcopy(embedder_params)
    if params.get("train_parameters", False):
        raise ConfigurationError(
            f"model token embedder {name!r}: train_parameters is true (a fine-tuned encoder), so its "
            "features are computed at every step and never cached"
        )
    if not params.get("cache_dir"):
        raise ConfigurationError(
            f"model token embedder {name!r}: cache_dir is {params.get('cache_dir')!r}, so features are "
            'cached in memory only: nothing to fill (set cache_dir, e.g. "default")'
        )
    # Written to disk only: the in-memory layer would hold every sentence of every file.
    params["max_cache_gb"] = 0.0
    embedder = TokenEmbedder.from_params(Params(params))
    assert isinstance(embedder, CachedTransformerMismatchedEmbedder)
    return embedder.eval()


def data_files(config: Dict[str, Any]) -> Iterator[Tuple[str, str, Dict[str, Any]]]:
    """(config key, path, reader params) of each data file allennlp train reads."""
    for key, reader_key in DATA_KEYS:
        path = config.get(key)
        if path is None:
            continue
        reader = config.get(reader_key) or config.get("dataset_reader")
        if reader is None:
            raise ConfigurationError(f"{key} is given but the config has no dataset_reader")
        yield key, path, reader


def encoder_field(instance: Instance, name: str) -> Optional[TextField]:
    """The instance's text field indexed by `name`, with that indexer only (the others'
    vocabularies are the model's, which a cache fill does not build)."""
    for field in instance.fields.values():
        if isinstance(field, TextField) and name in field.token_indexers:
            return TextField(field.tokens, {name: field.token_indexers[name]})
    return None


def fill_feature_cache(params: Params, batch_size: int = 256) -> List[Dict[str, Any]]:
    """
    Fills the feature cache of each `cached_transformer_mismatched` in `params` (a training
    config) with every sentence of its data files; returns one row per (file, embedder):
    `key`, `path`, `embedder`, `sentences`, `computed` (the others were cached, or repeated),
    `seconds`, `cache` (the SQLite file).

    # Parameters

    params : `Params`
        The training config, read as `allennlp train` reads it.
    batch_size : `int`, optional (default = `256`)
        Sentences per cache lookup and encoding call, the file's sentences sorted by length
        first so that each call pads little.
    """
    config = params.as_dict(quiet=True)
    embedders = cached_embedders(config)
    if not embedders:
        raise ConfigurationError(
            f"the config's model has no {EMBEDDER_TYPE} token embedder: nothing to cache "
            "(xner-cache is for the encoder configs, training_configs/encoder/)"
        )
    built = [(name, build_embedder(name, embedder_params)) for name, embedder_params in embedders]
    files = list(data_files(config))
    if not files:
        raise ConfigurationError(
            "the config names no train_data_path, validation_data_path or test_data_path"
        )
    rows = []
    # One vocabulary for every batch: the transformer indexers copy their wordpiece vocabulary
    # into it once.
    vocabulary = Vocabulary()
    # Every file read first: a bad line is reported before minutes of encoding.
    read = []
    for key, path, reader_params in files:
        # Deep copies: from_params consumes the nested dicts of its params.
        reader = DatasetReader.from_params(Params(copy.deepcopy(reader_params)))
        read.append((key, path, list(reader.read(path))))
    for key, path, instances in read:
        for name, embedder in built:
            fields = [f for f in (encoder_field(instance, name) for instance in instances) if f is not None]
            if not fields:
                raise ConfigurationError(
                    f"{key} {path}: its instances have no text field indexed by {name!r}, the indexer "
                    f"of token embedder {name!r}"
                )
            # Shortest first, so that each call's sentences have similar lengths.
            fields.sort(key=lambda field: len(field.tokens))
            computed = 0
            start = time.perf_counter()
            with Tqdm.tqdm(total=len(fields), desc=f"{key} {os.path.basename(path)}", unit="sentence") as bar:
                for first in range(0, len(fields), batch_size):
                    chunk = fields[first : first + batch_size]
                    tensors = Batch([Instance({"tokens": field}) for field in chunk])
                    tensors.index_instances(vocabulary)
                    indexed: Dict[str, Any] = tensors.as_tensor_dict()
                    computed += embedder.precompute(**indexed["tokens"][name])
                    bar.update(len(chunk))
            rows.append(
                {
                    "key": key,
                    "path": path,
                    "embedder": name,
                    "sentences": len(fields),
                    "computed": computed,
                    "seconds": time.perf_counter() - start,
                    "cache": embedder.cache.path,
                }
            )
    return rows
