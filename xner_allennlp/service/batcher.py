"""
Batching across concurrent callers: every input of every request joins one queue, and a single
worker takes what is waiting (up to `batch_size` inputs) into one `predict_batch_json` call, run
in a one-thread executor so that the event loop keeps accepting requests meanwhile. One worker,
one thread: the model runs one batch at a time, as torch is fastest with its threads to itself.
"""

import asyncio
import concurrent.futures
import logging
from dataclasses import dataclass
from typing import Callable, List, Optional

from allennlp.common.util import JsonDict

from xner_allennlp.common.errors import InputFormatError

logger = logging.getLogger(__name__)

PredictBatch = Callable[[List[JsonDict]], List[JsonDict]]


@dataclass
class BatchStatistics:
    """What the worker has done: `batches` model calls for `inputs` inputs, the largest of
    `largest` inputs."""

    batches: int = 0
    inputs: int = 0
    largest: int = 0


class Batcher:
    """
    # Parameters

    predict_batch : `Callable[[List[JsonDict]], List[JsonDict]]`
        A predictor's `predict_batch_json`.
    batch_size : `int`
        Most inputs in one call of `predict_batch`.
    """

    def __init__(self, predict_batch: PredictBatch, batch_size: int) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self._predict_batch = predict_batch
        self.batch_size = batch_size
        self.statistics = BatchStatistics()
        self._queue: Optional["asyncio.Queue[tuple[JsonDict, asyncio.Future]]"] = None
        self._worker: Optional[asyncio.Task] = None
        self._executor: Optional[concurrent.futures.ThreadPoolExecutor] = None

    async def start(self) -> None:
        """Starts the worker on the running event loop."""
        self._queue = asyncio.Queue()
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="xner-serve-model")
        self._worker = asyncio.create_task(self._work(), name="xner-serve-batcher")

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
            self._worker = None
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    @property
    def pending(self) -> int:
        """Inputs waiting for the worker (not those of the batch it is running)."""
        return self._queue.qsize() if self._queue is not None else 0

    async def tag(self, inputs: List[JsonDict]) -> List[JsonDict]:
        """The predictor's outputs for `inputs`, in order; raises what predicting one of them
        raised (an `InputFormatError` for a bad input)."""
        if self._queue is None:
            raise RuntimeError("Batcher.start() was not called")
        loop = asyncio.get_running_loop()
        futures = []
        for item in inputs:
            future = loop.create_future()
            self._queue.put_nowait((item, future))
            futures.append(future)
        return list(await asyncio.gather(*futures))

    async def _work(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.batch_size and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            # A caller that went away (its request cancelled) needs no prediction.
            batch = [(item, future) for item, future in batch if not future.done()]
            if not batch:
                continue
            inputs = [item for item, _ in batch]
            self.statistics.batches += 1
            self.statistics.inputs += len(inputs)
            self.statistics.largest = max(self.statistics.largest, len(inputs))
            try:
                outputs = await loop.run_in_executor(self._executor, self._predict_batch, inputs)
            except InputFormatError:
                # One caller's bad input must not fail the others batched with it: each alone.
                for item, future in batch:
                    await self._predict_alone(loop, item, future)
                continue
            except Exception as error:  # noqa: BLE001 - handed to the callers, who report it
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for (_, future), output in zip(batch, outputs):
                if not future.done():
                    future.set_result(output)

    async def _predict_alone(self, loop, item: JsonDict, future: asyncio.Future) -> None:
        try:
            [output] = await loop.run_in_executor(self._executor, self._predict_batch, [item])
        except Exception as error:  # noqa: BLE001 - handed to the caller, who reports it
            if not future.done():
                future.set_exception(error)
            return
        if not future.done():
            future.set_result(output)
