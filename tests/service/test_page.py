"""
The service's page in headless Chromium (Debian's `chromium`; skipped without it): text pasted
and tagged with a click shows each entity of the API's answer highlighted over exactly its
characters, Bengali and characters outside the BMP included, in its type's colour.
"""

import asyncio
import json
import unicodedata
import urllib.parse

import pytest
from PIL import Image

from tests.predictors.test_predictor import SENTENCES
from tests.service.chromium import chromium, executable
from tests.service.server import post_json, running
from tests.service.test_app import BENGALI_NFC_CHANGES, NON_BMP
from xner_allennlp.service.app import make_app

pytestmark = pytest.mark.skipif(
    executable() is None,
    reason="Debian's chromium is not installed (apt-get install chromium): the page is not checked",
)

TEXT = "\n".join([SENTENCES["es"], NON_BMP, "", BENGALI_NFC_CHANGES + " " + SENTENCES["bn"]])
# page.css's colours, as the browser computes them.
COLORS = {"PER": (255, 207, 153), "LOC": (168, 230, 161)}

# What the page shows: each <mark> with its place among the code points of the highlighted text.
READ_PAGE = """(() => {
  const out = [];
  let position = 0;
  const highlighted = document.getElementById("highlighted");
  for (const node of highlighted.childNodes) {
    const length = Array.from(node.textContent).length;
    if (node.nodeName === "MARK") {
      out.push({text: node.textContent, type: node.dataset.type, start: +node.dataset.start,
                end: +node.dataset.end, position, length,
                color: getComputedStyle(node).backgroundColor});
    }
    position += length;
  }
  return {marks: out, text: highlighted.textContent, state: document.body.dataset.state,
          status: document.getElementById("status").textContent,
          error: document.getElementById("status").classList.contains("error"),
          rows: Array.from(document.querySelectorAll("#entities tbody tr"),
                           row => Array.from(row.cells, cell => cell.textContent))};
})()"""


async def paste_and_tag(url, text, screenshot=None, linked=True):
    async with chromium() as page:
        await page.navigate(url + "/")
        await page.wait_until("document.getElementById('model-info').textContent.includes('language')")
        await page.insert_text("#input", text)
        await page.click("#tag")
        await page.wait_until("['done', 'error'].includes(document.body.dataset.state)")
        shown = await page.evaluate(READ_PAGE)
        shown["info"] = await page.evaluate("document.getElementById('model-info').textContent")
        if screenshot is not None:
            screenshot.write_bytes(await page.screenshot())
        if not linked:
            return shown
        # The same text given in the address (/?text=...) is tagged on load.
        await page.navigate(url + "/?text=" + urllib.parse.quote(text))
        await page.wait_until("document.body.dataset.state === 'done'")
        shown["linked"] = (await page.evaluate(READ_PAGE))["marks"]
        return shown


def test_the_page_highlights_the_entities_of_the_api(stubbed, tmp_path):
    with running(make_app(stubbed, model="fixture.tar.gz")) as url:
        status, expected = post_json(url + "/tag", {"text": TEXT})
        assert status == 200
        shown = asyncio.run(paste_and_tag(url, TEXT, tmp_path / "page.png"))
    entities = expected["entities"]
    text = unicodedata.normalize("NFC", TEXT)
    assert text != TEXT  # U+09DF: the offsets are those of the NFC text, which the page shows
    assert "fixture.tar.gz, tokenizer language es" in shown["info"]
    assert (shown["state"], shown["error"]) == ("done", False), shown["status"]
    assert shown["status"] == f"{len(entities)} entities in {len(expected['tokens'])} tokens."
    assert shown["text"] == text
    assert {e["type"] for e in entities} == set(COLORS)
    assert any("𐐀" in e["text"] for e in entities) and any("বগুড়ায়" in e["text"] for e in entities)
    marks = shown["marks"]
    assert [(m["text"], m["type"], m["start"], m["end"]) for m in marks] == [
        (e["text"], e["type"], e["start"], e["end"]) for e in entities
    ]
    for mark in marks:
        # Where the mark is in the page's text, counted in code points, is the API's offset.
        assert (mark["position"], mark["position"] + mark["length"]) == (mark["start"], mark["end"])
        assert text[mark["start"] : mark["end"]] == mark["text"]
        assert mark["color"] == "rgb(%d, %d, %d)" % COLORS[mark["type"]]
    assert shown["rows"] == [[e["text"], e["type"], f"{e['start']}–{e['end']}"] for e in entities]
    assert shown["linked"] == marks
    # The highlights are visible: each type's colour fills a good part of the screenshot.
    colors = dict((rgb, n) for n, rgb in Image.open(tmp_path / "page.png").convert("RGB").getcolors(1 << 24))
    for kind, rgb in COLORS.items():
        assert colors.get(rgb, 0) > 500, (kind, colors.get(rgb, 0))


def test_the_page_shows_the_services_error(predictor):
    text = "Ana " * 20
    with running(make_app(predictor, max_request_bytes=60)) as url:
        shown = asyncio.run(paste_and_tag(url, text, linked=False))
    size = len(json.dumps({"text": text}, separators=(",", ":")))  # as JSON.stringify writes it
    assert shown["state"] == "error" and shown["error"]
    assert shown["status"].startswith(f"request body of {size} bytes is over the limit of 60 bytes")
    assert shown["marks"] == []
