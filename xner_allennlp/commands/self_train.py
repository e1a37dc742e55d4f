"""
`allennlp xner-self-train`: tags unlabelled target-language text with a trained archive and
writes the sentences the model is confident about as CoNLL, to train on next
(`xner_allennlp/training/self_training.py` defines the confidence).
"""

import argparse
from typing import Iterator, List, cast

from allennlp.commands.subcommand import Subcommand
from allennlp.common.checks import ConfigurationError, check_for_gpu
from allennlp.common.tqdm import Tqdm
from allennlp.models.archival import load_archive

from xner_allennlp.commands.errors import add_command, count
from xner_allennlp.common.errors import InputFormatError, decode_line, require_file, split_fields
from xner_allennlp.common.files import atomic_open, check_output_path
from xner_allennlp.dataset_readers.xner_conll import XnerConllReader
from xner_allennlp.training.self_training import bioul_to_iob2, pseudo_label


@Subcommand.register("xner-self-train")
class XnerSelfTrain(Subcommand):
    def add_subparser(self, parser: argparse._SubParsersAction) -> argparse.ArgumentParser:
        description = """Pseudo-label target text for self-training. Each sentence is tagged
        by the archive; it is kept when every token's CRF marginal probability of its decoded
        tag is at least --threshold. Kept sentences are written as two-column CoNLL (word, IOB2
        tag). Input: --input-format text (one pre-tokenized sentence per line, words separated
        by spaces) or conll (the words of a CoNLL file, read with the archive's validation
        reader; its tags are never read)."""
        subparser = parser.add_parser(self.name, description=description, help="Pseudo-label target text.")
        subparser.add_argument("archive_file", help="the trained model (model.tar.gz)")
        subparser.add_argument("input_file", help="unlabelled target-language text")
        subparser.add_argument("--output-file", required=True, help="pseudo-labelled CoNLL file")
        subparser.add_argument("--input-format", choices=["text", "conll"], default="text")
        subparser.add_argument("--encoding", default="utf-8", help="of a text input (default utf-8)")
        subparser.add_argument("--threshold", type=float, default=0.9, help="minimum marginal (0.9)")
        subparser.add_argument(
            "--max-sentences", type=count(1), default=None, help="read at most N sentences"
        )
        subparser.add_argument("--batch-size", type=count(1), default=32)
        subparser.add_argument("--cuda-device", type=int, default=-1)
        return add_command(subparser, self_train_from_args)


def read_text_sentences(path: str, encoding: str) -> Iterator[List[str]]:
    """One pre-tokenized sentence per line; blank lines skipped; binary content is an error."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if b"\x00" in raw:
                raise InputFormatError(path, number, "NUL bytes: a binary file, not text")
            words = split_fields(decode_line(raw, encoding, path, number, "--encoding"))
            if words:
                yield words


def self_train_from_args(args: argparse.Namespace) -> None:
    stats = self_train(args)
    print(
        f"{stats['kept']} of {stats['read']} sentences kept at threshold {args.threshold} "
        f"({stats['kept_tokens']} tokens, {stats['entities']} entities); written to {args.output_file}"
    )


def self_train(args: argparse.Namespace) -> dict:
    if not 0.0 < args.threshold <= 1.0:
        raise ConfigurationError(f"--threshold must be in (0, 1], got {args.threshold}")
    if args.batch_size < 1:
        raise ConfigurationError("--batch-size must be at least 1")
    if args.max_sentences is not None and args.max_sentences < 1:
        raise ConfigurationError("--max-sentences must be at least 1")
    check_for_gpu(args.cuda_device)
    require_file(args.input_file, "input file")
    check_output_path(args.output_file, "--output-file")
    archive = load_archive(args.archive_file, cuda_device=args.cuda_device)
    # An xner archive's validation reader is an `xner_conll` reader (the target language's).
    reader = cast(XnerConllReader, archive.validation_dataset_reader)
    sentences: Iterator[List[str]]
    if args.input_format == "conll":
        sentences = (words for _, words, _ in reader.read_sentences(args.input_file))
    else:
        sentences = read_text_sentences(args.input_file, args.encoding)
    if args.max_sentences is not None:
        sentences = (s for i, s in zip(range(args.max_sentences), sentences))
    stats = {"read": 0, "kept": 0, "kept_tokens": 0, "entities": 0}
    # The sentences are streamed into the file; an empty input leaves no file behind.
    with atomic_open(args.output_file, "w", prefix=".xner-self-train-") as out:
        for sentence in Tqdm.tqdm(
            pseudo_label(archive.model, reader, sentences, args.batch_size), desc="tagging"
        ):
            stats["read"] += 1
            if sentence.confidence < args.threshold:
                continue
            stats["kept"] += 1
            stats["kept_tokens"] += len(sentence.words)
            tags = bioul_to_iob2(sentence.tags)
            stats["entities"] += sum(1 for t in tags if t.startswith("B-"))
            for word, tag in zip(sentence.words, tags):
                out.write(f"{word} {tag}\n")
            out.write("\n")
        if stats["read"] == 0:
            raise InputFormatError(args.input_file, None, "no sentences to tag (empty file?)")
    return stats
