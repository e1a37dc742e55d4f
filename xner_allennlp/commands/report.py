"""
`allennlp xner-report`: scores an archived model on a CoNLL file the way the paper analyses its
results: span P/R/F1 per entity type and overall, F1 by entity length (Table 4) and the OOV rate
of the file against the model's word vectors (Table 6).
"""
import argparse
import functools
import json
import logging
import os
from typing import Any, Dict, List, Optional, Sequence

import torch
from allennlp.commands.subcommand import Subcommand
from allennlp.common.checks import ConfigurationError, check_for_gpu
from allennlp.common.params import parse_overrides
from allennlp.common.tqdm import Tqdm
from allennlp.data import Instance
from allennlp.models import Model
from allennlp.models.archival import load_archive

from xner_allennlp.alignment.pipeline import check_output_path, write_outputs
from xner_allennlp.commands.errors import add_command, count
from xner_allennlp.common.errors import require_file
from xner_allennlp.evaluation.report import (
    LENGTH_BUCKETS,
    bioul_spans,
    length_scores,
    oov_rates,
    piece_stats,
    span_scores,
)
from xner_allennlp.data.token_indexers import SurfaceTransformerMismatchedIndexer
from xner_allennlp.token_embedders.aligned_vectors import AlignedVectorsEmbedder

logger = logging.getLogger(__name__)

_DESCRIPTION = """Score an archived model on a CoNLL file, read with the archive's validation
reader. Prints (a) exact-match span precision/recall/F1 per entity type and overall (the
numbers of `allennlp evaluate`); (b) the same by entity length in tokens, buckets 1, 2 and >=3
(paper, Table 4): a gold span falls in the bucket of its length; a predicted span that matches
a gold span (same type and boundaries) in the bucket of that gold span, an unmatched one in the
bucket of its own length; recall = matched gold spans in the bucket / gold spans in the bucket,
precision = matched predicted spans in the bucket / predicted spans in the bucket; (c) the OOV
rate of the file against the model's word vectors, by token and by type (paper, Table 6): a
word, in the normalised form the reader gives it, is OOV when the model's `aligned_vectors`
embedder has no vector for it (words outside the vocabulary included). `--plot FILE.png` also
draws (b) and the F1 per type as bar charts, each bar with its number of gold spans."""


@Subcommand.register("xner-report")
class XnerReport(Subcommand):
    def add_subparser(self, parser: argparse._SubParsersAction) -> argparse.ArgumentParser:
        subparser = parser.add_parser(
            self.name,
            description=_DESCRIPTION,
            help="Span F1 per type and by entity length, and OOV rates, of a model on a file.",
        )
        subparser.add_argument("archive_file", help="the archived model (model.tar.gz)")
        subparser.add_argument("input_file", help="CoNLL file with gold tags")
        subparser.add_argument(
            "--output-file", default=None, help="also write the report as JSON here"
        )
        subparser.add_argument(
            "--plot",
            default=None,
            metavar="FILE.png",
            help="also draw F1 by entity length (1 / 2 / >=3) and by type, with the gold "
            "counts, into this PNG (matplotlib, no display needed)",
        )
        subparser.add_argument(
            "--cuda-device", type=int, default=-1, help="GPU id, -1 for the CPU (default)"
        )
        subparser.add_argument(
            "--batch-size",
            type=count(1),
            default=64,
            help="sentences per model batch (default 64)",
        )
        subparser.add_argument(
            "--weights-file", default=None, help="weights to use instead of the archive's"
        )
        subparser.add_argument(
            "-o",
            "--overrides",
            default="",
            help="JSON overrides of the archived config, e.g. the validation reader's encoding: "
            "'{\"validation_dataset_reader.encoding\": \"latin-1\"}'",
        )
        return add_command(subparser, report_from_args)


