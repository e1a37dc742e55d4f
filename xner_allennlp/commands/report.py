"""
`allennlp xner-report`: scores an archived model on a CoNLL file the way the paper analyses its
results: span P/R/F1 per entity type and overall, F1 by entity length (Table 4) and the OOV rate
of the file against the model's word vectors (Table 6). The scoring is
`xner_allennlp.evaluation.evaluate`; this module reads the command line and writes the files.
"""

import argparse
import functools
import json
import logging
import os
from typing import Any, Callable, Dict, Union

from allennlp.commands.subcommand import Subcommand
from allennlp.common.checks import ConfigurationError, check_for_gpu
from allennlp.common.params import parse_overrides
from allennlp.models.archival import load_archive

from xner_allennlp.commands.errors import add_command, count
from xner_allennlp.common.errors import require_file
from xner_allennlp.common.files import check_output_path, write_together
from xner_allennlp.evaluation.evaluate import format_report, report

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
        subparser.add_argument("--output-file", default=None, help="also write the report as JSON here")
        subparser.add_argument(
            "--plot",
            default=None,
            metavar="FILE.png",
            help="also draw F1 by entity length (1 / 2 / >=3) and by type, with the gold "
            "counts, into this PNG (matplotlib, no display needed)",
        )
        subparser.add_argument("--cuda-device", type=int, default=-1, help="GPU id, -1 for the CPU (default)")
        subparser.add_argument(
            "--batch-size",
            type=count(1),
            default=64,
            help="sentences per model batch (default 64)",
        )
        subparser.add_argument("--weights-file", default=None, help="weights to use instead of the archive's")
        subparser.add_argument(
            "-o",
            "--overrides",
            default="",
            help="JSON overrides of the archived config, e.g. the validation reader's encoding: "
            '\'{"validation_dataset_reader.encoding": "latin-1"}\'',
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
    if (
        args.output_file is not None
        and args.plot is not None
        and (os.path.abspath(args.output_file) == os.path.abspath(args.plot))
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
    result = report(archive.model, archive.validation_dataset_reader, args.input_file, args.batch_size)
    result["archive"] = args.archive_file
    print(format_report(result))
    writers: Dict[str, Union[str, Callable[[str], Any]]] = {}
    if args.output_file is not None:
        writers[args.output_file] = json.dumps(result, indent=2, ensure_ascii=False) + "\n"
    if args.plot is not None:
        # matplotlib only when a figure is asked for.
        from xner_allennlp.evaluation.plots import plot_report

        writers[args.plot] = functools.partial(plot_report, result)
    # Both files or neither: a report without its figure (or the reverse) would pass for both.
    write_together(writers)
    if args.plot is not None:
        print(f"figure: {args.plot}")
    return result
