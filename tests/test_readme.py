"""
README.md is true to the code: every name the package registers (components and `allennlp`
subcommands) and every `XNER_*` variable that the package or its configs read is listed in
exactly one row of the README's tables, and the test count it states is the suite's.
"""

import re
import subprocess
import sys

from allennlp.common.registrable import Registrable

import xner_allennlp  # noqa: F401 - registers the package's components
from tests.conftest import ROOT
from xner_allennlp.common.config_vars import CONFIG_VARIABLES

README = (ROOT / "README.md").read_text(encoding="utf-8")
# The first cell of each table row: where a name is listed.
FIRST_CELLS = [line.split("|")[1] for line in README.splitlines() if line.startswith("|")]


def _rows_listing(name):
    return sum(1 for cell in FIRST_CELLS if f"`{name}`" in cell)


def registered_names():
    return sorted(
        (base.__name__, name)
        for base, entries in Registrable._registry.items()
        for name, (cls, _) in entries.items()
        if cls.__module__.startswith("xner_allennlp")
    )


def variables_read():
    sources = [p for p in (ROOT / "xner_allennlp").rglob("*.py")]
    sources += [p for p in (ROOT / "training_configs").rglob("*sonnet")]
    text = "\n".join(p.read_text(encoding="utf-8") for p in sources)
    found = set(re.findall(r"XNER_[A-Z0-9_]*[A-Z0-9]", text))
    # A prefix the code completes (XNER_VECTORS_ + a language) stands for the full names.
    found = {v for v in found if not any(k.startswith(v + "_") for k in CONFIG_VARIABLES)}
    return sorted(found | set(CONFIG_VARIABLES))


def test_every_registered_name_is_listed_once():
    names = registered_names()
    assert ("TokenEmbedder", "cached_transformer_mismatched") in names
    assert [(kind, name) for kind, name in names if _rows_listing(name) != 1] == []


def test_every_variable_is_listed_once():
    variables = variables_read()
    assert "XNER_DATA" in variables and "XNER_VECTORS_BN" in variables
    assert [v for v in variables if _rows_listing(v) != 1] == []


def test_the_test_count_is_the_suites():
    stated = re.findall(r"(\d+) tests\b", README)
    assert stated, "README states how many tests the suite has"
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    count = re.search(r"^(\d+) tests? collected", collected.stdout, re.MULTILINE)
    assert count, collected.stdout[-2000:] + collected.stderr[-2000:]
    assert set(stated) == {count.group(1)}
