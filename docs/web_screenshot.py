"""Make docs/web.png, the README's picture of `unnoise serve`: the page in headless chromium after a generation.

    python docs/web_screenshot.py RUN_DIR [--attrs Smiling,Blond_Hair] [--out docs/web.png]

Needs the web extra, playwright and Debian's chromium (`make test` installs all three).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.web.test_browser import CHROMIUM, CHROMIUM_FLAGS, free_port  # noqa: E402
from unnoise.web import create_app  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("--attrs", default="", help="attributes to tick as 'yes' (a -name ticks 'no')")
    parser.add_argument("--steps", default="50")
    parser.add_argument("--n", default="8")
    parser.add_argument("--out", type=Path, default=Path("docs/web.png"))
    arguments = parser.parse_args()

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(arguments.run, device="cpu"), host="127.0.0.1", port=port, log_level="warning")
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 640})
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_function("document.getElementById('runinfo').textContent !== 'loading…'")
        for name in filter(None, arguments.attrs.split(",")):
            page.select_option(f"select[data-name='{name.lstrip('-')}']", "-" if name.startswith("-") else "+")
        page.fill("#steps", arguments.steps)
        page.fill("#n", arguments.n)
        page.click("#generate")
        page.wait_for_selector("#result:not(.hidden)", timeout=600_000)
        page.screenshot(path=str(arguments.out))
        browser.close()
    server.should_exit = True
    print(f"wrote {arguments.out}")


if __name__ == "__main__":
    main()
