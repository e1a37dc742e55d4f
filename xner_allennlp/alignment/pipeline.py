"""
What `allennlp xner-align` does, as a function: read and check the inputs, build the aligned
vectors (`procrustes` or `projection`), evaluate, and write `vectors-<src>.vec`,
`vectors-<tgt>.vec` and `alignment.json` all-or-nothing.
"""

import functools
import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from allennlp.common.checks import ConfigurationError

from xner_allennlp.alignment.composition import (
    MIN_SIMILARITY,
    EncoderComposer,
    RomanizedMatcher,
    SubwordComposer,
    compose_missing,
)
from xner_allennlp.alignment.dictionary import (
    DictionaryMatch,
    infer_languages,
    match_dictionary,
    read_dictionary_pairs,
)
from xner_allennlp.alignment.evaluation import TranslationPrecision, word_translation_precision
from xner_allennlp.alignment.procrustes import (
    DIRECTIONS,
    align_embeddings,
    normalize_embeddings,
    parse_normalization,
)
from xner_allennlp.alignment.projection import project_dictionary
from xner_allennlp.alignment.word_encoder import BareWordEncoder
from xner_allennlp.common import word_vectors as _word_vectors
from xner_allennlp.common.dictionary import check_direction
from xner_allennlp.common.errors import InputFormatError, decode_line, require_file, split_fields
from xner_allennlp.common.files import check_output_path, write_together
from xner_allennlp.common.languages import LANGUAGES
from xner_allennlp.common.normalization import TAG_PATTERN, normalize_word
from xner_allennlp.common.vector_math import check_same_dimension, unit_rows
from xner_allennlp.common.word_vectors import WordVectors, load_word_vectors
from xner_allennlp.pretrained.resolve import resolve_encoder
from xner_allennlp.romanization import UromanRomanizer

logger = logging.getLogger(__name__)

METHODS = ("procrustes", "projection")
REPORT_FILE = "alignment.json"


@dataclass
class AlignmentReport:
    method: str
    source_lang: str
    target_lang: str
    outputs: Dict[str, str]
    source_words: int
    target_words: int
    dim: int
    dictionary: str
    dictionary_pairs: int
    dictionary_pairs_used: int
    rounds: List[Dict[str, Any]] = field(default_factory=list)
    best_round: Optional[int] = None
    evaluation: Optional[Dict[str, Any]] = None
    seconds: Dict[str, float] = field(default_factory=dict)
    settings: Dict[str, Any] = field(default_factory=dict)

    def format(self) -> str:
        lines = [
            f"{self.method}: {self.source_lang} -> {self.target_lang}, dimension {self.dim}",
            f"  dictionary {self.dictionary}: {self.dictionary_pairs_used} of "
            f"{self.dictionary_pairs} pairs used",
        ]
        for r in self.rounds:
            lines.append(
                f"  round {r['round']}: fitted on {r['dictionary_size']} pairs, criterion "
                f"{r['criterion']:.4f}" + ("  <- kept" if r["round"] == self.best_round else "")
            )
        for lang, words in (
            (self.source_lang, self.source_words),
            (self.target_lang, self.target_words),
        ):
            lines.append(f"  {self.outputs[lang]}: {words} words")
        composition = self.settings.get("composition")
        if composition:
            lines.append(
                f"  composition: {composition['types_without_vector_before']} of "
                f"{composition['types']} word types of --compose-words had no vector; placed "
                + ", ".join(f"{n} by {m}" for m, n in composition["placed"].items())
                + f"; {composition['types_without_vector_after']} left without one"
            )
            if composition.get("romanized_rejected"):
                lines.append(
                    f"  the encoder turned down {composition['romanized_rejected']} romanized matches "
                    f"(similarity below {composition['romanized_min_similarity']})"
                )
        model = self.settings.get("composition_model")
        if model:
            lines.append(
                f"  composition model: {os.path.basename(model['file'])} (n-grams "
                f"{model['ngram_lengths'][0]}-{model['ngram_lengths'][1]}, {model['buckets']} buckets, "
                f"fitted on {model['fitted_words']} words; XNER_COMPOSITION)"
            )
        if self.evaluation is not None:
            lines.append(TranslationPrecision(**self.evaluation).format())
        lines.append("  time: " + ", ".join(f"{k} {v:.1f}s" for k, v in self.seconds.items()))
        return "\n".join(lines)


