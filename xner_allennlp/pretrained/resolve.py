"""
Where an encoder named in a config (`XNER_ENCODER`) is found, so that a trained archive works
on a machine where the checkpoint directory it was trained from is gone or moved.

At training time (the serialization directory has no `encoder/` yet) the checkpoint's small
files (config and tokenizer) are copied into `<serialization_dir>/encoder/`, which the configs
list in `include_in_archive`. At load time allennlp extracts the archive and passes its
directory as `serialization_dir`, and the indexer and embedder read the config and tokenizer
there whenever the original directory no longer exists.

A frozen encoder's weights are not copied into every archive (470 MB that never change, and
minutes of gzip per archive): the archive records their SHA-256 in `encoder/weights.json`, and
a copy of the weights file is kept in the encoder store
(`$XNER_ENCODER_STORE`, default `~/.cache/xner_allennlp/encoders/<sha256>/`), which training and
`allennlp xner-encoder` fill. A fine-tuned encoder's weights are in the archive's weights.th.
"""

import hashlib
import json
import logging
import os
import shutil
import tempfile
from typing import Dict, Optional, Tuple

from allennlp.common.checks import ConfigurationError

from xner_allennlp.common.files import atomic_open, atomic_write_text

logger = logging.getLogger(__name__)

ARCHIVED_ENCODER = "encoder"
STORE_ENV = "XNER_ENCODER_STORE"
WEIGHTS_RECORD = "weights.json"
WEIGHT_FILES = ("pytorch_model.bin", "tf_model.h5", "flax_model.msgpack", "model.safetensors")
_SMALL_FILES = (
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "sentencepiece.bpe.model",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "added_tokens.json",
)


def is_local_path(name: str) -> bool:
    """A name that can only mean a directory (absolute, ./ ../ ~ or an existing path); other
    names such as `xlm-roberta-base` or `intfloat/multilingual-e5-small` are hub names."""
    return os.path.isabs(name) or name.startswith((".", "~")) or os.path.exists(name)


def has_weights(directory: str) -> bool:
    return any(os.path.isfile(os.path.join(directory, name)) for name in WEIGHT_FILES)


def resolve_encoder(model_name: str, serialization_dir: Optional[str] = None) -> str:
    """
    The directory (or hub name) to load `model_name` from. An existing directory is used as
    it is (and its small files are archived into `serialization_dir`, when one is given); a
    missing one falls back to the copy inside the archive; a hub name is returned unchanged.
    """
    archived = os.path.join(serialization_dir, ARCHIVED_ENCODER) if serialization_dir else None
    expanded = os.path.expanduser(model_name)
    if os.path.isdir(expanded):
        if not os.path.isfile(os.path.join(expanded, "config.json")):
            raise ConfigurationError(
                f"encoder directory {expanded} has no config.json: not a transformers checkpoint "
                f"(build one with `allennlp xner-encoder --output-dir DIR`)"
            )
        if archived and not os.path.isfile(os.path.join(archived, "config.json")):
            _archive_small_files(expanded, archived)
        return expanded
    if archived and os.path.isfile(os.path.join(archived, "config.json")):
        logger.info("encoder %s not found; using the copy in %s", model_name, archived)
        return archived
    if is_local_path(model_name):
        raise ConfigurationError(
            f"encoder directory {expanded} does not exist (XNER_ENCODER / model_name); build it "
            f"with `allennlp xner-encoder --output-dir {model_name}` or give a Hugging Face name"
        )
    return model_name


def _archive_small_files(source: str, target: str) -> None:
    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".encoder-", dir=parent)
    try:
        for name in _SMALL_FILES:
            path = os.path.join(source, name)
            if os.path.isfile(path):
                shutil.copyfile(path, os.path.join(staging, name))
        os.chmod(staging, 0o755)
        try:
            os.rename(staging, target)
        except OSError:
            # Another worker archived it first; theirs is identical.
            shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def default_store() -> str:
    return os.environ.get(STORE_ENV) or os.path.join(
        os.path.expanduser("~"), ".cache", "xner_allennlp", "encoders"
    )


MEMO_DIR = ".memo"
_SHA_MEMO: Dict[Tuple[str, int, int, int], str] = {}


def _memo_path(kind: str, key: str) -> str:
    name = hashlib.blake2b(key.encode("utf-8"), digest_size=16).hexdigest()
    return os.path.join(default_store(), MEMO_DIR, f"{kind}-{name}.json")


def memo_get(kind: str, key: str) -> Optional[str]:
    """
    A value that an earlier process computed for `key` (`memo_put`), or `None`. The memo lives
    in the encoder store (`<store>/.memo/`), one small JSON file per key, written atomically,
    so a process never reads half a value; the full key is stored and compared, so a hash
    collision of the file name cannot serve another key's value.

    # Parameters

    kind : `str`
        What is memoised (`sha256`, `fingerprint`): part of the file name.
    key : `str`
        Everything the value depends on.
    """
    try:
        with open(_memo_path(kind, key), encoding="utf-8") as handle:
            record = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("key") != key or not isinstance(record.get("value"), str):
        return None
    return record["value"]