def report_from_args(args: argparse.Namespace) -> Dict[str, Any]:
    if args.batch_size < 1:
        raise ConfigurationError("--batch-size must be at least 1")
    check_for_gpu(args.cuda_device)
    require_file(args.input_file, "input file")
    if args.plot is not None and not args.plot.lower().endswith(".png"):
        raise ConfigurationError(f"--plot {args.plot}: the figure is a PNG; give a .png file name")
    check_output_path(args.output_file, "--output-file")
    check_output_path(args.plot, "--plot")
    if args.output_file is not None and args.plot is not None and (
        os.path.abspath(args.output_file) == os.path.abspath(args.plot)
    ):
        raise ConfigurationError(f"--output-file and --plot are both {args.plot}")
    if args.overrides:
        try:
            parse_overrides(args.overrides)
        except (RuntimeError, ValueError) as error:  # from jsonnet, from json
            raise ConfigurationError(f"-o/--overrides: not a JSON object ({error})") from None
    archive = load_archive(
        args.archive_file,
        cuda_device=args.cuda_device,
        weights_file=args.weights_file,
        overrides=args.overrides,
    )
    result = report(
        archive.model, archive.validation_dataset_reader, args.input_file, args.batch_size
    )
    result["archive"] = args.archive_file
    print(format_report(result))
    texts, files = {}, {}
    if args.output_file is not None:
        texts[args.output_file] = json.dumps(result, indent=2, ensure_ascii=False) + "\n"
    if args.plot is not None:
        # matplotlib only when a figure is asked for.
        from xner_allennlp.evaluation.plots import plot_report

        files[args.plot] = functools.partial(plot_report, result)
    # Both files or neither: a report without its figure (or the reverse) would pass for both.
    write_outputs({}, texts, files)
    if args.plot is not None:
        print(f"figure: {args.plot}")
    return result


def _label_namespace(model: Model) -> str:
    return getattr(model, "label_namespace", "labels")


def check_known_tags(model: Model, instances: Sequence[Instance], path: str) -> None:
    """Raises `ConfigurationError` listing the gold tags of `instances` the model cannot predict."""
    namespace = _label_namespace(model)
    known = model.vocab.get_token_to_index_vocabulary(namespace)
    unknown = sorted({t for i in instances for t in i["tags"].labels if t not in known})
    if unknown:
        raise ConfigurationError(
            f"{path}: tags the model does not know: {', '.join(unknown)} (the model knows "
            f"{', '.join(sorted(known))}); map or drop them with the validation reader's "
            "tag_map / drop_tag_types (-o overrides)"
        )


def aligned_vectors_lookup(model: Model):
    """
    `word -> bool`: whether the model's `aligned_vectors` embedder has a vector for the
    (normalised) word; `None` when the model has no such embedder (no word vectors at all).
    """
    embedders = [m for m in model.modules() if isinstance(m, AlignedVectorsEmbedder)]
    if not embedders:
        return None
    embedder = embedders[0]
    namespace = getattr(embedder, "_namespace", "tokens")
    index = model.vocab.get_token_to_index_vocabulary(namespace)
    has_vector = embedder.has_vector.detach().cpu().tolist()

    def lookup(word: str) -> bool:
        row = index.get(word)
        return row is not None and row < len(has_vector) and bool(has_vector[row])

    return lookup


def predict_tags(model: Model, instances: List[Instance], batch_size: int) -> List[List[str]]:
    """The model's tags for every instance, in order (batches of similar lengths)."""
    model.eval()
    order = sorted(range(len(instances)), key=lambda i: -len(instances[i]["tokens"]))
    tags: List[Optional[List[str]]] = [None] * len(instances)
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    # Without the gold tags: the model then only decodes (no loss, no metric updates).
    untagged = [Instance({k: v for k, v in i.fields.items() if k != "tags"}) for i in instances]
    with torch.no_grad():
        for batch in Tqdm.tqdm(batches, desc="tagging"):
            outputs = model.forward_on_instances([untagged[i] for i in batch])
            for i, output in zip(batch, outputs):
                tags[i] = list(output["tags"])
    return tags  # type: ignore


