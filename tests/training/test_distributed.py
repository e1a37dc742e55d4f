"""
Distributed training on CPU: two gloo workers train the fixture config like one process does,
archive the model and evaluate the test set as one process would,
the span F1 metric adds its counts up across workers, the reader refuses to leave a worker
without sentences, and the caches that several workers build at once (word vectors, encoder
features) stay consistent.
"""

import json
import multiprocessing
import os
import pathlib
import queue
import random
import subprocess
import sys
import tarfile

import numpy as np
import pytest
import torch
import torch.distributed as dist
from allennlp.commands import main
from allennlp.commands.train import train_model_from_file
from allennlp.common import Params
from allennlp.common.checks import ConfigurationError
from allennlp.data import Vocabulary
from allennlp.training.metrics import SpanBasedF1Measure

import tests.distributed_recorder  # noqa: F401 - registers xner_test_record_instances
from tests.xner_model_fixture import FIXTURES, ROOT, short_fixtures
from xner_allennlp.common import word_vectors
from xner_allennlp.common.word_vectors import load_word_vectors
from xner_allennlp.dataset_readers.xner_conll import XnerConllReader
from xner_allennlp.token_embedders.feature_cache import FeatureCache
from xner_allennlp.training.span_f1 import DistributedSpanBasedF1Measure

ALLENNLP = str(pathlib.Path(sys.executable).parent / "allennlp")
CONFIG = str(ROOT / "training_configs" / "fixture.jsonnet")
TRAIN_SENTENCES = 100
# Both runs: one epoch, one torch thread, and the recorder callback.
COMMON = {
    "trainer.num_epochs": 1,
    "trainer.callbacks": [
        {"type": "torch_threads", "num_threads": "1"},
        {"type": "xner_test_record_instances"},
    ],
}
OVERRIDES = json.dumps(dict(COMMON, evaluate_on_test=False))
# The distributed run as allennlp documents it, with the config's evaluate_on_test (true).
DISTRIBUTED_OVERRIDES = json.dumps(dict(COMMON, distributed={"cuda_devices": [-1, -1]}))
# Spawn, not fork: after the rest of the suite the parent has tokenizers' and torch's threads,
# and a forked child can inherit one of their locks held and hang (seen once in a full run).
WORKERS = multiprocessing.get_context("spawn")


def _vocabulary_files(serialization_dir: pathlib.Path) -> dict:
    directory = serialization_dir / "vocabulary"
    files = {p.name: p.read_bytes() for p in directory.iterdir() if p.name != ".lock"}
    # allennlp writes this one from a set: its order changes with the process's hash seed.
    files["non_padded_namespaces.txt"] = sorted(files["non_padded_namespaces.txt"].splitlines())
    return files


def _archive_summary(archive: pathlib.Path) -> dict:
    with tarfile.open(archive) as tar:
        names = sorted(tar.getnames())
        config = json.load(tar.extractfile("config.json"))
        weights = torch.load(tar.extractfile("weights.th"), map_location="cpu")
    for key in ("distributed", "evaluate_on_test"):
        config.pop(key, None)
    return {
        "names": names,
        "config": config,
        "parameters": {name: tuple(value.shape) for name, value in weights.items()},
    }


