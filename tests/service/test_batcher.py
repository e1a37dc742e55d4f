"""The batch worker alone, with a stand-in for `predict_batch_json` (no model)."""

import asyncio
import threading

import pytest

from xner_allennlp.common.errors import InputFormatError
from xner_allennlp.service.batcher import Batcher


class Recorder:
    """`predict_batch_json` that upper-cases each "sentence", records the batch sizes, can hold
    its first call until released, and rejects a sentence "bad" as the predictor would."""

    def __init__(self, hold_first: bool = False) -> None:
        self.sizes = []
        self.release = threading.Event()
        if not hold_first:
            self.release.set()

    def __call__(self, inputs):
        self.sizes.append(len(inputs))
        assert self.release.wait(30)
        if any(item["sentence"] == "bad" for item in inputs):
            raise InputFormatError("predictor input", None, "a bad sentence")
        return [{"upper": item["sentence"].upper()} for item in inputs]


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 60))


async def until(condition):
    while not condition():
        await asyncio.sleep(0.005)


def test_waiting_inputs_go_in_batches_of_at_most_batch_size():
    async def scenario():
        predict = Recorder(hold_first=True)
        batcher = Batcher(predict, batch_size=3)
        await batcher.start()
        try:
            first = asyncio.ensure_future(batcher.tag([{"sentence": "a"}]))
            await until(lambda: predict.sizes == [1])
            # 7 inputs from 3 callers wait behind the held first call.
            calls = [
                batcher.tag([{"sentence": s} for s in group])
                for group in (["b", "c"], ["d"], ["e", "f", "g", "h"])
            ]
            later = [asyncio.ensure_future(call) for call in calls]
            await until(lambda: batcher.pending == 7)
            predict.release.set()
            results = await asyncio.gather(first, *later)
        finally:
            await batcher.close()
        return predict.sizes, results, batcher.statistics

    sizes, results, statistics = run(scenario())
    assert sizes == [1, 3, 3, 1]
    assert results == [
        [{"upper": "A"}],
        [{"upper": "B"}, {"upper": "C"}],
        [{"upper": "D"}],
        [{"upper": s} for s in "EFGH"],
    ]
    assert (statistics.batches, statistics.inputs, statistics.largest) == (4, 8, 3)


def test_a_bad_input_fails_only_its_own_caller():
    async def scenario():
        predict = Recorder(hold_first=True)
        batcher = Batcher(predict, batch_size=8)
        await batcher.start()
        try:
            first = asyncio.ensure_future(batcher.tag([{"sentence": "a"}]))
            await until(lambda: predict.sizes == [1])
            good = asyncio.ensure_future(batcher.tag([{"sentence": "b"}, {"sentence": "c"}]))
            bad = asyncio.ensure_future(batcher.tag([{"sentence": "bad"}]))
            await until(lambda: batcher.pending == 3)
            predict.release.set()
            await first
            good_result = await good
            with pytest.raises(InputFormatError, match="a bad sentence"):
                await bad
        finally:
            await batcher.close()
        return predict.sizes, good_result

    sizes, good = run(scenario())
    # The batch of three failed, then each of its inputs went alone.
    assert sizes == [1, 3, 1, 1, 1]
    assert good == [{"upper": "B"}, {"upper": "C"}]


def test_a_caller_that_went_away_is_not_predicted():
    async def scenario():
        predict = Recorder(hold_first=True)
        batcher = Batcher(predict, batch_size=8)
        await batcher.start()
        try:
            first = asyncio.ensure_future(batcher.tag([{"sentence": "a"}]))
            await until(lambda: predict.sizes == [1])
            gone = asyncio.ensure_future(batcher.tag([{"sentence": "x"}, {"sentence": "y"}]))
            kept = asyncio.ensure_future(batcher.tag([{"sentence": "z"}]))
            await until(lambda: batcher.pending == 3)
            gone.cancel()
            predict.release.set()
            await first
            return predict.sizes, await kept
        finally:
            await batcher.close()

    assert run(scenario()) == ([1, 1], [{"upper": "Z"}])


def test_batch_size_must_be_positive():
    with pytest.raises(ValueError, match="batch_size must be at least 1, got 0"):
        Batcher(Recorder(), 0)