def memo_put(kind: str, key: str, value: str) -> None:
    """Remembers `value` for `key` (`memo_get`); a store that cannot be written only costs the
    recomputation next time."""
    try:
        atomic_write_text(_memo_path(kind, key), json.dumps({"key": key, "value": value}))
    except OSError as error:
        logger.debug("encoder store memo not written: %s", error)


def file_sha256(path: str) -> str:
    """
    The SHA-256 of the file `path`, memoised by its absolute path, size, modification time and
    inode, in this process and on disk (`memo_get`): hashing multilingual-e5-small's 470 MB
    takes about 2 s, which every `allennlp predict` of an encoder archive would pay. A file
    rewritten in place gets a new modification time (and a replaced one a new inode), so it is
    hashed again.
    """
    stat = os.stat(path)
    absolute = os.path.abspath(path)
    memo_key = (absolute, stat.st_size, stat.st_mtime_ns, stat.st_ino)
    if memo_key not in _SHA_MEMO:
        disk_key = json.dumps(memo_key)
        sha = memo_get("sha256", disk_key)
        if sha is None:
            digest = hashlib.sha256()
            with open(path, "rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 22), b""):
                    digest.update(chunk)
            sha = digest.hexdigest()
            memo_put("sha256", disk_key, sha)
        _SHA_MEMO[memo_key] = sha
    return _SHA_MEMO[memo_key]


def weights_file(directory: str) -> Optional[str]:
    path = os.path.join(directory, "pytorch_model.bin")
    return path if os.path.isfile(path) else None


def store_weights(path: str, store: Optional[str] = None) -> str:
    """Copies the weights file `path` into the encoder store; returns its SHA-256. Safe when
    several processes store the same file at once."""
    sha = file_sha256(path)
    target_dir = os.path.join(store or default_store(), sha)
    target = os.path.join(target_dir, "pytorch_model.bin")
    if os.path.isfile(target):
        return sha
    # A copy, not a hard link: a checkpoint rewritten in place must not change the store. The
    # copy is hashed as it is written, so a file that changed meanwhile never enters the store.
    digest = hashlib.sha256()
    with atomic_open(target, "wb", prefix=".tmp-") as sink, open(path, "rb") as source:
        for chunk in iter(lambda: source.read(1 << 22), b""):
            digest.update(chunk)
            sink.write(chunk)
        if digest.hexdigest() != sha:
            raise OSError(f"{path} changed while it was copied into the encoder store")
    return sha


def stored_weights(sha: str, store: Optional[str] = None) -> Optional[str]:
    path = os.path.join(store or default_store(), sha, "pytorch_model.bin")
    return path if os.path.isfile(path) else None


def resolve_weights(model_name: str, source: str, serialization_dir: Optional[str] = None) -> Optional[str]:
    """
    The weights file of a frozen encoder: `source`'s own (recorded in the training run's
    `encoder/weights.json` and put into the store), else the stored file the archive records.
    `None` for a hub name (transformers finds the weights itself).
    """
    own = weights_file(source)
    record_path = (
        os.path.join(serialization_dir, ARCHIVED_ENCODER, WEIGHTS_RECORD) if serialization_dir else None
    )
    recorded = None
    if record_path and os.path.isfile(record_path):
        with open(record_path, encoding="utf-8") as handle:
            recorded = json.load(handle)["sha256"]
    if own is not None:
        if record_path and recorded is None:
            sha = store_weights(own)
            _write_json(record_path, {"sha256": sha, "file": "pytorch_model.bin", "from": model_name})
            return own
        if recorded is None or file_sha256(own) == recorded:
            return own
        # The directory now holds other weights than the model was trained with.
        stored = stored_weights(recorded)
        if stored is None:
            raise ConfigurationError(
                f"{own} is not the encoder this model was trained with (sha256 "
                f"{file_sha256(own)[:12]}... instead of {recorded[:12]}...), and the encoder "
                f"store {default_store()} (${STORE_ENV}) does not have the original"
            )
        if file_sha256(stored) != recorded:
            raise ConfigurationError(f"encoder store file {stored} does not match its sha256; remove it")
        logger.warning("%s changed since training; using the stored original %s", own, stored)
        return stored
    if recorded is not None:
        sha = recorded
        stored = stored_weights(sha)
        if stored is None:
            raise ConfigurationError(
                f"the encoder weights this model was trained with (sha256 {sha[:12]}..., from "
                f"{model_name}) are neither in {model_name} nor in the encoder store "
                f"{default_store()} (${STORE_ENV}); build them with `make encoder` in the "
                f"repository (or `allennlp xner-encoder --output-dir DIR`, which also fills the "
                f"store) or point XNER_ENCODER_STORE at a store that has them"
            )
        return stored
    if os.path.isdir(source):
        raise ConfigurationError(f"encoder directory {source} has no pytorch_model.bin")
    return None


def _write_json(path: str, value: Dict) -> None:
    atomic_write_text(path, json.dumps(value, indent=2))
