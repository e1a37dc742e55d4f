from typing import Optional, Union
import os


class InputFormatError(ValueError):
    """
    Raised when an input file does not have the expected format. The message always starts
    with `path:line:` (or `path:` when no line applies) so editors and users can jump to it.
    """

    def __init__(self, path: Union[str, os.PathLike], line: Optional[int], message: str) -> None:
        self.path = str(path)
        self.line = line
        location = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{location}: {message}")


def require_file(path: Union[str, os.PathLike], what: str) -> str:
    """Returns `path` as a string, or raises `FileNotFoundError` naming it and its role."""
    path = str(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what} not found: {path}")
    return path


def decode_line(raw: bytes, encoding: str, path: Union[str, os.PathLike], line: int, option: str) -> str:
    """
    Decodes one line of a data file; bytes that are not valid `encoding` raise an
    `InputFormatError` at `path:line` that names the `option` that sets the encoding.
    """
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as error:
        raise InputFormatError(
            path, line, f"bytes that are not valid {encoding} ({error.reason}); set {option}"
        ) from None
