"""
The tagging service over loopback with the fixture model: its answers are the predictor's, the
inputs of concurrent callers share model calls, and every error is a JSON message.
"""

import concurrent.futures
import json
import threading
import time
import unicodedata

import pytest

from tests.predictors.test_predictor import SENTENCES, check_offsets, stub_tags
from tests.service.server import post_json, request, running
from xner_allennlp.service.app import BATCHER, make_app

# Outside the BMP: one code point, two UTF-16 units (the page's concern, the API's offsets too).
NON_BMP = "😀 𐐀na Torres visitó Bogotá."
# U+09DF (য়) is decomposed by NFC: the offsets are those of the NFC text.
BENGALI_NFC_CHANGES = "কুমিল্লা ও বগুড়ায় বন্যা হয়েছে।".replace("\u09af\u09bc", "\u09df")


def test_one_text_is_the_predictors_json(predictor):
    with running(make_app(predictor, model="fixture.tar.gz")) as url:
        status, answer = post_json(url + "/tag", {"text": SENTENCES["es"]})
        assert status == 200
        assert answer == predictor.predict_json({"sentence": SENTENCES["es"]})
        assert answer["tokens"][:3] == ["El", "presidente", "de"]
        status, _, body = request(url + "/health")
        health = json.loads(body)
        assert status == 200 and health["status"] == "ok"
        assert health["language"] == "es" and health["model"] == "fixture.tar.gz"
        assert (health["batches"], health["inputs"]) == (1, 1)


def test_texts_come_back_in_order_with_their_offsets(stubbed):
    texts = [SENTENCES["es"], SENTENCES["bn"], "", NON_BMP, BENGALI_NFC_CHANGES, SENTENCES["de"]]
    with running(make_app(stubbed, batch_size=4)) as url:
        status, answers = post_json(url + "/tag", {"texts": texts})
        assert status == 200
        assert answers == [stubbed.predict_json({"sentence": text}) for text in texts]
        assert answers[2] == {"tokens": [], "tags": [], "entities": []}
        for text, answer in zip(texts, answers):
            check_offsets(unicodedata.normalize("NFC", text), answer)
        assert [e["text"] for e in answers[3]["entities"]] == ["𐐀na Torres", "Bogotá"]
        # Code points: the emoji and the space before the entity are two, not three.
        assert answers[3]["entities"][0]["start"] == 2
        assert "\u09df" in texts[4] and "বগুড়ায়" in answers[4]["entities"][0]["text"]
        assert "\u09df" not in answers[4]["entities"][0]["text"]  # NFC: U+09AF U+09BC
        status, answers = post_json(url + "/tag", {"texts": []})
        assert (status, answers) == (200, [])


def test_concurrent_callers_are_tagged_together(stubbed, monkeypatch):
    # The first model call waits until eight more inputs queue behind it: the worker must then
    # take them four at a time (--batch-size 4), whichever request each came in.
    sizes, release = [], threading.Event()
    predict_batch_json = stubbed.predict_batch_json

    def gated(inputs):
        sizes.append(len(inputs))
        if len(sizes) == 1:
            assert release.wait(60)
        return predict_batch_json(inputs)

    monkeypatch.setattr(stubbed, "predict_batch_json", gated)
    app = make_app(stubbed, batch_size=4)
    requests = [{"text": SENTENCES["es"]}] + [{"text": f"Ana {n} vio a Luis."} for n in range(5)]
    requests.append({"texts": [SENTENCES["de"], SENTENCES["bn"], NON_BMP]})
    with running(app) as url, concurrent.futures.ThreadPoolExecutor(len(requests)) as pool:
        first = pool.submit(post_json, url + "/tag", requests[0])
        wait_for(lambda: sizes == [1])
        rest = [pool.submit(post_json, url + "/tag", body) for body in requests[1:]]
        wait_for(lambda: app[BATCHER].pending == 8)
        release.set()
        answers = [future.result(timeout=60) for future in [first, *rest]]
    assert sizes == [1, 4, 4]
    for body, (status, answer) in zip(requests, answers):
        assert status == 200
        if "text" in body:
            assert answer == predict_batch_json([{"sentence": body["text"]}])[0]
        else:
            assert answer == predict_batch_json([{"sentence": text} for text in body["texts"]])