def output_paths(output_dir: str, source_lang: str, target_lang: str) -> Dict[str, str]:
    return {
        source_lang: os.path.join(output_dir, f"vectors-{source_lang}.vec"),
        target_lang: os.path.join(output_dir, f"vectors-{target_lang}.vec"),
    }


def resolve_languages(
    dictionary: str, source_lang: Optional[str], target_lang: Optional[str]
) -> Tuple[str, str]:
    inferred = infer_languages(dictionary)
    if source_lang is None or target_lang is None:
        if inferred is None:
            raise ConfigurationError(
                "cannot tell the languages from the dictionary name "
                f"{os.path.basename(dictionary)!r} (expected e.g. en-es.txt): give --source-lang "
                "and --target-lang"
            )
        source_lang = source_lang or inferred[0]
        target_lang = target_lang or inferred[1]
    for option, lang in (("--source-lang", source_lang), ("--target-lang", target_lang)):
        # The code names the output files.
        if not lang or any(c in lang for c in "/\\") or lang.startswith("."):
            raise ConfigurationError(f"{option}: {lang!r} is not a language code (e.g. en, es)")
    if source_lang == target_lang:
        raise ConfigurationError(f"source and target language are both {source_lang!r}")
    if inferred == (target_lang.lower(), source_lang.lower()):
        raise InputFormatError(
            dictionary,
            None,
            f"the dictionary looks reversed: its name says {inferred[0]}-{inferred[1]}, but "
            f"{source_lang} -> {target_lang} needs {source_lang}-{target_lang} (`{source_lang}-"
            f"word {target_lang}-word` lines); give that dictionary or swap the languages",
        )
    if inferred is not None and inferred != (source_lang.lower(), target_lang.lower()):
        logger.warning(
            "%s: the name says %s-%s, the languages are %s -> %s",
            dictionary,
            *inferred,
            source_lang,
            target_lang,
        )
    return source_lang, target_lang


def write_outputs(
    tables: Dict[str, WordVectors],
    texts: Optional[Dict[str, str]] = None,
    files: Optional[Dict[str, Callable[[str], Any]]] = None,
) -> None:
    """
    Writes every table (fastText text format), text and file (`files`: path -> a function that
    writes the file at the path it is given) as one set, all or nothing
    (`common.files.write_together`). Once all are in place each table is read back with
    `load_word_vectors`, which checks it and builds the binary cache; a table that does not
    read back puts the old files back too.
    """
    writers: Dict[str, Union[str, Callable[[str], Any]]] = {}
    for path, table in tables.items():
        writers[path] = functools.partial(_word_vectors.write_word_vectors, table=table)
    writers.update(texts or {})
    writers.update(files or {})
    write_together(writers, verify=functools.partial(_read_back, list(tables)))


def _read_back(paths: List[str]) -> None:
    for path in paths:
        load_word_vectors(path)


def _check_dimensions(source: WordVectors, target: WordVectors) -> None:
    check_same_dimension(
        source.dim,
        target.dim,
        source.source,
        target.source,
        functools.partial(InputFormatError, target.source, None),
        "vectors have dimension {second_dim}, but the source vectors {first} have dimension "
        "{first_dim}; both sides must have the same dimension",
    )


def _check_match(match: DictionaryMatch, source: WordVectors, target: WordVectors) -> None:
    if len(match) == 0:
        raise InputFormatError(
            match.path,
            None,
            f"no dictionary pair has both words in the vocabularies of {source.source} "
            f"({len(source)} words) and {target.source} ({len(target)} words): "
            f"{match.describe()}",
        )
    if len(match) < source.dim:
        raise InputFormatError(
            match.path,
            None,
            f"only {len(match)} usable dictionary pairs, Procrustes needs at least the vector "
            f"dimension ({source.dim}): {match.describe()}",
        )


def _load(path: str, what: str, encoding: str, max_words: Optional[int]) -> WordVectors:
    return load_word_vectors(require_file(path, what), encoding=encoding, max_words=max_words)


