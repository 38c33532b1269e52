"""The page's editing section in a real browser: upload, paint a mask, run, watch the result and read messages."""

import numpy as np
from PIL import Image

from tests.web.test_browser import page, server  # noqa: F401 - the browser and the served tiny run


def open_page(page, server):  # noqa: F811
    page.goto(server)
    page.wait_for_function("document.getElementById('runinfo').textContent.includes('diffusion')")
    page.fill("#steps", "6")
    page.fill("#n", "1")


def picture_file(tmp_path):
    path = tmp_path / "face.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 30, 3), dtype=np.uint8)).save(path)
    return path


def test_inpainting_a_painted_mask(server, page, tmp_path):  # noqa: F811
    open_page(page, server)
    page.select_option("#tool", "inpaint")
    assert page.is_visible("#mask-strokes") and page.is_hidden("#strength")
    page.set_input_files("#edit-image", str(picture_file(tmp_path)))
    page.fill("#jump-length", "2")
    page.fill("#resample", "2")
    box = page.locator("#mask-strokes").bounding_box()
    page.mouse.move(box["x"] + 60, box["y"] + 60)
    page.mouse.down()
    page.mouse.move(box["x"] + 180, box["y"] + 120, steps=12)
    page.mouse.up()
    page.click("#edit-run")
    page.wait_for_selector("#result:not(.hidden)", timeout=60_000)
    width = page.eval_on_selector("#result", "image => image.complete ? image.naturalWidth : 0")
    assert width == 3 * 128 + 4 * 2  # input, the hole, the inpainting: 16x16 upscaled 8x
    assert page.text_content("#status").startswith("done in") and page.text_content("#edit-message") == ""


def test_inversion_reports_its_error_and_a_missing_mask_or_picture_gets_a_message(server, page, tmp_path):  # noqa: F811
    open_page(page, server)
    page.select_option("#tool", "invert")
    page.click("#edit-run")
    page.wait_for_function("document.getElementById('edit-message').textContent.length > 0")
    assert "choose a picture to invert" in page.text_content("#edit-message")
    page.set_input_files("#edit-image", str(picture_file(tmp_path)))
    page.click("#edit-run")
    page.wait_for_selector("#result:not(.hidden)", timeout=60_000)
    assert "reconstruction error: RMSE" in page.text_content("#status")
    page.select_option("#tool", "inpaint")
    page.click("#edit-run")
    page.wait_for_function("document.getElementById('edit-message').textContent.includes('mask')")
    assert "draw or upload a mask" in page.text_content("#edit-message")
