"""
Runs a command, or a function of the test suite, in this process and SIGKILLs the process at a
point the test chooses (not a test module; tests/reliability/test_interrupted.py runs it):

    python -m tests.reliability.kill_at POINT -- allennlp ARGS...
    python -m tests.reliability.kill_at POINT -- call MODULE:FUNCTION ARGS...

POINT is `MODULE:ATTRIBUTE:WHEN:N[:MATCH]`: the N-th call of MODULE.ATTRIBUTE (among those whose
arguments' text contains MATCH) is wrapped so that the process kills itself `before` or `after`
it. `sqlite3:executemany:after:N` kills after the N-th `executemany` of any SQLite connection,
inside its transaction, before the commit. `none` runs without a kill. SIGKILL cannot be caught:
no `finally`, no `atexit`, what a power cut or the OOM killer leaves.
"""

import importlib
import os
import signal
import sqlite3
import sys
from typing import Callable, List


def _die() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _counting(function: Callable, when: str, nth: int, match: str) -> Callable:
    calls = [0]

    def wrapper(*args, **kwargs):
        if match and match not in repr((args, kwargs)):
            return function(*args, **kwargs)
        calls[0] += 1
        if calls[0] == nth and when == "before":
            _die()
        result = function(*args, **kwargs)
        if calls[0] == nth and when == "after":
            _die()
        return result

    return wrapper


def install(point: str) -> None:
    if point == "none":
        return
    module_name, attribute, when, nth, *rest = point.split(":", 4)
    match = rest[0] if rest else ""
    if when not in ("before", "after"):
        raise SystemExit(f"kill_at: WHEN must be before or after, got {when!r}")
    if module_name == "sqlite3" and attribute == "executemany":
        # sqlite3.Connection's methods cannot be patched: connections of a subclass are.
        counted = _counting(sqlite3.Connection.executemany, when, int(nth), match)

        class Connection(sqlite3.Connection):
            def executemany(self, *args, **kwargs):
                return counted(self, *args, **kwargs)

        connect = sqlite3.connect

        def killing_connect(*args, **kwargs):
            kwargs.setdefault("factory", Connection)
            return connect(*args, **kwargs)

        sqlite3.connect = killing_connect  # type: ignore[assignment]
        return
    module = importlib.import_module(module_name)
    setattr(module, attribute, _counting(getattr(module, attribute), when, int(nth), match))


def main(argv: List[str]) -> None:
    point, separator, kind, *rest = argv
    assert separator == "--", argv
    install(point)
    if kind == "allennlp":
        from allennlp.commands import main as allennlp_main

        sys.argv = ["allennlp", *rest]
        allennlp_main()
    elif kind == "call":
        module_name, function = rest[0].split(":")
        getattr(importlib.import_module(module_name), function)(*rest[1:])
    else:
        raise SystemExit(f"kill_at: expected `allennlp` or `call`, got {kind!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
