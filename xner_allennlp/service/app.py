"""
The tagging service as an aiohttp application, built from a loaded predictor (`make_app`), so
that tests and other programs can run it without the command line (`allennlp xner-serve`).

* `POST /tag` with `{"text": "..."}` answers the predictor's JSON for the text (`tokens`,
  `tags`, `entities` with code-point offsets into the text in Unicode NFC, see
  `XnerTaggerPredictor`); with `{"texts": ["...", ...]}` a list of those, in order. The inputs
  of concurrent requests are tagged together, up to `batch_size` per model call (`Batcher`).
* `GET /health`: `{"status": "ok", ...}` with the language, the limits and the batch counts.
* `GET /`: the page (`static/index.html`) where a person pastes text and sees the entities.

Every error is a JSON `{"error": message}` with its status: 400 for a body that is not JSON or
not of that form, 413 for a body over `max_request_bytes`, 404/405 for other paths and
methods, 500 (the traceback in the server's log only) for a failure of the model.
"""

import json
import logging
import os
from typing import Any, AsyncIterator, Dict, List, Optional, Tuple

from aiohttp import web
from allennlp.predictors import Predictor

from xner_allennlp.common.errors import InputFormatError, check_text
from xner_allennlp.service.batcher import Batcher
from xner_allennlp.service.defaults import DEFAULT_BATCH_SIZE, DEFAULT_MAX_REQUEST_BYTES

logger = logging.getLogger(__name__)

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")

BATCHER = web.AppKey("batcher", Batcher)
SETTINGS = web.AppKey("settings", dict)


def error_response(status: int, message: str, headers: Optional[Dict[str, str]] = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


def _too_large(max_bytes: int, size: Optional[int] = None) -> web.Response:
    size_text = f"of {size} bytes " if size is not None else ""
    return error_response(
        413,
        f"request body {size_text}is over the limit of {max_bytes} bytes: send the text in "
        "smaller pieces (several requests), or start the server with a larger "
        "--max-request-bytes",
    )


def parse_request(body: bytes) -> Tuple[List[str], bool]:
    """
    The texts of a `POST /tag` body, and whether it is one `"text"`; a `ValueError` with the
    message for the 400 when the body is not `{"text": str}` or `{"texts": [str, ...]}`, or a
    text is not one the predictor takes.
    """
    try:
        request = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise ValueError(f"request body is not UTF-8 ({error.reason} at byte {error.start})") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"request body is not valid JSON ({error})") from None
    if isinstance(request, dict) and {"text", "texts"} <= set(request):
        raise ValueError('"text" and "texts" together: give one of them')
    if not isinstance(request, dict) or len(request) != 1 or not {"text", "texts"} & set(request):
        got = f"keys {sorted(request)}" if isinstance(request, dict) else type(request).__name__
        raise ValueError(f'expected a JSON object {{"text": "..."}} or {{"texts": ["...", ...]}}, got {got}')
    if "text" in request:
        texts, names = [request["text"]], ["text"]
        if not isinstance(request["text"], str):
            raise ValueError(f'"text" must be a string, got {type(request["text"]).__name__}')
    else:
        texts = request["texts"]
        if not isinstance(texts, list) or not all(isinstance(text, str) for text in texts):
            raise ValueError('"texts" must be a list of strings')
        names = [f"texts[{number}]" for number in range(len(texts))]
    for text, name in zip(texts, names):
        # The predictor's own check of a "sentence" (a CR is a space to it), here so that the
        # message names the text; the predictor normalises the text itself.
        try:
            check_text(text.replace("\r", " "), name, None)
        except InputFormatError as error:
            raise ValueError(str(error)) from None
    return texts, "text" in request


async def tag(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    max_bytes = settings["max_request_bytes"]
    if request.content_length is not None and request.content_length > max_bytes:
        return _too_large(max_bytes, request.content_length)
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return _too_large(max_bytes)  # chunked: no length to report
    try:
        texts, single = parse_request(body)
    except ValueError as error:
        return error_response(400, str(error))
    try:
        outputs = await request.app[BATCHER].tag([{"sentence": text} for text in texts])
    except InputFormatError as error:
        return error_response(400, str(error))
    return web.json_response(outputs[0] if single else outputs, dumps=_dumps)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


async def health(request: web.Request) -> web.Response:
    statistics = request.app[BATCHER].statistics
    report = dict(status="ok", batches=statistics.batches, inputs=statistics.inputs)
    report.update(largest_batch=statistics.largest, **request.app[SETTINGS])
    return web.json_response(report, dumps=_dumps)


async def page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(os.path.join(STATIC_DIR, "index.html"))


@web.middleware
async def json_errors(request: web.Request, handler) -> web.StreamResponse:
    """aiohttp's own errors (404, 405, ...) as JSON too, and any failure as a 500 without the
    traceback (which goes to the log)."""
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        headers = {key: value for key, value in error.headers.items() if key.lower() == "allow"}
        message = f"{error.reason}: {request.method} {request.path}"
        if error.status == 405:
            message += f" (allowed: {error.headers.get('Allow', '')})"
        return error_response(error.status, message, headers)
    except Exception:  # noqa: BLE001 - the client gets a message, the log the traceback
        logger.exception("xner-serve: %s %s failed", request.method, request.path)
        return error_response(500, "internal error while tagging; the server's log has the details")


def make_app(
    predictor: Predictor,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
    model: Optional[str] = None,
) -> web.Application:
    """
    The service for `predictor` (an `xner_tagger`), ready for `aiohttp.web.run_app` or an
    `AppRunner`; its batch worker starts and stops with the application.

    # Parameters

    predictor : `Predictor`
    batch_size : `int`, optional (default = `8`)
        Most inputs, of all waiting requests together, in one `predict_batch_json` call.
    max_request_bytes : `int`, optional (default = `1_000_000`)
        Largest request body; a larger one gets a 413.
    model : `str`, optional
        What `/health` and the page name the model (the archive's path).
    """
    if max_request_bytes < 1:
        raise ValueError(f"max_request_bytes must be at least 1, got {max_request_bytes}")
    batcher = Batcher(predictor.predict_batch_json, batch_size)
    app = web.Application(client_max_size=max_request_bytes, middlewares=[json_errors])
    app[BATCHER] = batcher
    app[SETTINGS] = {
        "model": model,
        "language": getattr(predictor, "language", None),
        "batch_size": batch_size,
        "max_request_bytes": max_request_bytes,
    }

    async def batch_worker(app: web.Application) -> AsyncIterator[None]:
        await batcher.start()
        yield
        await batcher.close()

    app.cleanup_ctx.append(batch_worker)
    app.router.add_post("/tag", tag)
    app.router.add_get("/health", health)
    app.router.add_get("/", page)
    app.router.add_static("/static/", STATIC_DIR)
    return app
