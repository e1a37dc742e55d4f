"""
One small trained en -> es fixture model per test process, shared by predictors/test_predictor.py,
evaluation/test_report.py and others: `training_configs/fixture.jsonnet` for 2 epochs on the
first sentences of fixtures/conll/en.train (a copy of the fixtures with a shorter training file,
so that it trains in seconds). Not a test module itself.
"""

import atexit
import contextlib
import os
import pathlib
import shutil
import tempfile
import threading

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
TRAIN_SENTENCES = 120
EPOCHS = 2

_lock = threading.Lock()
_archive = None


@contextlib.contextmanager
def environment(**values):
    """Sets environment variables for the block and restores them afterwards."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def short_fixtures(root: pathlib.Path, sentences: int) -> pathlib.Path:
    """A copy of fixtures/ under `root` whose English training file has `sentences` sentences
    (the rest linked or copied), for runs that must be quick."""
    data = root / "fixtures"
    (data / "conll").mkdir(parents=True)
    short_copy(FIXTURES / "conll" / "en.train", sentences, data / "conll" / "en.train")
    for name in ("es.dev", "es.test"):
        (data / "conll" / name).write_bytes((FIXTURES / "conll" / name).read_bytes())
    for name in ("vectors", "dictionaries"):
        os.symlink(FIXTURES / name, data / name)
    return data


def short_copy(path: pathlib.Path, sentences: int, target: pathlib.Path) -> None:
    """Writes the first `sentences` sentences (blank-line separated) of a UTF-8 CoNLL file."""
    kept, count = [], 0
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        kept.append(line)
        if not line.strip():
            count += 1
            if count >= sentences:
                break
    target.write_text("".join(kept), encoding="utf-8")


def trained_archive() -> pathlib.Path:
    """Path of the model.tar.gz (trained on first use)."""
    global _archive
    with _lock:
        if _archive is not None:
            return _archive
        from allennlp.commands.train import train_model_from_file

        import xner_allennlp  # noqa: F401 - defines the configs' XNER_* variables

        work = pathlib.Path(tempfile.mkdtemp(prefix="xner_fixture_model_"))
        atexit.register(shutil.rmtree, work, True)
        data = work / "fixtures"
        (data / "conll").mkdir(parents=True)
        for name in ("es.dev", "es.test"):
            shutil.copy(FIXTURES / "conll" / name, data / "conll" / name)
        short_copy(FIXTURES / "conll" / "en.train", TRAIN_SENTENCES, data / "conll" / "en.train")
        for entry in FIXTURES.iterdir():
            if entry.name != "conll":
                os.symlink(entry, data / entry.name)
        with environment(XNER_FIXTURES=str(data), XNER_VECTOR_CACHE=str(work / "vector-cache")):
            train_model_from_file(
                str(ROOT / "training_configs" / "fixture.jsonnet"),
                str(work / "model"),
                overrides='{"trainer": {"num_epochs": %d}, "evaluate_on_test": false}' % EPOCHS,
                force=True,
            )
        _archive = work / "model" / "model.tar.gz"
        return _archive
