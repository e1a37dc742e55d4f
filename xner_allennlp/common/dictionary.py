"""
Bilingual dictionaries in MUSE format: one `source target` pair a line (space or tab
separated), several lines per source word allowed. The one parser of the package: the
translator (`translation`) and the alignment tools (`alignment`) both read their dictionaries
with it, and check the same way that a dictionary is not the other direction's.
"""

from typing import Container, List, Optional, Sequence, Tuple

from xner_allennlp.common.errors import InputFormatError, decode_line, require_file, split_fields

# (line number, source word, target word)
DictionaryEntry = Tuple[int, str, str]


def read_dictionary(path: str, encoding: str = "utf-8") -> List[DictionaryEntry]:
    """
    Reads a MUSE bilingual dictionary: one `source target` pair per line, whitespace-separated,
    blank lines ignored. Returns (line number, source, target) triples in file order.

    # Parameters

    path : `str`
        The dictionary file; a `FileNotFoundError` names it when it is missing.
    encoding : `str`, optional (default = `"utf-8"`)
        Bytes that are not valid in it raise an `InputFormatError` at their line.
    """
    path = require_file(path, "bilingual dictionary")
    entries = []
    with open(path, "rb") as handle:
        for line_number, raw in enumerate(handle, 1):
            line = decode_line(raw, encoding, path, line_number, "the dictionary encoding")
            fields = split_fields(line)
            if not fields:
                continue
            if len(fields) != 2:
                raise InputFormatError(
                    path,
                    line_number,
                    f"{len(fields)} field{'s' if len(fields) > 1 else ''} "
                    f"({line.strip()!r}); expected `source target`",
                )
            entries.append((line_number, fields[0], fields[1]))
    return entries


def check_direction(
    path: str,
    pairs: Sequence[Tuple[str, str]],
    source_words: Container[str],
    target_words: Optional[Container[str]] = None,
    source_name: str = "the source vectors",
    target_name: str = "the target vectors",
) -> None:
    """
    Raises `InputFormatError` when the dictionary at `path` (its `(source, target)` pairs) reads
    the other way round against the vocabularies of the two languages: far more of its target
    words (second column) are source-language words than its source words, and (with
    `target_words`) far more of its source words are target-language words than its target
    words. A reversed dictionary would otherwise run and replace words by words of their own
    language. Words both languages share (names, numbers) count on both sides.

    # Parameters

    path : `str`
        The dictionary, for the message.
    pairs : `Sequence[Tuple[str, str]]`
        Its `(source, target)` pairs.
    source_words : `Container[str]`
        The source language's vocabulary (e.g. its vector table's index).
    target_words : `Container[str]`, optional (default = `None`)
        The target language's, when there is one (dictionary projection has none).
    source_name : `str`, optional (default = `"the source vectors"`)
    target_name : `str`, optional (default = `"the target vectors"`)
        What the two vocabularies are, for the message.
    """
    pairs = list(pairs)
    source_hits = sum(s in source_words for s, _ in pairs)
    reversed_source_hits = sum(t in source_words for _, t in pairs)
    forward, backward = source_hits, reversed_source_hits
    target_part = ""
    if target_words is not None:
        target_hits = sum(t in target_words for _, t in pairs)
        reversed_target_hits = sum(s in target_words for s, _ in pairs)
        forward += target_hits
        backward += reversed_target_hits
        target_part = (
            f"; {reversed_target_hits} of its source words are in {target_name}, but only "
            f"{target_hits} of its target words"
        )
    # Correct dictionaries are far from it: each language's words are best covered by its own
    # vectors, shared words count for both directions.
    if backward >= 2 and backward > 1.5 * forward:
        raise InputFormatError(
            path,
            None,
            f"the dictionary looks reversed (`target source` lines): {reversed_source_hits} of "
            f"its {len(pairs)} pairs have a target word (second column) in {source_name}, but "
            f"only {source_hits} have their source word (first column) there{target_part}. "
            "Give the dictionary of the other direction, or swap its columns (or the vector "
            "files, if those are swapped)",
        )
