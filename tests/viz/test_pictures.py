"""Pictures are written in the format their file name asks for, never PNG bytes under another name."""

import pytest
import torch
from PIL import Image

from unnoise.errors import UserError
from unnoise.viz import save_grid


@pytest.mark.parametrize(
    "name, expected", [("grid.png", "PNG"), ("grid.JPG", "JPEG"), ("g.jpeg", "JPEG"), ("g.webp", "WEBP")]
)
def test_a_grid_is_written_in_the_format_its_name_asks_for(tmp_path, name, expected):
    images = torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    path = save_grid(images, tmp_path / name)
    with Image.open(path) as picture:
        assert picture.format == expected and picture.size[0] > 2 * 16
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left behind


def test_an_unknown_picture_suffix_is_refused_before_writing(tmp_path):
    with pytest.raises(UserError, match=r"out .*grid\.gif names no picture format .* \.png, \.jpg") as refused:
        save_grid(torch.zeros(1, 3, 8, 8, dtype=torch.uint8), tmp_path / "grid.gif")
    assert refused.value.settings == ("out",) and not any(tmp_path.iterdir())


def test_chart_ticks_carry_the_decimals_that_tell_them_apart():
    from unnoise.viz.images import tick_label

    ticks = [26.05 + 0.025 * index for index in range(5)]  # CLIP scores that differ in the second decimal
    assert len({tick_label(value, 0.025) for value in ticks}) == 5
    assert [tick_label(value, 5000) for value in (0, 5600, 11200)] == ["0", "5600", "11200"]
    assert tick_label(26.1, 0.0) == "26.1"  # a flat axis
