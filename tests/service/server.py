"""
Test plumbing, not a test module: an aiohttp application served on 127.0.0.1 (a free port)
from a thread of its own, and a plain HTTP client for it (urllib, so that the tests' requests
are independent of the server's library).
"""

import asyncio
import contextlib
import json
import threading
import urllib.error
import urllib.request
from typing import Any, Dict, Iterator, Optional, Tuple

from aiohttp import web


@contextlib.contextmanager
def running(app: web.Application) -> Iterator[str]:
    """Serves `app` while the block runs; yields its base URL, `http://127.0.0.1:PORT`."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, access_log=None)
    started = threading.Event()
    state: Dict[str, Any] = {}

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            state["port"] = runner.addresses[0][1]
        except BaseException as error:  # noqa: BLE001 - re-raised in the test's thread
            state["error"] = error
            started.set()
            return
        started.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            loop.close()

    thread = threading.Thread(target=serve, name="test-service", daemon=True)
    thread.start()
    assert started.wait(60), "the test server did not start within 60 s"
    if "error" in state:
        raise state["error"]
    try:
        yield f"http://127.0.0.1:{state['port']}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(60)


def request(
    url: str,
    body: Optional[bytes] = None,
    method: Optional[str] = None,
    headers: Optional[Dict[str, str]] = None,
    timeout: float = 60,
) -> Tuple[int, Dict[str, str], bytes]:
    """`(status, headers, body)` of one HTTP request, error statuses included."""
    message = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(message, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


def post_json(url: str, value: Any, timeout: float = 60) -> Tuple[int, Any]:
    """POSTs `value` as JSON; `(status, decoded JSON answer)`."""
    body = value if isinstance(value, bytes) else json.dumps(value, ensure_ascii=False).encode("utf-8")
    status, headers, answer = request(
        url, body, "POST", {"Content-Type": "application/json"}, timeout=timeout
    )
    assert headers.get("Content-Type", "").startswith("application/json"), (status, headers, answer[:200])
    return status, json.loads(answer.decode("utf-8"))
