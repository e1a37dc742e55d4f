"""
How the plugin's subcommands (`allennlp xner-*`) report a user's mistake: one line
`error: <message>` on stderr and exit status 2, the message starting with `file:line:` where there
is one. The traceback would only bury that line; it is shown with `--debug` or `XNER_DEBUG=1`.
Any other exception is a bug and keeps its traceback.
"""

import argparse
import functools
import os
import sys
from typing import Callable, NoReturn, Sequence, Type

from allennlp.common.checks import ConfigurationError

from xner_allennlp.common.errors import InputFormatError

DEBUG_ENV = "XNER_DEBUG"
# argparse's status for a usage error.
EXIT_STATUS = 2
USER_ERRORS = (
    InputFormatError,
    ConfigurationError,
    FileNotFoundError,
    FileExistsError,
    IsADirectoryError,
    NotADirectoryError,
    PermissionError,
)


def fail(message: str) -> NoReturn:
    """Prints `error: message` as one line on stderr and exits with `EXIT_STATUS`."""
    line = " ".join(part.strip() for part in str(message).splitlines() if part.strip())
    print(f"error: {line}", file=sys.stderr)
    sys.exit(EXIT_STATUS)


def _debugging(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "debug", False)) or os.environ.get(DEBUG_ENV, "") not in ("", "0")


def add_command(
    subparser: argparse.ArgumentParser,
    function: Callable[[argparse.Namespace], object],
    also: Sequence[Type[BaseException]] = (),
) -> argparse.ArgumentParser:
    """
    Makes `function` the command of `subparser`, reporting `USER_ERRORS` (and `also`) as one
    line, and adds `--debug`. Argument errors (a bad value of `type=`, a missing option) are
    one line too, without argparse's usage text.
    """
    errors = USER_ERRORS + tuple(also)

    @functools.wraps(function)
    def command(args: argparse.Namespace):
        try:
            return function(args)
        except errors as error:
            if _debugging(args):
                raise
            fail(str(error))

    subparser.add_argument(
        "--debug", action="store_true", help=f"show the traceback of an error (or {DEBUG_ENV}=1)"
    )
    subparser.set_defaults(func=command)
    subparser.error = fail  # type: ignore[method-assign]
    parse_known_args = subparser.parse_known_args

    def parse_all_known(args=None, namespace=None):
        # Else allennlp's top-level parser reports them, with its usage text.
        namespace, extras = parse_known_args(args, namespace)
        if extras:
            fail(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, extras

    subparser.parse_known_args = parse_all_known  # type: ignore[method-assign]
    return subparser


def count(minimum: int, meaning: str = "") -> Callable[[str], int]:
    """An argparse `type`: an integer of at least `minimum` (`meaning` explains a special value)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}{meaning}, got {value}")
        return value

    return parse