def report(model: Model, reader, path: str, batch_size: int = 64) -> Dict[str, Any]:
    """The full report as a JSON-able dict (what `--output-file` writes)."""
    instances = list(reader.read(path))
    if not instances:
        raise ConfigurationError(f"{path}: no sentences")
    for instance in instances:
        if "tags" not in instance.fields:
            raise ConfigurationError(f"{path}: the reader gave a sentence without tags")
        reader.apply_token_indexers(instance)
    check_known_tags(model, instances, path)
    predicted_tags = predict_tags(model, instances, batch_size)
    gold = [bioul_spans(instance["tags"].labels) for instance in instances]
    predicted = [bioul_spans(tags) for tags in predicted_tags]
    words = [token.text for instance in instances for token in instance["tokens"].tokens]
    surface = [
        getattr(token, "surface", None) or token.text
        for instance in instances
        for token in instance["tokens"].tokens
    ]
    lookup = aligned_vectors_lookup(model)
    subword = subword_tokenizer(reader)
    return {
        "file": path,
        "sentences": len(instances),
        "tokens": len(words),
        "spans": span_scores(gold, predicted),
        "length": length_scores(gold, predicted),
        "oov": oov_rates(words, lookup) if lookup is not None else None,
        "pieces": piece_stats(surface, *subword) if subword is not None else None,
    }


def subword_tokenizer(reader):
    """`(word -> pieces, unk piece)` of the reader's transformer indexer, or `None`."""
    indexers = getattr(reader, "_token_indexers", {}) or {}
    for indexer in indexers.values():
        if isinstance(indexer, SurfaceTransformerMismatchedIndexer):
            return indexer.word_pieces, indexer.unk_piece
    return None


def _score_table(title: str, first_column: str, rows: Dict[str, Dict[str, float]]) -> List[str]:
    width = max([len(first_column)] + [len(name) for name in rows])
    lines = [
        title,
        f"  {first_column:<{width}}  precision  recall      f1    gold  predicted  correct",
    ]
    for name, s in rows.items():
        lines.append(
            f"  {name:<{width}}  {100 * s['precision']:9.2f}  {100 * s['recall']:6.2f}  "
            f"{100 * s['f1']:6.2f}  {s['gold']:6d}  {s['predicted']:9d}  {s['correct']:7d}"
        )
    return lines


def format_report(result: Dict[str, Any]) -> str:
    """The readable table printed to stdout (scores in %)."""
    lines = [f"{result['file']}: {result['sentences']} sentences, {result['tokens']} tokens", ""]
    lines += _score_table("Entity spans, exact match (scores in %)", "type", result["spans"])
    lines.append("")
    lines += _score_table(
        "By entity length in tokens (scores in %; a matched prediction counts in its gold "
        "span's bucket)",
        "length",
        {bucket: result["length"][bucket] for bucket in LENGTH_BUCKETS},
    )
    lines.append("")
    oov = result["oov"]
    pieces = result.get("pieces")
    if pieces is not None:
        lines += [
            "Encoder wordpieces (the subword counterpart of the OOV rate)",
            f"  pieces per word {pieces['pieces_per_word']:.2f}; <unk> pieces "
            f"{100 * pieces['unk_piece_rate']:.2f}%, words with an <unk> piece "
            f"{100 * pieces['unk_word_rate']:.2f}%",
        ]
    if oov is None and pieces is not None:
        pass  # the encoder's piece statistics stand in for the OOV rate
    elif oov is None:
        lines.append("OOV rate: the model has no aligned_vectors embedder (no word vectors)")
    else:
        lines += [
            "OOV rate against the model's word vectors (normalised words)",
            "           total      oov   rate %",
            f"  tokens  {oov['tokens']:7d}  {oov['oov_tokens']:7d}  {100 * oov['token_rate']:7.2f}",
            f"  types   {oov['types']:7d}  {oov['oov_types']:7d}  {100 * oov['type_rate']:7.2f}",
        ]
    return "\n".join(lines)

