from xner_allennlp.target_text.builder import (
    BuildStats,
    DevIndex,
    SentenceSplitter,
    build_target_text,
    default_cache_dir,
    default_dev_files,
    read_dev_index,
)
from xner_allennlp.target_text.language_check import check_language
from xner_allennlp.target_text.sources import (
    DebianFortunes,
    FetchError,
    TextSource,
    WheelText,
    default_sources,
)

__all__ = [
    "BuildStats",
    "DebianFortunes",
    "DevIndex",
    "FetchError",
    "SentenceSplitter",
    "TextSource",
    "WheelText",
    "build_target_text",
    "check_language",
    "default_cache_dir",
    "default_dev_files",
    "default_sources",
    "read_dev_index",
]
