"""
Cross-lingual word-vector alignment (`allennlp xner-align`): supervised Procrustes with CSLS
refinement (MUSE), and dictionary projection for languages without monolingual vectors.
"""

from xner_allennlp.alignment.csls import (
    csls_retrieve,
    mean_knn_similarity,
    mutual_nearest_neighbors,
    retrieve,
    unit_rows,
)
from xner_allennlp.alignment.dictionary import (
    DictionaryMatch,
    infer_languages,
    match_dictionary,
    read_dictionary_pairs,
)
from xner_allennlp.alignment.evaluation import TranslationPrecision, word_translation_precision
from xner_allennlp.alignment.pipeline import AlignmentReport, build_aligned_vectors, write_outputs
from xner_allennlp.alignment.procrustes import (
    Alignment,
    align_embeddings,
    normalize_embeddings,
    parse_normalization,
    procrustes,
)
from xner_allennlp.alignment.projection import ProjectionStats, project_dictionary

__all__ = [
    "csls_retrieve",
    "mean_knn_similarity",
    "mutual_nearest_neighbors",
    "retrieve",
    "unit_rows",
    "DictionaryMatch",
    "infer_languages",
    "match_dictionary",
    "read_dictionary_pairs",
    "TranslationPrecision",
    "word_translation_precision",
    "AlignmentReport",
    "build_aligned_vectors",
    "write_outputs",
    "Alignment",
    "align_embeddings",
    "normalize_embeddings",
    "parse_normalization",
    "procrustes",
    "ProjectionStats",
    "project_dictionary",
]
