import logging
import os
import re
import unicodedata
from typing import List, Optional, Union

logger = logging.getLogger(__name__)


class InputFormatError(ValueError):
    """
    Raised when an input file does not have the expected format. The message always starts
    with `path:line:` (or `path:` when no line applies) so editors and users can jump to it.
    """

    def __init__(self, path: Union[str, os.PathLike], line: Optional[int], message: str) -> None:
        self.path = str(path)
        self.line = line
        self.message = message
        location = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{location}: {message}")


def require_file(path: Union[str, os.PathLike], what: str) -> str:
    """Returns `path` as a string, or raises `FileNotFoundError` naming it and its role."""
    path = str(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what} not found: {path}")
    return path


# What a line of text never holds: C0 and C1 control characters other than tab (never part of
# a word; a NUL or an ESC in a token is a sign of a binary or damaged file rather than text),
# line and paragraph separators (`LINE_SEPARATORS`) and lone surrogates (not characters).
_NOT_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
# Line breaks to some programs (str.splitlines, JavaScript, spaCy's whitespace) and not to
# others (file iteration, CoNLL readers, allennlp's vocabulary files): one rule for all inputs,
# an error naming the line, rather than a token split here and kept whole there.
LINE_SEPARATORS = {
    "\x0b": "LINE TABULATION",
    "\x0c": "FORM FEED",
    "\x85": "NEXT LINE",
    "\u2028": "LINE SEPARATOR",
    "\u2029": "PARAGRAPH SEPARATOR",
}
# Columns are separated by ASCII spaces and tabs only: U+00A0 and the other Unicode spaces
# belong to the token they are in (str.split() would cut the token there and shift columns).
_FIELD = re.compile("[^ \t]+")
# UTF-8 read as a one-byte encoding: a lead byte (U+00C2-U+00F4) followed by continuation bytes
# (U+0080-U+00BF), e.g. "Ã±" for "ñ".
_MOJIBAKE = re.compile("[\u00c2-\u00f4][\u0080-\u00bf]+")
_ONE_BYTE_ENCODINGS = ("latin", "iso8859", "iso-8859", "cp125", "windows-125", "l1")


def decode_line(raw: bytes, encoding: str, path: Union[str, os.PathLike], line: int, option: str) -> str:
    """
    Decodes one line of a data file under the package's one text policy, the same for data
    files, dictionaries, vector files and predict input:

    - bytes that are not valid `encoding` raise an `InputFormatError` at `path:line` that names
      the `option` that sets the encoding;
    - the line ending (`\\n` or `\\r\\n`) is removed; a carriage return left inside the line (a
      file with CR-only line endings, which would otherwise read as one line) is an error;
    - control characters other than tab (NUL, ESC, ...), line and paragraph separators
      (`LINE_SEPARATORS`: U+000B, U+000C, U+0085, U+2028, U+2029) and lone surrogates are an
      error naming the code point;
    - a byte-order mark at the start of line 1 is dropped;
    - the text is returned in Unicode NFC, so that a word is the same string in every file
      whichever normal form its file used.
    """
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as error:
        raise InputFormatError(
            path, line, f"bytes that are not valid {encoding} ({error.reason}); set {option}"
        ) from None
    return check_text(text, path, line, encoding, option)


def check_text(
    text: str,
    path: Union[str, os.PathLike],
    line: Optional[int],
    encoding: Optional[str] = None,
    option: Optional[str] = None,
) -> str:
    """
    `decode_line`'s policy for a line that is already text (see there); `encoding` and `option`,
    when the text was decoded here, let a control-character error say the line reads as UTF-8.
    """
    if text.endswith("\n"):
        text = text[:-2] if text.endswith("\r\n") else text[:-1]
    if line == 1 and text.startswith("\ufeff"):
        text = text[1:]
    if "\r" in text:
        raise InputFormatError(
            path,
            line,
            "carriage return inside a line: the file has CR-only (old Mac) line endings; "
            "convert it to \\n or \\r\\n line endings (e.g. `tr '\\r' '\\n'`)",
        )
    not_text = _NOT_TEXT.search(text)
    if not_text is not None:
        raise _not_text_error(text, not_text, path, line, encoding, option)
    if not text.isascii() and not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return text


def _not_text_error(text: str, match, path, line, encoding, option) -> InputFormatError:
    char = match.group()
    where = f"U+{ord(char):04X} at column {match.start() + 1}"
    if char in LINE_SEPARATORS:
        message = (
            f"line separator {where} ({LINE_SEPARATORS[char]}) inside a line: a line break to "
            "some programs and not to others, so it has no one meaning in a word or a sentence; "
            "remove it, or replace it with a space or a line break"
        )
    elif "\ud800" <= char <= "\udfff":
        return InputFormatError(
            path,
            line,
            f"lone surrogate {where}: not a character (a JSON \\u escape of half a "
            "surrogate pair, or bytes that are not UTF-8 decoded with `surrogateescape`)",
        )
    else:
        message = f"control character {where}; expected text (is this a binary or damaged file?)"
    # UTF-8 read as latin-1 turns the second byte of "Á" (C3 81) into the control U+0081.
    if encoding is not None and mojibake_example(text, encoding):
        message += f"; the line reads as UTF-8: set {option} to utf-8"
    return InputFormatError(path, line, message)


def split_fields(line: str) -> List[str]:
    """The columns of a line: separated by ASCII spaces and tabs only (see `_FIELD`)."""
    return _FIELD.findall(line)


def mojibake_example(text: str, encoding: str) -> Optional[str]:
    """
    When `text` was decoded with a one-byte `encoding` but reads as UTF-8 (e.g. "Ã±" that is
    "ñ"), returns a short "'Ã±' is 'ñ' in UTF-8" example for a warning; otherwise `None`.
    """
    normalized = encoding.lower().replace("_", "-")
    if not normalized.startswith(_ONE_BYTE_ENCODINGS) or text.isascii():
        return None
    match = _MOJIBAKE.search(text)
    if match is None:
        return None
    try:
        fixed = match.group().encode(encoding).decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return None
    return f"{match.group()!r} is {fixed!r} in UTF-8"


def warn_mojibake(text: str, encoding: str, path: Union[str, os.PathLike], line: int) -> bool:
    """Logs one loud warning when `text` looks like UTF-8 decoded as `encoding`; says if so."""
    example = mojibake_example(text, encoding)
    if example is None:
        return False
    logger.warning(
        "%s:%d: this %s file looks like UTF-8 (%s): set the encoding to utf-8, or the words will "
        "not match their vectors, dictionaries or the model's vocabulary",
        path,
        line,
        encoding,
        example,
    )
    return True
