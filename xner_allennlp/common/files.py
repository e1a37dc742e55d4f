"""
Writing files so that a reader never sees half of one: every output of the package is written
to a temporary file in the destination's directory (same file system, so the final
`os.replace` is atomic) and moved into place only when it is complete.
"""
import contextlib
import os
import tempfile
from typing import IO, Iterator, Optional


def default_file_mode() -> int:
    """The mode a plain `open(path, "w")` would give a new file under the current umask."""
    # os.umask can only be read by setting it; set it straight back.
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_open(
    path: str,
    mode: str = "w",
    encoding: Optional[str] = "utf-8",
    prefix: str = ".xner-",
) -> Iterator[IO]:
    """
    `with atomic_open(path) as handle: ...` writes `path` all or nothing: the content goes to a
    hidden temporary file beside `path`, which replaces `path` when the block ends without an
    exception and is removed when it raises. The file gets the umask's mode, not
    `tempfile`'s private 0600.

    # Parameters

    path : `str`
        The file to write; its directory is created if missing.
    mode : `str`, optional (default = `"w"`)
        `"w"` for text, `"wb"` for bytes.
    encoding : `str`, optional (default = `"utf-8"`)
        Of a text file; ignored for `"wb"`.
    prefix : `str`, optional (default = `".xner-"`)
        Of the temporary file's name, so a left-over one (after a crash) says where it came from.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes new files: mode 'w' or 'wb', not {mode!r}")
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    descriptor, temp = tempfile.mkstemp(dir=directory, prefix=prefix)
    try:
        with os.fdopen(descriptor, mode, encoding=None if "b" in mode else encoding) as handle:
            yield handle
        os.chmod(temp, default_file_mode())
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.remove(temp)


def atomic_write_text(path: str, text: str, encoding: str = "utf-8") -> None:
    """Writes `text` to `path` all or nothing (`atomic_open`)."""
    with atomic_open(path, "w", encoding=encoding) as handle:
        handle.write(text)


def atomic_write_bytes(path: str, data: bytes) -> None:
    """Writes `data` to `path` all or nothing (`atomic_open`)."""
    with atomic_open(path, "wb") as handle:
        handle.write(data)
