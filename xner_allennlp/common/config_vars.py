"""
Environment variables the configs in `training_configs/` read with `std.extVar`.

Jsonnet has no "extVar with a default", and allennlp hands jsonnet every environment variable,
so on import the package defines each of these as an empty string when it is unset; the
configs' `ext(name, default)` (base.libsonnet) turns the empty string into the default.
"""

import os

from xner_allennlp.common.languages import LANGUAGES

# The languages the multi_source configs can read labelled data or vectors of, besides English
# (whose vectors are XNER_SOURCE_VECTORS): those of the language table with data files.
_MULTI_SOURCE_LANGUAGES = [
    code for code, entry in LANGUAGES.items() if code != "en" and entry["dev"] is not None
]

CONFIG_VARIABLES = {
    "XNER_DATA": "root of the shared data (default ../shared/data)",
    "XNER_TRAIN": "English training file",
    "XNER_DEV": "target-language dev file (model selection)",
    "XNER_TEST": "target-language test file, or 'none' to skip evaluate_on_test",
    "XNER_TARGET_ENCODING": "encoding of the target dev/test files",
    "XNER_SOURCE_VECTORS": "aligned English vectors",
    "XNER_TARGET_VECTORS": "aligned target-language vectors",
    "XNER_VECTOR_DIM": "dimension of the aligned vectors",
    "XNER_DICTIONARY": "MUSE en-XX dictionary for reverse translation, or 'none'",
    "XNER_PROFILE": (
        "paper (default), cpu_fast, or gpu (the paper's dimensions on GPU 0 with mixed precision)"
    ),
    "XNER_NUM_EPOCHS": "override the profile's epoch count",
    "XNER_NUM_THREADS": (
        "torch threads for training (default: auto, the idle cores) and prediction (default: unchanged): "
        "a number, or auto"
    ),
    "XNER_CUDA_DEVICE": "-1 for CPU (default; the gpu profile: 0), or a GPU index",
    "XNER_SEED": "random seed",
    "XNER_FIXTURES": "fixtures directory of fixture.jsonnet (default fixtures)",
    "XNER_DISTRIBUTED": (
        "none (default) or comma-separated devices, one worker each: "
        "-1,-1 (two CPU workers), 0,1 (two GPUs)"
    ),
    "XNER_ENCODER": (
        "encoder configs: checkpoint directory or Hugging Face name "
        "(default encoders/multilingual-e5-small)"
    ),
    "XNER_ENCODER_DIM": "encoder configs: the encoder's hidden size (default 384)",
    "XNER_LAYERS": "encoder configs: hidden states mixed, e.g. 8,12 or last (default 4,...,12)",
    "XNER_CACHE_LAYERS": (
        "encoder configs: hidden states cached, a superset of XNER_LAYERS (default 4,...,12)"
    ),
    "XNER_LAYER_MIX": "encoder configs: scalar_mix (default) or mean",
    "XNER_TRANSLATION": (
        "encoder configs: append (default: English + its reverse translation), replace or none"
    ),
    "XNER_ENCODER_PRECISION": (
        "encoder configs: float32 (default) or int8 (dynamic int8 Linear layers of the frozen encoder, CPU)"
    ),
    "XNER_ENCODER_RUNTIME": (
        "encoder configs: auto (default: ONNX Runtime for a frozen BERT-style encoder on CPU, else torch), "
        "torch or onnxruntime"
    ),
    "XNER_TRAIN_ENCODER": (
        "encoder configs: true fine-tunes the encoder (GPU), default false (frozen, cached)"
    ),
    "XNER_TRAIN_LAYERS": (
        "encoder configs: fine-tune the top N transformer layers, the lower ones frozen and cached "
        "(default 0: all frozen)"
    ),
    "XNER_ENCODER_LR": "encoder configs: Adam learning rate of the fine-tuned layers (default 5e-5)",
    "XNER_CHARACTERS": (
        "encoder/any_target.jsonnet: true adds the uroman character BiLSTM, false (default) leaves it "
        "out, lowercase makes it read lower-cased words"
    ),
    "XNER_PSEUDO": (
        "static and encoder configs: pseudo-labelled target CoNLL (xner-self-train) trained on beside "
        "English, or none"
    ),
    "XNER_TARGET": (
        "encoder ablation configs (default es) and orthography configs (default de): the target language"
    ),
    "XNER_SPEED": (
        "true (default): the drop-in speed modules (xner_allennlp/speed/); false: allennlp's stock ones"
    ),
    "XNER_COMPOSITION": (
        "static configs: composition-<lang>.npz (xner-align --composition-model), so that target words "
        "without a vector get one from their character n-grams, at predict time too; or none (default)"
    ),
    "XNER_WORD_DROPOUT": (
        "static configs: probability that a training word's vector is replaced by a random row "
        "(aligned_vectors' word_dropout; default 0)"
    ),
    "XNER_SOURCES": (
        "multi_source configs: the labelled sources, comma-separated (en, es, nl; default: the config's)"
    ),
    "XNER_PIVOT": (
        "multi_source configs: true translates the non-English sources to the target through English "
        "(their en-XX dictionary and the en-target one: context_dictionary's pivot_dictionary; default false)"
    ),
}
# multi_source configs: each source's (and the target's default) aligned vectors.
CONFIG_VARIABLES.update(
    {
        f"XNER_VECTORS_{lang.upper()}": f"multi_source configs: aligned {lang} vectors"
        for lang in _MULTI_SOURCE_LANGUAGES
    }
)


def define_config_variables() -> None:
    for name in CONFIG_VARIABLES:
        os.environ.setdefault(name, "")
