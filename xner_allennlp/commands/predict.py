"""
`allennlp predict` with a check of its input file first: allennlp opens the input as UTF-8 and a
byte that is not valid there ends in Python's bare `UnicodeDecodeError`, without the file or the
line. Registered under allennlp's own name, so every `allennlp predict` gets it; the command is
otherwise allennlp's, unchanged.
"""

import argparse
import os

from allennlp.commands.predict import Predict
from allennlp.commands.subcommand import Subcommand
from allennlp.common.file_utils import open_compressed

from xner_allennlp.common.errors import InputFormatError


def check_utf8_input(path: str) -> None:
    """An `InputFormatError` at the first line of `path` that is not valid UTF-8."""
    if path == "-" or not os.path.isfile(path):
        return  # stdin and URLs: allennlp's own handling
    with open_compressed(path, "rb", encoding=None) as handle:
        for number, raw in enumerate(handle, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise InputFormatError(
                    path,
                    number,
                    f"bytes that are not valid UTF-8 ({error.reason} at byte {error.start + 1}); "
                    "allennlp predict reads its input as UTF-8: convert the file, e.g. "
                    "`iconv -f latin1 -t utf-8`",
                ) from None


@Subcommand.register("predict", exist_ok=True)
class XnerPredict(Predict):
    """allennlp's `predict`, which first checks that the input file is UTF-8 (see above)."""

    def add_subparser(self, parser: argparse._SubParsersAction) -> argparse.ArgumentParser:
        subparser = super().add_subparser(parser)
        predict = subparser.get_default("func")

        def checked(args: argparse.Namespace) -> None:
            check_utf8_input(args.input_file)
            predict(args)

        subparser.set_defaults(func=checked)
        return subparser