def _words_of(path: str, encoding: str) -> List[str]:
    """The normalised words of a CoNLL file (first column) or of plain text (every token)."""
    words: List[str] = []
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            fields = split_fields(decode_line(raw, encoding, path, number, "--compose-encoding"))
            if not fields or fields[0] == "-DOCSTART-":
                continue
            # A CoNLL line has its tag last; plain text has no tags to tell apart.
            conll = len(fields) > 1 and TAG_PATTERN.fullmatch(fields[-1]) is not None
            words.extend(fields[:1] if conll else fields)
    return [normalize_word(w) for w in words]


def _compose(
    table: WordVectors,
    files: Sequence[str],
    methods: Sequence[str],
    encoding: str,
    language: str,
    composer: Optional[SubwordComposer] = None,
    source: Optional[WordVectors] = None,
    encoder_name: Optional[str] = None,
    romanized_min_similarity: Optional[float] = None,
) -> Tuple[WordVectors, Dict[str, Any]]:
    words = [w for path in files for w in _words_of(path, encoding)]
    types = set(words)
    index = table.index
    missing_types = {w for w in types if w not in index}
    # One encoder for both uses: loading it takes seconds, encoding the table minutes.
    word_encoder = BareWordEncoder(encoder_name) if encoder_name else None
    romanized = None
    if "romanized" in methods and source is not None:
        match = (LANGUAGES.get(language) or {}).get("romanized_match") or {}
        romanized = RomanizedMatcher(
            source.words,
            source.matrix,
            UromanRomanizer().romanize,
            drop_final=match.get("drop_final", ()),
            suffixes=match.get("suffixes", ()),
            encoder=word_encoder,
            min_similarity=MIN_SIMILARITY if romanized_min_similarity is None else romanized_min_similarity,
        )
    encoder = EncoderComposer(word_encoder) if word_encoder is not None and "encoder" in methods else None
    new, rows, counts = compose_missing(
        words, table.words, table.matrix, methods, language, composer, romanized, encoder
    )
    rows = unit_rows(rows)
    composed = WordVectors(
        list(table.words) + new, np.vstack([table.matrix, rows.astype(np.float32)]), table.source
    )
    summary = {
        "files": [os.path.abspath(p) for p in files],
        "methods": list(methods),
        "types": len(types),
        "types_without_vector_before": len(missing_types),
        "tokens_without_vector_before": sum(1 for w in words if w in missing_types),
        "tokens": len(words),
        "placed": counts,
        "types_without_vector_after": len(missing_types) - len(new),
    }
    if word_encoder is not None:
        summary["encoder"] = word_encoder.model_name
        if romanized is not None:
            summary["romanized_min_similarity"] = romanized.min_similarity
            summary["romanized_rejected"] = romanized.rejected
    logger.info(
        "composition: %d of %d word types (%.1f%%) had no projected vector; placed %s",
        len(missing_types),
        len(types),
        100 * len(missing_types) / max(len(types), 1),
        counts,
    )
    return composed, summary


