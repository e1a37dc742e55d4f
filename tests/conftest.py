import os
import pathlib

import pytest
import torch

# The test models are tiny: one thread is as fast as two, and far faster when the two cores are
# shared with other processes (OpenMP threads spin-wait). Subprocesses inherit the variable.
os.environ.setdefault("OMP_NUM_THREADS", "1")
torch.set_num_threads(1)

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"


@pytest.fixture(autouse=True)
def _private_vector_cache(tmp_path, monkeypatch):
    # Each test gets its own binary vector cache, so no test sees another's cached files.
    monkeypatch.setenv("XNER_VECTOR_CACHE", str(tmp_path / "vector-cache"))
    monkeypatch.setenv("XNER_FIXTURES", str(FIXTURES))


os.chdir(ROOT)
