"""
Writing files so that a reader never sees half of one: every output of the package is written
to a temporary file in the destination's directory (same file system, so the final
`os.replace` is atomic) and moved into place only when it is complete. `write_together` does
the same for a set of files that only make sense together (vectors and their report, a report
and its figure). Working directories (`make_owned_dir`) hold a lock for as long as the process
that works in them lives, so that the next run removes what a killed one left
(`remove_abandoned`) and never what a running one is writing.
"""

import contextlib
import fcntl
import logging
import os
import shutil
import tempfile
from typing import IO, Any, Callable, Dict, Iterator, List, Optional, Tuple, Union

from allennlp.common.checks import ConfigurationError

logger = logging.getLogger(__name__)


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


# Inside a working directory (`make_owned_dir`): locked by the process that works there for as
# long as it lives, so that a later run can tell a directory left by a killed process from one
# in use (`remove_abandoned`).
OWNER_LOCK = ".owner.lock"


def make_owned_dir(directory: str, prefix: str) -> Tuple[str, int]:
    """
    A new hidden working directory under `directory` (`tempfile.mkdtemp`) holding `OWNER_LOCK`,
    locked (`flock`) by this process until `release_owned_dir` or its death; returns the path
    and the lock's descriptor.
    """
    path = tempfile.mkdtemp(dir=directory, prefix=prefix)
    # Locked under another name and renamed: the lock file never exists unlocked, so
    # `remove_abandoned` cannot take a directory whose owner is still setting it up.
    pending = os.path.join(path, OWNER_LOCK + ".new")
    descriptor = os.open(pending, os.O_CREAT | os.O_RDWR, 0o600)
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    os.rename(pending, os.path.join(path, OWNER_LOCK))
    return path, descriptor


def release_owned_dir(path: str, descriptor: int, remove: bool = True) -> None:
    """Ends `make_owned_dir`'s ownership: removes the lock file (and, with `remove`, the
    directory), then unlocks. Without `remove` the directory can be renamed into place."""
    try:
        if remove:
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(path, OWNER_LOCK))
    finally:
        os.close(descriptor)


def remove_abandoned(directory: str, prefix: str) -> List[str]:
    """
    Removes the working directories `prefix*` under `directory` whose owner is gone (a process
    killed while it wrote there: its lock was released with it) and returns them. Directories
    in use, and those without a lock file (not made by `make_owned_dir`, or being renamed into
    place), are left alone.
    """
    removed: List[str] = []
    if not os.path.isdir(directory):
        return removed
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if not name.startswith(prefix) or not os.path.isdir(path):
            continue
        try:
            descriptor = os.open(os.path.join(path, OWNER_LOCK), os.O_RDWR)
        except OSError:
            continue
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(descriptor)
            continue  # its owner is alive
        try:
            logger.info("removing %s, left by an interrupted run", path)
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
        finally:
            os.close(descriptor)
    return removed


def check_output_path(path: Optional[str], option: Optional[str] = None) -> None:
    """
    Refuses up front an output path that cannot become a file, naming it (and the option that
    gave it): a failure while writing would come late and could name a temporary file.

    # Parameters

    path : `str`, optional
        The file to be written; `None` (an output that was not asked for) passes.
    option : `str`, optional (default = `None`)
        The command-line option that gave `path`, for the message.
    """
    if path is None:
        return
    what = f"{option} {path}" if option else path
    if not str(path).strip():
        raise ConfigurationError(f"{option or 'output file'}: empty file name")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{what}: is a directory, expected a file name")
    ancestor = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(ancestor):
        ancestor = os.path.dirname(ancestor)
    if not os.path.isdir(ancestor):
        raise NotADirectoryError(f"{what}: {ancestor} is not a directory")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise PermissionError(f"{what}: no permission to write in {ancestor}")


def write_together(
    writers: Dict[str, Union[str, Callable[[str], Any]]],
    verify: Optional[Callable[[], Any]] = None,
) -> None:
    """
    Writes a set of files all or nothing: after it, the destinations hold either all the new
    files or, on any error, what they held before. Everything is written into a hidden staging
    directory next to its destination, and only when all are written are they renamed into
    place, each destination that existed moved aside first and put back on error. The staging
    directory goes in every case. An error names the destination, never a file of the staging
    directory.

    # Parameters

    writers : `Dict[str, Union[str, Callable[[str], Any]]]`
        Destination -> its content: a `str` is written as UTF-8 text, a function writes the
        file at the path it is given (a staged path, not the destination). Written in order.
    verify : `Callable[[], Any]`, optional (default = `None`)
        Called once every file is in place; when it raises, the old files are put back as for
        any other error (e.g. reading the new files back to check them).
    """
    for path in writers:
        check_output_path(path)
    for directory in {os.path.dirname(os.path.abspath(path)) for path in writers}:
        # A run killed while it wrote here left its staging directory (and, killed between
        # the renames, the old files it had moved aside): this run replaces every file anyway.
        remove_abandoned(directory, _STAGING_PREFIX)
    created_dirs: List[str] = []
    staging: Dict[str, str] = {}
    locks: Dict[str, int] = {}
    temps: Dict[str, str] = {}
    backups: Dict[str, str] = {}
    placed: List[str] = []
    try:
        for path in writers:
            directory = os.path.dirname(os.path.abspath(path))
            if not os.path.isdir(directory):
                os.makedirs(directory)
                created_dirs.append(directory)
            if directory not in staging:
                staging[directory], locks[directory] = _staged(
                    path, make_owned_dir, directory, _STAGING_PREFIX
                )
            temps[path] = os.path.join(staging[directory], os.path.basename(path))
        for path, write in writers.items():
            logger.info("writing %s", path)
            if isinstance(write, str):
                _staged(path, _write_text, temps[path], write)
            else:
                _staged(path, write, temps[path])
        mode = default_file_mode()
        for path, temp in temps.items():
            os.chmod(temp, mode)  # temp files are private (0600); outputs get the umask's mode
            if os.path.lexists(path):
                backups[path] = temp + ".old"
                _staged(path, os.replace, path, backups[path])
            _staged(path, os.replace, temp, path)
            placed.append(path)
        if verify is not None:
            verify()
    except BaseException:
        for path in placed:
            _remove(path)
        kept = set()
        for path, backup in backups.items():
            try:
                os.replace(backup, path)
            except OSError as error:
                kept.add(os.path.dirname(backup))
                logger.error("could not put %s back (%s): it is %s", path, error, backup)
        for directory, path in staging.items():
            release_owned_dir(path, locks[directory], remove=path not in kept)
        for directory in reversed(created_dirs):
            try:
                os.rmdir(directory)
            except OSError:
                pass
        raise
    for directory, path in staging.items():
        release_owned_dir(path, locks[directory])


_STAGING_PREFIX = ".xner-staging-"


def _write_text(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def _staged(destination: str, function: Callable, *args, **kwargs):
    """`function(*args)`, whose OSError names `destination` instead of its staged file."""
    try:
        return function(*args, **kwargs)
    except OSError as error:
        if error.filename is None or error.filename == destination:
            raise
        # e.g. "[Errno 28] No space left on device: 'out/vectors-es.vec'"
        raise type(error)(error.errno, error.strerror, destination) from None


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
