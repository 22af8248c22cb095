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
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium"),
]

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


def set_slider(page: sync_api.Page, selector: str, value: float) -> None:
    """Move a range input the way a user's drag does: new value, then an input event."""
    page.eval_on_selector(
        selector, "(e, v) => { e.value = v; e.dispatchEvent(new Event('input')); }", str(value)
    )


def test_token_look_sliders_and_walk_preview(tiny_rgb: TinyGenerator, tmp_path: Path) -> None:
    (tmp_path / "token").write_text("s3cret\n")
    auth = {"authorization": "Bearer s3cret"}
    look = "exposure=0.5,saturation=0"
    with (
        server(tiny_rgb.path, "--token-file", str(tmp_path / "token")) as (url, _),
        sync_api.sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(url)
            page.wait_for_selector("#status.error")
            assert "401" in page.inner_text("#status")  # no token yet: the page says so
            page.fill("#token", "s3cret")
            page.dispatch_event("#token", "change")
            page.wait_for_selector("#model option[value='tiny_rgb']", state="attached")

            set_slider(page, "#exposure", 0.5)
            set_slider(page, "#saturation", 0)
            assert page.inner_text("#post-spec") == look
            page.fill("#seed", "2")
            page.fill("#count", "3")
            with page.expect_request("**/v1/generate") as sent:
                page.click("#generate")
            page.wait_for_selector("#grid img >> nth=2")
            assert sent.value.post_data_json["post"] == look
            assert sent.value.headers["authorization"] == "Bearer s3cret"
            shown = page.get_attribute("#grid img[data-seed='3']", "src")

            page.fill("#walk-from", "3")
            page.fill("#walk-to", "7")
            page.fill("#walk-frames", "5")
            with page.expect_request("**/v1/walk") as walked:
                page.click("#walk")
            page.wait_for_selector("#walk-strip img >> nth=4")
            assert page.locator("#walk-strip img").count() == 5
            assert walked.value.post_data_json["frames_per_seed"] == 4
            assert walked.value.post_data_json["post"] == look
            strip = [page.get_attribute(f"#walk-strip img >> nth={i}", "src") for i in range(5)]
            # the preview plays: the player moves on through the strip's frames
            page.wait_for_function("document.getElementById('walk-player').dataset.index === '2'")
            assert page.get_attribute("#walk-player", "src") in strip
            assert "5 frames from seed 3 to 7" in page.inner_text("#walk-status")
            page.screenshot(path=str(tmp_path / "walk.png"))
        finally:
            browser.close()
        direct = httpx.post(f"{url}/v1/generate", json={"seeds": [3], "post": look}, headers=auth)
        plain = httpx.post(f"{url}/v1/generate", json={"seeds": [3]}, headers=auth)
        last = httpx.post(f"{url}/v1/generate", json={"seeds": [7], "post": look}, headers=auth)
    assert shown == "data:image/png;base64," + base64.b64encode(direct.content).decode()
    assert direct.content != plain.content  # the sliders did change the image
    # the walk starts and ends on its seeds' images, and moves in between
    assert strip[0] == shown
    assert strip[4] == "data:image/png;base64," + base64.b64encode(last.content).decode()
    assert len(set(strip)) == 5


def test_colour_selectors_come_from_the_servers_config(tiny_rgb: TinyGenerator) -> None:
    pytest.importorskip("PyOpenColorIO")
    import os

    view = "sRGB - Display:ACES 2.0 - SDR 100 nits (Rec.709)"
    expected = f"ocio=sRGB - Texture:ACEScct,ocio-display={view}:ACEScct"
    env = {**os.environ, "OCIO": "ocio://studio-config-latest"}
    with server(tiny_rgb.path, env=env) as (url, _), sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(url)
            page.wait_for_selector(f"#ocio-view option[value='{view}']", state="attached")
            page.select_option("#ocio-space", "ACEScct")
            page.select_option("#ocio-view", view)
            assert page.inner_text("#post-spec") == expected
            page.fill("#count", "2")
            with page.expect_request("**/v1/generate") as sent:
                page.click("#generate")
            page.wait_for_selector("#grid img >> nth=1")
            assert sent.value.post_data_json["post"] == expected
            shown = page.get_attribute("#grid img[data-seed='0']", "src")
        finally:
            browser.close()
        direct = httpx.post(f"{url}/v1/generate", json={"seeds": [0], "post": expected})
    assert shown == "data:image/png;base64," + base64.b64encode(direct.content).decode()