def build_aligned_vectors(
    source: str,
    dictionary: str,
    output_dir: str,
    method: str = "procrustes",
    target: Optional[str] = None,
    eval_dictionary: Optional[str] = None,
    source_lang: Optional[str] = None,
    target_lang: Optional[str] = None,
    normalize: Union[None, str, Sequence[str]] = None,
    direction: str = "target-to-source",
    refinement_rounds: int = 5,
    refine_max_rank: Optional[int] = 15000,
    csls_knn: int = 10,
    select_best: bool = True,
    max_source_words: Optional[int] = None,
    max_target_words: Optional[int] = None,
    encoding: str = "utf-8",
    chunk_size: Optional[int] = None,
    compose_words: Sequence[str] = (),
    compose_methods: Sequence[str] = ("stem", "subword"),
    compose_encoding: str = "utf-8",
    composition_model: bool = False,
    compose_encoder: Optional[str] = None,
    romanized_min_similarity: Optional[float] = None,
) -> AlignmentReport:
    """
    Builds `output_dir/vectors-<source_lang>.vec` and `output_dir/vectors-<target_lang>.vec`
    (plus `alignment.json`, this report). Raises before writing anything on bad input.

    `compose_words` (projection only): CoNLL or one-sentence-per-line text files of the target
    language; each of their (normalised) words without a projected vector gets one from its
    form (`alignment.composition`: `compose_methods` in order), written into the target .vec.

    `compose_encoder`: a transformers encoder directory for the `encoder` composition method,
    which also verifies the `romanized` matches (`romanized_min_similarity`, default `MIN_SIMILARITY`).

    `composition_model` (projection only): also writes `composition-<target_lang>.npz`, the
    subword composer fitted on the projected target table, for the `aligned_vectors`
    embedder's `composition` (words composed inside the model, also at predict time).
    """
    started = time.perf_counter()
    seconds: Dict[str, float] = {}
    if method not in METHODS:
        raise ConfigurationError(f"--method must be one of {', '.join(METHODS)}, got {method!r}")
    if direction not in DIRECTIONS:
        raise ConfigurationError(f"--map must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
    if method == "procrustes" and target is None:
        raise ConfigurationError("the procrustes method needs --target (monolingual target vectors)")
    if method == "projection" and target is not None:
        raise ConfigurationError("the projection method builds the target vectors itself: drop --target")
    if compose_words and method != "projection":
        raise ConfigurationError("--compose-words applies to --method projection only")
    if composition_model and method != "projection":
        raise ConfigurationError("--composition-model applies to --method projection only")
    for path in compose_words:
        require_file(path, "--compose-words file")
    if "encoder" in compose_methods and not compose_encoder:
        raise ConfigurationError("--compose encoder needs --compose-encoder DIR (a transformers encoder)")
    if compose_encoder:
        if not compose_words:
            raise ConfigurationError("--compose-encoder applies with --compose-words only")
        if not {"encoder", "romanized"} & set(compose_methods):
            raise ConfigurationError(
                "--compose-encoder is used by the encoder and romanized methods only; "
                f"--compose is {','.join(compose_methods)}"
            )
        resolve_encoder(compose_encoder)
    if romanized_min_similarity is not None and not (compose_encoder and "romanized" in compose_methods):
        raise ConfigurationError(
            "--romanized-min-similarity applies with --compose romanized and --compose-encoder only"
        )
    for option, value, minimum in (
        ("--refinement-rounds", refinement_rounds, 0),
        ("--refine-max-rank", refine_max_rank, 0),
        ("--csls-knn", csls_knn, 1),
        ("--max-source-words", max_source_words, 1),
        ("--max-target-words", max_target_words, 1),
        ("--chunk-size", chunk_size, 1),
    ):
        if value is not None and value < minimum:
            raise ConfigurationError(f"{option} must be at least {minimum}, got {value}")
    if not str(output_dir).strip():
        raise ConfigurationError("--output-dir: empty directory name")
    try:
        steps = parse_normalization(normalize)
    except ValueError as error:
        raise ConfigurationError(f"--normalize: {error}") from None
    source_lang, target_lang = resolve_languages(dictionary, source_lang, target_lang)
    outputs = output_paths(output_dir, source_lang, target_lang)
    for path in [*outputs.values(), os.path.join(output_dir, REPORT_FILE)]:
        check_output_path(path)
    require_file(source, "source vector file")
    if target is not None:
        require_file(target, "target vector file")
    pairs = read_dictionary_pairs(dictionary, encoding)
    eval_pairs = read_dictionary_pairs(eval_dictionary, encoding) if eval_dictionary else None
    seconds["read dictionaries"] = time.perf_counter() - started

    tick = time.perf_counter()
    source_table = _load(source, "source vector file", encoding, max_source_words)
    target_table = None
    if target is not None:
        target_table = _load(target, "target vector file", encoding, max_target_words)
    seconds["load vectors"] = time.perf_counter() - tick
    settings: Dict[str, Any] = {
        "source": os.path.abspath(source),
        "target": target and os.path.abspath(target),
        "eval_dictionary": eval_dictionary and os.path.abspath(eval_dictionary),
        "max_source_words": max_source_words,
        "max_target_words": max_target_words,
    }
    # Written with the tables (all or nothing): path -> a function writing it.
    extra_files: Dict[str, Callable[[str], Any]] = {}
    composer: Optional[SubwordComposer] = None

    rounds: List[Dict[str, Any]] = []
    best_round = None
    tick = time.perf_counter()
    if method == "procrustes":
        assert target_table is not None
        _check_dimensions(source_table, target_table)
        check_direction(
            dictionary,
            pairs,
            source_table.index,
            target_table.index,
            f"the source vectors ({source})",
            f"the target vectors ({target})",
        )
        match = match_dictionary(pairs, source_table.index, target_table.index, dictionary)
        _check_match(match, source_table, target_table)
        logger.info("dictionary %s: %s", dictionary, match.describe())
        # Without normalisation the loaded (read-only) matrices serve as they are: the mapped side
        # becomes a new array, the other is written unchanged.
        source_matrix, target_matrix = source_table.matrix, target_table.matrix
        if steps:
            source_matrix = normalize_embeddings(source_matrix, steps)
            target_matrix = normalize_embeddings(target_matrix, steps)
        alignment = align_embeddings(
            source_matrix,
            target_matrix,
            match.pairs,
            direction=direction,
            refinement_rounds=refinement_rounds,
            max_rank=refine_max_rank,
            knn=csls_knn,
            select_best=select_best,
            chunk_size=chunk_size,
        )
        source_matrix, target_matrix = alignment.apply(source_matrix, target_matrix)
        source_out = WordVectors(source_table.words, source_matrix, "aligned source")
        target_out = WordVectors(target_table.words, target_matrix, "aligned target")
        rounds = [asdict(r) for r in alignment.rounds]
        best_round = alignment.best_round
        pairs_used = len(match)
        settings.update(
            normalize=list(steps),
            map=direction,
            refinement_rounds=refinement_rounds,
            refine_max_rank=refine_max_rank,
            csls_knn=csls_knn,
            select_best=select_best,
        )
        seconds["align"] = time.perf_counter() - tick
    else:
        check_direction(dictionary, pairs, source_table.index, None, f"the source vectors ({source})")
        target_out, stats = project_dictionary(source_table, pairs)
        if len(target_out) == 0:
            raise InputFormatError(
                dictionary,
                None,
                f"no source word of the dictionary has a vector in {source_table.source} "
                f"({len(source_table)} words): {stats.describe()}",
            )
        logger.info("projection: %s", stats.describe())
        source_out = source_table
        pairs_used = stats.pairs_used
        seconds["project"] = time.perf_counter() - tick
        if composition_model:
            tick = time.perf_counter()
            composer = SubwordComposer().fit(target_out.words, target_out.matrix)
            composition_file = os.path.join(output_dir, f"composition-{target_lang}.npz")
            extra_files[composition_file] = composer.save
            settings["composition_model"] = {
                "file": os.path.abspath(composition_file),
                "buckets": composer.buckets,
                "ngram_lengths": [composer.min_n, composer.max_n],
                "l2": composer.l2,
                "fitted_words": len(target_out),
            }
            seconds["fit composition"] = time.perf_counter() - tick
        if compose_words:
            tick = time.perf_counter()
            target_out, settings["composition"] = _compose(
                target_out,
                compose_words,
                compose_methods,
                compose_encoding,
                target_lang,
                composer,
                source_out,
                compose_encoder,
                romanized_min_similarity,
            )
            seconds["compose"] = time.perf_counter() - tick

    evaluation = None
    if eval_pairs is not None and eval_dictionary:
        tick = time.perf_counter()
        eval_match = match_dictionary(eval_pairs, source_out.index, target_out.index, eval_dictionary)
        logger.info("evaluation dictionary %s: %s", eval_dictionary, eval_match.describe())
        if len(eval_match) == 0:
            logger.warning("no evaluation pair has both words in the vocabularies")
        result = word_translation_precision(
            source_out.matrix,
            target_out.matrix,
            eval_match.pairs,
            knn=csls_knn,
            chunk_size=chunk_size,
        )
        evaluation = asdict(result)
        seconds["evaluate"] = time.perf_counter() - tick

    report = AlignmentReport(
        method=method,
        source_lang=source_lang,
        target_lang=target_lang,
        outputs=outputs,
        source_words=len(source_out),
        target_words=len(target_out),
        dim=source_out.dim,
        dictionary=os.path.abspath(dictionary),
        dictionary_pairs=len(pairs),
        dictionary_pairs_used=pairs_used,
        rounds=rounds,
        best_round=best_round,
        evaluation=evaluation,
        seconds=seconds,
        settings=settings,
    )
    tick = time.perf_counter()
    write_outputs(
        {outputs[source_lang]: source_out, outputs[target_lang]: target_out},
        {os.path.join(output_dir, REPORT_FILE): json.dumps(asdict(report), indent=2) + "\n"},
        extra_files,
    )
    seconds["write + cache"] = time.perf_counter() - tick
    seconds["total"] = time.perf_counter() - started
    return report