def test_two_cpu_workers_train_like_one_process_and_archive_and_evaluate_the_test_set(tmp_path, monkeypatch):
    data = short_fixtures(tmp_path, TRAIN_SENTENCES)
    monkeypatch.setenv("XNER_FIXTURES", str(data))
    monkeypatch.setenv("XNER_NUM_THREADS", "1")
    monkeypatch.setenv("XNER_DISTRIBUTED", "")
    distributed, single = tmp_path / "distributed", tmp_path / "single"
    # The real command with allennlp's own `distributed` override (not XNER_DISTRIBUTED, which
    # gives the same key) and the config's evaluate_on_test: allennlp 2.10 alone dies in the
    # test evaluation with gloo's "Connection closed by peer" and writes no model.tar.gz.
    result = subprocess.run(
        [
            ALLENNLP,
            "train",
            CONFIG,
            "-s",
            str(distributed),
            "-o",
            DISTRIBUTED_OVERRIDES,
            "--include-package",
            "tests.distributed_recorder",
        ],
        cwd=ROOT,
        env=dict(os.environ, OMP_NUM_THREADS="1", TQDM_DISABLE="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=400,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    assert (distributed / "model.tar.gz").is_file()
    assert not [p.name for p in distributed.iterdir() if p.name.startswith(".model.tar.gz")]
    train_model_from_file(CONFIG, str(single), overrides=OVERRIDES)

    # Each worker read its own half of the training sentences (worker k: sentences k, k+2, ...),
    # and the two halves are all of them, as one process reads them.
    everything = json.loads((single / "instances-worker0.json").read_text(encoding="utf-8"))
    halves = [
        json.loads((distributed / f"instances-worker{rank}.json").read_text(encoding="utf-8"))
        for rank in (0, 1)
    ]
    assert len(everything) == len(list(XnerConllReader().read_sentences(str(data / "conll" / "en.train"))))
    assert halves == [everything[0::2], everything[1::2]]

    # The vocabulary (built once, before the workers start) and the archive's contents.
    assert _vocabulary_files(distributed) == _vocabulary_files(single)
    assert ".romanized.tsv" in _vocabulary_files(single)
    assert _archive_summary(distributed / "model.tar.gz") == _archive_summary(single / "model.tar.gz")
    with tarfile.open(distributed / "model.tar.gz") as tar:
        assert "distributed" in json.load(tar.extractfile("config.json"))
    metrics = json.loads((distributed / "metrics.json").read_text(encoding="utf-8"))
    assert "best_validation_f1-measure-overall" in metrics
    with tarfile.open(distributed / "model.tar.gz") as tar:
        assert json.load(tar.extractfile("config.json"))["evaluate_on_test"] is True

    # allennlp evaluate on the distributed archive, in this (one) process.
    output = tmp_path / "metrics.json"
    monkeypatch.setattr(
        sys,
        "argv",
        [
            "allennlp",
            "evaluate",
            str(distributed / "model.tar.gz"),
            str(data / "conll" / "es.test"),
            "--output-file",
            str(output),
        ],
    )
    main()
    evaluated = json.loads(output.read_text(encoding="utf-8"))
    assert 0.0 <= evaluated["f1-measure-overall"] <= 1.0 and "f1-measure-PER" in evaluated
    # The run's own test evaluation read the whole test file (no worker's share of it) with
    # the metrics of one process: the numbers of `allennlp evaluate` on the archive.
    # (Token accuracy tells a worker's share from the whole file even where the one-epoch
    # model finds no entity.)
    for key in ("accuracy", "accuracy3", "f1-measure-overall", "precision-LOC", "loss"):
        assert metrics["test_" + key] == pytest.approx(evaluated[key], rel=1e-6), key


# ---------------------------------------------------------------- metric and reader in a gloo group

TAGS = ["O", "U-PER", "B-PER", "I-PER", "L-PER", "U-LOC", "B-LOC", "I-LOC", "L-LOC", "U-ORG", "U-MISC"]


def _vocabulary() -> Vocabulary:
    vocab = Vocabulary()
    vocab.add_tokens_to_namespace(TAGS, "labels")
    return vocab


def _random_tags(rng: random.Random, length: int, types) -> list:
    tags, position = [], 0
    while position < length:
        kind = rng.choice(types + ["O", "O"])
        size = rng.choice([1, 2, 3]) if kind in ("PER", "LOC") else 1
        if kind == "O" or position + size > length:
            tags.append("O")
            position += 1
            continue
        if size == 1:
            tags.append("U-" + kind)
        else:
            tags += ["B-" + kind] + ["I-" + kind] * (size - 2) + ["L-" + kind]
        position += size
    return tags


def _worker_data(rank: int):
    """One worker's batches: (predictions as logits, gold ids, mask). Worker 0 has PER and LOC
    only, worker 1 also ORG and MISC (types the other worker never sees)."""
    rng = random.Random(100 + rank)
    types = ["PER", "LOC"] if rank == 0 else ["PER", "LOC", "ORG", "MISC"]
    index = _vocabulary().get_token_to_index_vocabulary("labels")
    batches = []
    for _ in range(3):
        lengths = [rng.randint(3, 12) for _ in range(4)]
        width = max(lengths)
        gold = torch.zeros(4, width, dtype=torch.long)
        predicted = torch.zeros(4, width, len(index))
        mask = torch.zeros(4, width, dtype=torch.bool)
        for row, length in enumerate(lengths):
            gold_tags = _random_tags(rng, length, types)
            # Predictions: mostly the gold tags, some sentences tagged afresh.
            predicted_tags = gold_tags if rng.random() < 0.5 else _random_tags(rng, length, types)
            gold[row, :length] = torch.tensor([index[t] for t in gold_tags])
            for position, tag in enumerate(predicted_tags):
                predicted[row, position, index[tag]] = 1.0
            mask[row, :length] = True
        batches.append((predicted, gold, mask))
    return batches


def _gloo_worker(rank: int, rendezvous: str, directory: str, results) -> None:
    try:
        dist.init_process_group("gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=2)
        metric = DistributedSpanBasedF1Measure(_vocabulary(), "labels", label_encoding="BIOUL")
        for batch in _worker_data(rank):
            metric(*batch)
        result = {"metric": metric.get_metric(reset=True)}
        # After reset, nothing is left on either worker.
        result["after_reset"] = metric.get_metric()
        reader = XnerConllReader()
        result["shard"] = [
            i["metadata"]["words"] for i in reader.read(os.path.join(directory, "three.conll"))
        ]
        try:
            list(reader.read(os.path.join(directory, "one.conll")))
            result["one"] = "no error"
        except ConfigurationError as error:
            result["one"] = str(error)
        results.put((rank, result))
    except BaseException as error:  # noqa: BLE001 - reported to the test
        results.put((rank, {"error": repr(error)}))
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def _run_workers(target, args, count: int = 2, timeout: float = 120):
    results = WORKERS.Queue()
    processes = [WORKERS.Process(target=target, args=(rank, *args, results)) for rank in range(count)]
    for process in processes:
        process.start()
    found = {}
    try:
        for _ in processes:
            try:
                rank, result = results.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"workers gave no result within {timeout} s; got {found}") from None
            found[rank] = result
    finally:
        for process in processes:
            process.join(10)
            if process.is_alive():
                process.kill()
    return [found[rank] for rank in range(count)]


def test_span_f1_adds_up_across_two_gloo_workers(tmp_path):
    (tmp_path / "three.conll").write_text("a O\n\nb O\n\nc O\n", encoding="utf-8")
    (tmp_path / "one.conll").write_text("Madrid B-LOC\n", encoding="utf-8")
    results = _run_workers(_gloo_worker, (str(tmp_path / "rendezvous"), str(tmp_path)))
    for result in results:
        assert "error" not in result, result

    # allennlp's span_f1 in one process, on both workers' batches.
    reference = SpanBasedF1Measure(_vocabulary(), "labels", label_encoding="BIOUL")
    for rank in (0, 1):
        for batch in _worker_data(rank):
            reference(*batch)
    expected = reference.get_metric()
    assert {"f1-measure-ORG", "f1-measure-MISC"} <= set(expected)
    assert 0 < expected["f1-measure-overall"] < 1
    local = SpanBasedF1Measure(_vocabulary(), "labels", label_encoding="BIOUL")
    for batch in _worker_data(0):
        local(*batch)
    assert local.get_metric() != expected  # so the workers' numbers must come from both
    for result in results:
        assert result["metric"] == expected  # exactly: the same counts
        assert result["after_reset"] == {
            "precision-overall": 0.0,
            "recall-overall": 0.0,
            "f1-measure-overall": 0.0,
        }
    # In one process the distributed metric is span_f1 itself.
    alone = DistributedSpanBasedF1Measure(_vocabulary(), "labels", label_encoding="BIOUL")
    for rank in (0, 1):
        for batch in _worker_data(rank):
            alone(*batch)
    assert alone.get_metric() == expected

    # The reader's sentences: worker k reads sentences k, k+2, ...; a file with fewer sentences
    # than workers is an error naming the file.
    assert [r["shard"] for r in results] == [[["a"], ["c"]], [["b"]]]
    for result in results:
        assert "one.conll" in result["one"] and "1 sentence for 2 distributed workers" in result["one"]


def test_bad_xner_distributed_values_are_named(monkeypatch):
    for value, message in (
        ("abc", "comma-separated device ids.*got abc"),
        ("-1", "at least two workers, got -1"),
        ("0,x", "got 0,x"),
    ):
        monkeypatch.setenv("XNER_DISTRIBUTED", value)
        with pytest.raises(Exception, match=message):
            Params.from_file(CONFIG)
    monkeypatch.setenv("XNER_DISTRIBUTED", "-1,-1")
    params = Params.from_file(CONFIG).as_dict(quiet=True)
    assert params["distributed"] == {"cuda_devices": [-1, -1]}
    assert params["evaluate_on_test"] is True  # the primary evaluates it (training/train_loop.py)
    monkeypatch.setenv("XNER_DISTRIBUTED", "")
    assert "distributed" not in Params.from_file(CONFIG).as_dict(quiet=True)


# ---------------------------------------------------------------- caches built by two processes at once


def _feature_cache_worker(rank: int, directory: str, trials: int, barrier, results) -> None:
    try:
        bad = {}
        for trial in range(trials):
            # A new cache file each trial: opening one at the same moment is where SQLite
            # failed without waiting (about 1 open in 4), so one worker pair tries it often.
            trial_directory = os.path.join(directory, str(trial))
            cache = FeatureCache("fingerprint", (2, 3), cache_dir=trial_directory)
            barrier.wait(60)  # both open the new SQLite file at the same moment
            mine = range(rank * 60, rank * 60 + 120)  # 60 keys written by both
            for start in range(0, 120, 8):
                keys = list(mine)[start : start + 8]
                cache.put_many((f"k{i}".encode(), np.full((1 + i % 4, 2, 3), i, np.float16)) for i in keys)
                cache.get_many([f"k{i}".encode() for i in range(0, 180, 5)])
            barrier.wait(60)  # a timeout, so that one worker's error does not hang the other
            fresh = FeatureCache("fingerprint", (2, 3), cache_dir=trial_directory)
            found = fresh.get_many([f"k{i}".encode() for i in range(180)])  # disk only
            wrong = [
                i
                for i, v in enumerate(found)
                if v is None or v.shape != (1 + i % 4, 2, 3) or not (v == i).all()
            ]
            if wrong:
                bad[trial] = wrong
            cache.close()
            fresh.close()
        results.put((rank, bad))
    except BaseException as error:  # noqa: BLE001
        barrier.abort()  # the other worker stops waiting and reports too
        results.put((rank, repr(error)))


def test_feature_cache_written_by_two_processes_at_once(tmp_path):
    results = _run_workers(_feature_cache_worker, (str(tmp_path), 12, WORKERS.Barrier(2)))
    assert results == [{}, {}]


def _vector_worker(rank: int, path: str, barrier, results) -> None:
    try:
        word_vectors.clear_memory()  # not the parent's in-process copy: the disk cache
        barrier.wait(60)  # both find no cache and parse, then write it
        table = load_word_vectors(path)
        results.put((rank, (table.words, table.matrix.tolist())))
    except BaseException as error:  # noqa: BLE001
        barrier.abort()
        results.put((rank, repr(error)))


def test_vector_cache_built_by_two_processes_at_once(tmp_path, monkeypatch):
    cache = tmp_path / "vector-cache"
    monkeypatch.setenv("XNER_VECTOR_CACHE", str(cache))
    path = str(FIXTURES / "vectors" / "wiki.multi.es.vec")
    expected = load_word_vectors(path, use_cache=False)
    results = _run_workers(_vector_worker, (path, WORKERS.Barrier(2)))
    for result in results:
        assert isinstance(result, tuple), result
        words, matrix = result
        assert words == expected.words and np.array_equal(np.array(matrix, np.float32), expected.matrix)
    # One complete cache (matrix, words and, written last, their checksums), no temporary files
    # left, and it reads back.
    assert sorted(p.suffix for p in cache.iterdir()) == [".json", ".npy", ".words"]
    monkeypatch.setattr(word_vectors, "_memory", {})
    again = load_word_vectors(path)
    assert again.words == expected.words and np.array_equal(again.matrix, expected.matrix)
