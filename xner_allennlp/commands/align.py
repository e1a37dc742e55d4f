"""
`allennlp xner-align`: cross-lingually aligned word vectors for the `aligned_vectors` embedder.

    allennlp xner-align --source wiki.en.vec --target wiki.es.vec \\
        --dictionary en-es.0-5000.txt --eval-dictionary en-es.5000-6500.txt --output-dir aligned/es

    allennlp xner-align --method projection --source glove.6B.50d.txt.gz \\
        --dictionary en-es.txt --output-dir aligned/es

Writes `OUTPUT_DIR/vectors-<src>.vec`, `OUTPUT_DIR/vectors-<tgt>.vec` (fastText text format, with
their binary cache built) and `OUTPUT_DIR/alignment.json`, all or none of them.
"""

import argparse
import logging

import torch
from allennlp.commands.subcommand import Subcommand

from xner_allennlp.alignment.composition import MIN_SIMILARITY
from xner_allennlp.alignment.pipeline import METHODS, build_aligned_vectors
from xner_allennlp.alignment.procrustes import DIRECTIONS
from xner_allennlp.commands.errors import add_command, count

logger = logging.getLogger(__name__)

_positive_or_all = count(0, " (0 = all)")
_positive = count(1)


@Subcommand.register("xner-align")
class XnerAlign(Subcommand):
    def add_subparser(self, parser: argparse._SubParsersAction) -> argparse.ArgumentParser:
        description = """Build cross-lingually aligned word vectors. `procrustes` (default):
        MUSE's supervised alignment of monolingual source and target vectors (fastText/MUSE or
        GloVe text, optionally .gz) with a bilingual dictionary, refined with CSLS mutual nearest
        neighbours. `projection`: no target vectors; each target word of the dictionary gets the
        unit-normalised mean of its English translations' vectors. Writes
        OUTPUT_DIR/vectors-<src>.vec and OUTPUT_DIR/vectors-<tgt>.vec."""
        subparser = parser.add_parser(
            self.name, description=description, help="Build cross-lingually aligned word vectors."
        )
        subparser.add_argument("--method", choices=METHODS, default="procrustes")
        subparser.add_argument("--source", required=True, help="source-language (English) vectors")
        subparser.add_argument("--target", help="monolingual target-language vectors (procrustes only)")
        subparser.add_argument(
            "--dictionary", required=True, help="training dictionary, MUSE `src tgt` lines"
        )
        subparser.add_argument(
            "--eval-dictionary",
            help="held-out dictionary: print word-translation P@1/P@5 (nearest neighbour, CSLS)",
        )
        subparser.add_argument("--output-dir", required=True)
        subparser.add_argument(
            "--source-lang",
            help="source language code (default: from the dictionary name, en-es...)",
        )
        subparser.add_argument(
            "--target-lang", help="target language code (default: from the dictionary name)"
        )
        subparser.add_argument(
            "--normalize",
            default="",
            help="input normalisation before Procrustes, comma-separated steps applied in order: "
            "center, renorm (e.g. 'center,renorm'; default none, as MUSE)",
        )
        subparser.add_argument(
            "--map",
            choices=DIRECTIONS,
            default="target-to-source",
            help="which side is rotated (default: target vectors into the source space)",
        )
        subparser.add_argument("--refinement-rounds", type=count(0), default=5, help="default 5 (MUSE)")
        subparser.add_argument(
            "--refine-max-rank",
            type=_positive_or_all,
            default=15000,
            help="refinement searches the N most frequent words of each side (default 15000; 0: all)",
        )
        subparser.add_argument("--csls-knn", type=_positive, default=10, help="CSLS neighbourhood (10)")
        subparser.add_argument(
            "--keep-last",
            action="store_true",
            help="keep the last refinement round's mapping instead of the best by the "
            "unsupervised criterion",
        )
        subparser.add_argument(
            "--max-source-words", type=_positive, help="read only the first N source vectors"
        )
        subparser.add_argument(
            "--max-target-words", type=_positive, help="read only the first N target vectors"
        )
        subparser.add_argument("--encoding", default="utf-8", help="of the vectors and dictionaries")
        subparser.add_argument(
            "--chunk-size",
            type=_positive,
            help="query rows per similarity batch (default: about 64 MiB of scores)",
        )
        subparser.add_argument("--num-threads", type=_positive, help="torch CPU threads")
        subparser.add_argument(
            "--compose-words",
            nargs="+",
            default=[],
            metavar="FILE",
            help="projection: target CoNLL or text files whose words without a projected vector "
            "get one from their form (written into the target .vec)",
        )
        subparser.add_argument(
            "--compose",
            default="stem,subword",
            help="composition methods in order, comma-separated: stem (Snowball stem match), "
            "romanized (the English vector of the word's uroman romanization, for other scripts: "
            "transliterated names), encoder (the --compose-encoder's vector of the bare word, "
            "mapped linearly into the table), subword (hashed character n-grams fitted on the "
            "table); default stem,subword",
        )
        subparser.add_argument(
            "--compose-encoder",
            metavar="DIR",
            help="a transformers encoder directory (as `allennlp xner-encoder` writes) for the "
            "encoder composition; with romanized, a romanized match is kept only if the encoder "
            "finds the two words similar (--romanized-min-similarity)",
        )
        subparser.add_argument(
            "--romanized-min-similarity",
            type=float,
            help="with --compose-encoder: the cosine of the bare-word encoder vectors a romanized "
            f"match needs (default {MIN_SIMILARITY}; "
            "1%% of random pairs reach it)",
        )
        subparser.add_argument("--compose-encoding", default="utf-8", help="of the --compose-words files")
        subparser.add_argument(
            "--composition-model",
            action="store_true",
            help="projection: also write composition-<target-lang>.npz, the subword composer "
            "fitted on the target table, for the aligned_vectors embedder's `composition` "
            "(words composed inside the model, at predict time too)",
        )
        return add_command(subparser, align_from_args)


def align_from_args(args: argparse.Namespace) -> None:
    if args.num_threads:
        torch.set_num_threads(args.num_threads)
    report = build_aligned_vectors(
        source=args.source,
        dictionary=args.dictionary,
        output_dir=args.output_dir,
        method=args.method,
        target=args.target,
        eval_dictionary=args.eval_dictionary,
        source_lang=args.source_lang,
        target_lang=args.target_lang,
        normalize=args.normalize,
        direction=args.map,
        refinement_rounds=args.refinement_rounds,
        refine_max_rank=args.refine_max_rank,
        csls_knn=args.csls_knn,
        select_best=not args.keep_last,
        max_source_words=args.max_source_words,
        max_target_words=args.max_target_words,
        encoding=args.encoding,
        chunk_size=args.chunk_size,
        compose_words=args.compose_words,
        compose_methods=[m.strip() for m in args.compose.split(",") if m.strip()],
        compose_encoding=args.compose_encoding,
        composition_model=args.composition_model,
        compose_encoder=args.compose_encoder,
        romanized_min_similarity=args.romanized_min_similarity,
    )
    print(report.format())
