"""
Environment variables the configs in `training_configs/` read with `std.extVar`.

Jsonnet has no "extVar with a default", and allennlp hands jsonnet every environment variable,
so on import the package defines each of these as an empty string when it is unset; the
configs' `ext(name, default)` (base.libsonnet) turns the empty string into the default.
"""
import os

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
    "XNER_PROFILE": "paper (default) or cpu_fast",
    "XNER_NUM_EPOCHS": "override the profile's epoch count",
    "XNER_NUM_THREADS": "torch threads for training (default: auto, the idle cores) and prediction (default: unchanged): a number, or auto",
    "XNER_CUDA_DEVICE": "-1 for CPU (default), or a GPU index",
    "XNER_SEED": "random seed",
    "XNER_FIXTURES": "fixtures directory of fixture.jsonnet (default fixtures)",
}


def define_config_variables() -> None:
    for name in CONFIG_VARIABLES:
        os.environ.setdefault(name, "")
