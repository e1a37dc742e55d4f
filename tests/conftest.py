import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"


@pytest.fixture(autouse=True)
def _private_vector_cache(tmp_path, monkeypatch):
    # Each test gets its own binary vector cache, so no test sees another's cached files.
    monkeypatch.setenv("XNER_VECTOR_CACHE", str(tmp_path / "vector-cache"))
    monkeypatch.setenv("XNER_FIXTURES", str(FIXTURES))


os.chdir(ROOT)
