"""The page in a real browser: headless Debian chromium driven by Playwright loads it, generates, and shows errors."""

import importlib.util
import shutil
import socket
import threading
import time

import pytest

from tests.web.conftest import require_web
from unnoise.web.jobs import Limits

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Headless, sandbox-free (tests run as root), and quiet on a machine without internet access.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def server(web_runs):
    """`unnoise serve` on the tiny run, in a thread, on a free local port."""
    yield from serving(web_runs["plain"])


def serving(run_path):
    """The address of `unnoise serve` on a run, in a thread, on a free local port, until the generator is closed."""
    require_web()
    import uvicorn

    from unnoise.web import create_app

    app = create_app(run_path, Limits(max_images=4, max_steps=20, queue_size=2), device="cpu")
    port = free_port()
    instance = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not instance.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert instance.started, "the server did not start"
    yield f"http://127.0.0.1:{port}/"
    instance.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def page():
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed: apt-get install chromium (make test does it)")
    if importlib.util.find_spec("playwright") is None:
        pytest.skip("playwright is not installed: pip install -e '.[test]' (make test does it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser.new_page(viewport={"width": 1200, "height": 700})
        browser.close()


def test_the_page_generates_an_image(server, page):
    page.goto(server)
    page.wait_for_function("document.getElementById('runinfo').textContent.includes('diffusion')")
    page.fill("#steps", "8")
    page.fill("#n", "4")
    page.click("#generate")
    page.wait_for_selector("#result:not(.hidden)", timeout=60_000)
    width = page.eval_on_selector("#result", "image => image.complete ? image.naturalWidth : 0")
    assert width == 2 * 128 + 3 * 2  # a 2x2 grid of 16x16 images upscaled 8x
    assert page.get_attribute("#download", "href").endswith("/image.png")
    assert page.text_content("#status").startswith("done in")
    assert page.text_content("#message") == ""


def test_a_bad_value_shows_a_message_on_the_page(server, page):
    page.goto(server)
    page.wait_for_function("document.getElementById('runinfo').textContent.includes('diffusion')")
    page.fill("#n", "99")
    page.click("#generate")
    page.wait_for_function("document.getElementById('message').textContent.length > 0")
    assert "n must be between 1 and 4" in page.text_content("#message")
    assert page.is_hidden("#result")
