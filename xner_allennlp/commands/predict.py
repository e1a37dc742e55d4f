"""
`allennlp predict` under the package's input rules (docs/usage.md, "Input rules"). Registered
under allennlp's own name, so every `allennlp predict` gets it; its options, its predictor and
its output are allennlp's, plus `--encoding` and `--debug`. allennlp alone opens the input as
UTF-8 and stops on a byte that is not with Python's bare `UnicodeDecodeError`, writes a lone
surrogate (a JSON `"\\ud800"`) into the output until `UnicodeEncodeError` stops it, and leaves
the lines written so far as the output file. Here:

- the input is read as bytes and each line decoded with the data files' policy
  (`common.errors.check_text`): a byte that is not valid in `--encoding` (default UTF-8) is an
  error `FILE:LINE: not UTF-8 (...)`; a control character, a line or paragraph separator or a
  lone surrogate is an error naming the line. The whole file is checked before the model is
  loaded;
- an error the predictor finds in a line (bad JSON, ...) names the file and the line;
- the output file is written all or nothing (`common.files.atomic_open`);
- a user's error is one line `error: ...` and exit status 2 (`commands.errors`); `--debug` or
  `XNER_DEBUG=1` shows the traceback.
"""

import argparse
import codecs
import json
import sys
from typing import IO, Iterator, List, Optional, Tuple

from allennlp.commands.predict import Predict, _get_predictor, _PredictManager
from allennlp.commands.subcommand import Subcommand
from allennlp.common import logging as common_logging
from allennlp.common.checks import ConfigurationError
from allennlp.common.file_utils import cached_path, open_compressed
from allennlp.common.util import JsonDict

from xner_allennlp.commands.errors import add_command
from xner_allennlp.common.errors import InputFormatError, check_text, require_file
from xner_allennlp.common.files import atomic_open, check_output_path

STDIN_NAME = "<stdin>"


def _label(encoding: str) -> str:
    return "UTF-8" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding


def input_lines(path: str, encoding: str = "utf-8") -> Iterator[Tuple[int, str]]:
    """
    `(line number, text)` of each line of a predict input (`-`: stdin), decoded and checked as
    the data files are (`check_text`: no line ending, NFC), or an `InputFormatError` at the
    first line that breaks the rules.
    """
    if path == "-":
        yield from _decoded(sys.stdin.buffer, STDIN_NAME, encoding)
        return
    with open_compressed(cached_path(path), "rb", encoding=None) as handle:
        yield from _decoded(handle, path, encoding)


def _decoded(handle: IO[bytes], name: str, encoding: str) -> Iterator[Tuple[int, str]]:
    for number, raw in enumerate(handle, 1):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as error:
            label = _label(encoding)
            raise InputFormatError(
                name,
                number,
                f"not {label} ({error.reason} at byte {error.start + 1}); allennlp predict reads its "
                f"input as {label}: give the file's encoding (e.g. --encoding latin-1) or convert "
                "it (e.g. `iconv -f latin1 -t utf-8`)",
            ) from None
        yield number, check_text(text, name, number, encoding, "--encoding")


def check_input(path: str, encoding: str = "utf-8") -> None:
    """Reads a local input file through `input_lines` once, so that bad input stops the command
    before the model is loaded; stdin and URLs are checked as they are read."""
    if path == "-" or "://" in path:
        return
    require_file(path, "input file")
    for _ in input_lines(path, encoding):
        pass


class _CheckedPredictManager(_PredictManager):
    """allennlp's `_PredictManager`, reading its input with `input_lines`, naming the file and
    line of a predictor's error, and writing its output file with `atomic_open`."""

    def __init__(
        self,
        predictor,
        input_file: str,
        output_file: Optional[str],
        batch_size: int,
        print_to_console: bool,
        has_dataset_reader: bool,
        multitask_head: Optional[str],
        encoding: str,
    ) -> None:
        super().__init__(
            predictor, input_file, None, batch_size, print_to_console, has_dataset_reader, multitask_head
        )
        self._output_path = output_file
        self._encoding = encoding
        self._name = STDIN_NAME if self._input_file == "-" else self._input_file
        # The input line of each prediction, in output order.
        self._input_lines: List[int] = []

    def _get_json_data(self) -> Iterator[JsonDict]:
        for number, text in input_lines(self._input_file, self._encoding):
            if not text or text.isspace():
                continue  # as allennlp: a blank line gives no output line
            try:
                inputs = self._predictor.load_line(text)
            except InputFormatError as error:
                raise InputFormatError(self._name, number, error.message) from None
            except ValueError as error:  # json.JSONDecodeError of allennlp's own load_line
                raise InputFormatError(self._name, number, f"not a JSON object ({error})") from None
            self._input_lines.append(number)
            yield inputs

    def _maybe_print_to_console_and_file(
        self, index: int, prediction: str, model_input: Optional[str] = None
    ) -> None:
        try:
            super()._maybe_print_to_console_and_file(index, prediction, model_input)
        except UnicodeEncodeError as error:
            line = self._input_lines[index] if index < len(self._input_lines) else None
            raise InputFormatError(
                self._name,
                line,
                f"the prediction holds U+{ord(error.object[error.start]):04X}, which is not text "
                "and cannot be written",
            ) from None

    def run(self) -> None:
        if self._output_path is None:
            super().run()
            return
        with atomic_open(self._output_path, "w", encoding="utf-8") as handle:
            self._output_file = handle  # type: ignore[assignment]
            super().run()


def predict_from_args(args: argparse.Namespace) -> None:
    """allennlp's `_predict`, with the checks and the manager above."""
    common_logging.FILE_FRIENDLY_LOGGING = args.file_friendly_logging
    check_output_path(args.output_file, "--output-file")
    if not args.use_dataset_reader:
        check_input(args.input_file, args.encoding)
    if args.predictor_args.strip():
        try:
            json.loads(args.predictor_args)
        except ValueError as error:
            raise ConfigurationError(f"--predictor-args: not valid JSON ({error})") from None
    predictor = _get_predictor(args)
    if args.silent and not args.output_file:
        print("--silent specified without --output-file.")
        print("Exiting early because no output will be created.")
        sys.exit(0)
    manager = _CheckedPredictManager(
        predictor,
        args.input_file,
        args.output_file,
        args.batch_size,
        not args.silent,
        args.use_dataset_reader,
        args.multitask_head,
        args.encoding,
    )
    manager.run()


@Subcommand.register("predict", exist_ok=True)
class XnerPredict(Predict):
    """allennlp's `predict` under the package's input rules (see above)."""

    def add_subparser(self, parser: argparse._SubParsersAction) -> argparse.ArgumentParser:
        subparser = super().add_subparser(parser)
        subparser.add_argument(
            "--encoding",
            default="utf-8",
            type=_encoding,
            help="of the input file (default utf-8); the output is always UTF-8",
        )
        return add_command(subparser, predict_from_args)


def _encoding(name: str) -> str:
    try:
        codecs.lookup(name)
    except LookupError:
        raise argparse.ArgumentTypeError(f"unknown encoding {name!r}") from None
    return name