def wait_for(condition, seconds=60):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.mark.parametrize(
    "body, message",
    [
        (b'{"text": ', "request body is not valid JSON (Expecting value: line 1 column 10"),
        (b"\xff", "request body is not UTF-8 (invalid start byte at byte 0)"),
        (b"[1]", 'expected a JSON object {"text": "..."} or {"texts": ["...", ...]}, got list'),
        (
            b'{"txt": "a"}',
            'expected a JSON object {"text": "..."} or {"texts": ["...", ...]}, got keys [\'txt\']',
        ),
        (b'{"text": "a", "texts": []}', '"text" and "texts" together: give one of them'),
        (b'{"text": "a", "language": "es"}', "got keys ['language', 'text']"),
        (b'{"text": 3}', '"text" must be a string, got int'),
        (b'{"texts": ["a", 2]}', '"texts" must be a list of strings'),
        (b'{"texts": "a"}', '"texts" must be a list of strings'),
        (b'{"texts": ["a", "b\\u0000"]}', "texts[1]: control character U+0000 at column 2"),
    ],
)
def test_bad_requests_are_400_with_a_message(predictor, body, message):
    with running(make_app(predictor)) as url:
        status, answer = post_json(url + "/tag", body)
        assert status == 400
        assert list(answer) == ["error"] and message in answer["error"], answer
        # The service goes on answering.
        assert post_json(url + "/tag", {"text": "Hola."})[0] == 200


def test_a_body_over_the_limit_is_413(predictor):
    with running(make_app(predictor, max_request_bytes=100)) as url:
        fits = json.dumps({"text": "a" * 88}).encode()
        assert len(fits) == 100 and post_json(url + "/tag", fits)[0] == 200
        status, answer = post_json(url + "/tag", json.dumps({"text": "a" * 89}).encode())
        assert status == 413
        assert answer["error"].startswith("request body of 101 bytes is over the limit of 100 bytes")
        assert "--max-request-bytes" in answer["error"]
        # Without a Content-Length (chunked), aiohttp's own limit, as JSON too.
        status, headers, body = request(
            url + "/tag",
            iter([b'{"text": "', b"a" * 200, b'"}']),
            "POST",
            {"Content-Type": "application/json"},
        )
        assert status == 413 and json.loads(body)["error"].startswith("request body is over the limit")


def test_other_paths_and_methods_are_json_errors(predictor):
    with running(make_app(predictor)) as url:
        status, _, body = request(url + "/tag")
        assert status == 405 and json.loads(body) == {"error": "Method Not Allowed: GET /tag (allowed: POST)"}
        status, _, body = request(url + "/nowhere", b"{}", "POST")
        assert status == 404 and json.loads(body) == {"error": "Not Found: POST /nowhere"}


def test_a_model_failure_is_500_without_the_traceback(predictor, monkeypatch, caplog):
    calls = []

    def failing(instances):
        calls.append(len(instances))
        if len(calls) == 1:
            raise RuntimeError("secret detail of the failure")
        return [{"tags": stub_tags(i["metadata"]["words"])} for i in instances]

    monkeypatch.setattr(predictor, "predict_batch_instance", failing)
    with running(make_app(predictor)) as url:
        status, _, body = request(url + "/tag", b'{"text": "Ana vio a Luis."}', "POST")
        assert status == 500
        assert json.loads(body) == {"error": "internal error while tagging; the server's log has the details"}
        assert b"secret" not in body and b"Traceback" not in body
        assert "secret detail of the failure" in caplog.text
        # The worker lives on.
        status, answer = post_json(url + "/tag", {"text": "Ana vio a Luis."})
        assert status == 200 and [e["text"] for e in answer["entities"]] == ["Ana", "Luis"]


def test_the_page_and_its_files_are_served(predictor):
    with running(make_app(predictor)) as url:
        status, headers, body = request(url + "/")
        assert status == 200 and headers["Content-Type"].startswith("text/html")
        assert b'<script src="static/page.js">' in body and b'id="input"' in body
        for name, kind in (("page.js", "javascript"), ("page.css", "text/css")):
            status, headers, _ = request(f"{url}/static/{name}")
            assert status == 200 and kind in headers["Content-Type"], (name, headers)
