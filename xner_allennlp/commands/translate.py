"""
`allennlp xner-translate`: reverse-translates the words of an English CoNLL file word by word
with the `context_dictionary` translator, to inspect what the training reader will see.
"""

import argparse
import logging
import re
from typing import List, Tuple

from allennlp.commands.subcommand import Subcommand
from allennlp.common.tqdm import Tqdm

from xner_allennlp.commands.errors import add_command, count
from xner_allennlp.common.errors import InputFormatError, decode_line, require_file
from xner_allennlp.common.files import check_output_path, write_together
from xner_allennlp.common.normalization import transfer_case
from xner_allennlp.translation.context_dictionary import (
    ContextDictionaryTranslator,
    TranslationStats,
)

logger = logging.getLogger(__name__)

_TOKEN = re.compile(r"(\s*)(\S+)")


def _weight(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a weight in [0, 1], got {value}")
    return value


@Subcommand.register("xner-translate")
class XnerTranslate(Subcommand):
    def add_subparser(self, parser: argparse._SubParsersAction) -> argparse.ArgumentParser:
        description = """Translate the first column of a CoNLL file word by word (the
        `context_dictionary` translator of the training reader). Other columns, -DOCSTART- and
        blank lines are copied unchanged; translations take the capitalisation of the word
        they replace."""
        subparser = parser.add_parser(
            self.name, description=description, help="Translate a CoNLL file word by word."
        )
        subparser.add_argument("input_file", help="CoNLL file to translate")
        subparser.add_argument("--dictionary", required=True, help="MUSE `src tgt` dictionary")
        subparser.add_argument(
            "--source-vectors", nargs="+", required=True, help="aligned source vector file(s)"
        )
        subparser.add_argument(
            "--target-vectors", nargs="+", required=True, help="aligned target vector file(s)"
        )
        subparser.add_argument("--output-file", required=True, help="where to write the result")
        subparser.add_argument("--encoding", default="utf-8", help="encoding of the input and output files")
        subparser.add_argument("--alpha", type=_weight, default=0.5, help="weight of the direct similarity")
        subparser.add_argument(
            "--window",
            type=count(0),
            default=None,
            help="context window (default: whole sentence)",
        )
        return add_command(subparser, translate_from_args)


def translate_from_args(args: argparse.Namespace) -> None:
    require_file(args.input_file, "CoNLL file")
    check_output_path(args.output_file, "--output-file")
    translator = ContextDictionaryTranslator(
        dictionary=args.dictionary,
        source_vectors=args.source_vectors,
        target_vectors=args.target_vectors,
        alpha=args.alpha,
        window=args.window,
    )
    stats = translate_conll_file(translator, args.input_file, args.output_file, args.encoding)
    print(summary(stats, args.output_file))


def summary(stats: TranslationStats, output_file: str) -> str:
    total = stats.translated + stats.kept
    share = 100.0 * stats.translated / total if total else 0.0
    return (
        f"{stats.translated} tokens translated ({share:.1f}%), {stats.kept} kept; "
        f"{stats.mean_candidates:.2f} dictionary candidates per translated word on average "
        f"({stats.unscored} translated without any candidate vector). Written to {output_file}"
    )


def translate_conll_file(
    translator: ContextDictionaryTranslator, input_file: str, output_file: str, encoding: str
) -> TranslationStats:
    """
    Writes `input_file` with each token line's first column translated, and returns the counts
    of this file alone. The output replaces `output_file` only once complete.
    """
    path = require_file(input_file, "CoNLL file")
    with open(path, "rb") as handle:
        lines = handle.readlines()
    before = TranslationStats(**vars(translator.stats))
    output: List[bytes] = []
    # Token lines of the current sentence: (index in `output`, decoded line, token span).
    sentence: List[Tuple[int, str, Tuple[int, int]]] = []
    for line_number, raw in enumerate(Tqdm.tqdm(lines, desc="translating"), 1):
        line = decode_line(raw, encoding, path, line_number, "--encoding")
        output.append(raw)
        # decode_line drops the line ending and a byte-order mark, which are no part of the
        # first word; a rewritten line keeps them.
        lead = "\ufeff" if line_number == 1 and raw.decode(encoding).startswith("\ufeff") else ""
        ending = "\r\n" if raw.endswith(b"\r\n") else "\n" if raw.endswith(b"\n") else ""
        match = _TOKEN.match(lead + line + ending, len(lead))
        if match is None or match.group(2) == "-DOCSTART-":
            _flush(translator, sentence, output, encoding, path)
            continue
        sentence.append((len(output) - 1, match.string, match.span(2)))
    _flush(translator, sentence, output, encoding, path)

    def write(path: str) -> None:
        with open(path, "wb") as handle:
            handle.writelines(output)

    # Through the staging of `write_together` rather than `atomic_open`: a failure to create the
    # temporary file then names `output_file`, not the temporary file.
    write_together({output_file: write})
    after = translator.stats
    return TranslationStats(*(getattr(after, name) - getattr(before, name) for name in vars(before)))


def _flush(translator, sentence, output, encoding, path) -> None:
    if not sentence:
        return
    words = [line[start:end] for _, line, (start, end) in sentence]
    normalized = translator.normalize(words)
    translated = translator.translate(normalized)
    for (position, line, (start, end)), word, norm, new in zip(sentence, words, normalized, translated):
        if new == norm:
            # Untranslated (or translated to itself): the original bytes, capitalisation and all.
            continue
        text = line[:start] + transfer_case(word, new) + line[end:]
        try:
            output[position] = text.encode(encoding)
        except UnicodeEncodeError:
            raise InputFormatError(
                path,
                position + 1,
                f"the translation {new!r} of {word!r} cannot be written in "
                f"{encoding}; choose an --encoding that can (e.g. utf-8)",
            ) from None
    sentence.clear()
