"""The page in a real browser on an unCLIP run: a prompt without a negative one, variations of an upload and a message
for a missing picture; a plain run's page offers neither."""

import pytest

from tests.web.test_browser import page, server, serving  # noqa: F401 - the browser and the served tiny runs
from tests.web.test_browser_editing import picture_file


@pytest.fixture
def unclip_server(unclip_runs):
    yield from serving(unclip_runs["unclip"])


def open_page(page, address):  # noqa: F811
    page.goto(address)
    page.wait_for_function("document.getElementById('runinfo').textContent.includes('diffusion')")


def test_an_unclip_run_offers_a_prompt_and_variations_of_a_picture(unclip_server, page, tmp_path):  # noqa: F811
    open_page(page, unclip_server)
    assert page.is_visible("#prompt") and page.is_hidden("#negative") and page.is_visible("#variations-section")
    assert page.input_value("#prior-guidance") == "2"  # the run's default, beside the prompt it guides
    assert page.is_hidden("#variation-image2")
    page.fill("#steps", "4")
    page.fill("#n", "3")
    page.fill("#prompt", "a smiling person")  # for generating: variations leave it out
    page.click("#variation-run")
    page.wait_for_function("document.getElementById('variation-message').textContent.length > 0")
    assert "choose a picture (image)" in page.text_content("#variation-message")
    page.set_input_files("#variation-image", str(picture_file(tmp_path)))
    page.click("#variation-run")
    page.wait_for_selector("#result:not(.hidden)", timeout=60_000)
    width = page.eval_on_selector("#result", "image => image.complete ? image.naturalWidth : 0")
    assert width == 4 * 128 + 5 * 2  # the picture and its 3 variations: 16x16 upscaled 8x, in one row
    assert page.text_content("#status").startswith("done in") and page.text_content("#variation-message") == ""
    assert page.get_attribute("#download", "href").endswith("/image.png")
    page.select_option("#variation-tool", "walk")
    assert page.is_visible("#variation-image2")


def test_a_plain_run_offers_no_prompt_and_no_variations(server, page):  # noqa: F811
    open_page(page, server)
    assert page.is_hidden("#prompt") and page.is_hidden("#variations-section") and page.is_visible("#edit-section")
    assert page.is_hidden("#prior-guidance")
