"""The page at / in a real headless Chromium (Debian's), driven by Playwright."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import httpx
import pytest
from live_server import server
from tiny_models import TinyGenerator

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium")

# Background networking off: this machine's closed network refuses Chromium's own calls.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def test_page_generates_the_servers_images(tiny_conditional: TinyGenerator, tmp_path: Path) -> None:
    with server(tiny_conditional.path) as (url, _), sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(url)
            page.wait_for_selector("#class option[value='dog']", state="attached")
            page.fill("#seed", "40")
            page.fill("#count", "6")
            page.select_option("#class", "dog")
            page.click("#generate")
            page.wait_for_selector("#grid img >> nth=5")
            assert page.locator("#grid figure").count() == 6
            assert "6 images" in page.inner_text("#status")
            assert "seed 42 · dog" in page.inner_text("#grid")
            shown = page.get_attribute("#grid img[data-seed='42']", "src")
            page.screenshot(path=str(tmp_path / "page.png"))

            # past the form's own limits, the server's validation message reaches the user
            page.eval_on_selector("#count", "e => e.removeAttribute('min')")
            page.fill("#count", "0")
            page.click("#generate")
            page.wait_for_selector("#status.error")
            assert "422" in page.inner_text("#status")
        finally:
            browser.close()
        direct = httpx.post(f"{url}/v1/generate", json={"seeds": [42], "class": "dog"})
    assert shown == "data:image/png;base64," + base64.b64encode(direct.content).decode()
    assert (tmp_path / "page.png").stat().st_size > 1000
