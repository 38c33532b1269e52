"""A folder's captions: metadata.jsonl (Hugging Face imagefolder) and NAME.txt sidecars, and what is wrong with them."""

import json
import logging

import pytest

from unnoise.data import open_dataset
from unnoise.data.captions import read_captions
from unnoise.errors import UserError

from .make_files import write_image


def warnings_of(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]


def write_metadata(path, rows: list) -> None:
    """One line per row: a dict or list is written as JSON, a string as it is."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [row if isinstance(row, str) else json.dumps(row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_metadata_rows_give_captions_lists_of_captions_and_no_caption_when_empty(tmp_path, caplog):
    write_metadata(
        tmp_path / "metadata.jsonl",
        [
            {"file_name": "a.png", "text": "  a red square  ", "label": 3},
            {"file_name": "b.png", "text": ["one", "two", " ", "one"]},
            "",  # blank lines are allowed
            {"file_name": "c.png", "text": ""},
            {"file_name": "d.png", "caption": "from the caption column"},
            {"file_name": "e.png", "label": 1},  # no caption column: no caption
            {"file_name": "f.png", "text": None},
            {"file_name": "./g.png", "text": "g, said once"},
        ],
    )
    names = ["a.png", "b.png", "c.png", "d.png", "e.png", "f.png", "g.png", "h.png"]
    assert read_captions(tmp_path, names) == [
        ["a red square"],
        ["one", "two"],  # empty ones dropped, repeats said once
        [],
        ["from the caption column"],
        [],
        [],
        ["g, said once"],
        [],  # no row at all
    ]
    assert warnings_of(caplog) == []


def test_sidecar_files_give_one_caption_per_non_empty_line(tmp_path):
    (tmp_path / "a.txt").write_text("  a whole caption \n")
    (tmp_path / "b.txt").write_text("first caption\r\n\r\nsecond caption\r\n")
    (tmp_path / "c.txt").write_text("  \n\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.txt").write_bytes("\ufeffwith a byte order mark".encode())
    (tmp_path / "e.jpg.txt").write_text("not the sidecar of e.jpg: that is e.txt")
    names = ["a.png", "b.jpeg", "c.png", "sub/d.webp", "e.jpg", "sub/a.png"]
    assert read_captions(tmp_path, names) == [
        ["a whole caption"],
        ["first caption", "second caption"],
        [],
        ["with a byte order mark"],
        [],
        [],  # a.txt sits in the root, not beside sub/a.png
    ]


def test_an_upper_case_sidecar_suffix_is_read_and_the_lower_case_one_wins_where_both_are_there(tmp_path):
    (tmp_path / "A.TXT").write_text("upper")
    (tmp_path / "b.Txt").write_text("mixed")
    (tmp_path / "c.TXT").write_text("the upper-case one")
    (tmp_path / "C.txt").write_text("not c's: another stem")
    both = tmp_path / "both"
    both.mkdir()
    (both / "d.TXT").write_text("upper")
    (both / "d.txt").write_text("lower")
    (both / "e.txt").mkdir()  # a folder, not e's caption
    (both / "e.TXT").write_text("e's")
    (both / "f.Txt").write_text("first by name")
    (both / "f.tXT").write_text("second by name")
    names = ["A.jpg", "b.png", "c.png", "both/d.png", "both/e.png", "both/f.png"]
    expected = [["upper"], ["mixed"], ["the upper-case one"], ["lower"], ["e's"], ["first by name"]]
    assert read_captions(tmp_path, names) == expected


def test_metadata_wins_over_a_sidecar_counted_in_one_warning_and_an_empty_row_leaves_the_sidecar(tmp_path, caplog):
    write_metadata(
        tmp_path / "metadata.jsonl",
        [{"file_name": "a.png", "text": "from metadata"}, {"file_name": "b.png", "text": "  "}],
    )
    (tmp_path / "a.txt").write_text("from the sidecar")
    (tmp_path / "b.txt").write_text("b's sidecar")
    assert read_captions(tmp_path, ["a.png", "b.png"]) == [["from metadata"], ["b's sidecar"]]
    assert warnings_of(caplog) == [
        "1 image has captions in both metadata.jsonl and NAME.txt (e.g. a.png); metadata.jsonl's are used"
    ]


def test_metadata_in_subfolders_names_files_from_its_own_folder_and_rows_for_one_image_add_up(tmp_path):
    write_metadata(tmp_path / "metadata.jsonl", [{"file_name": "sub/deep/a.png", "text": "from the root"}])
    write_metadata(tmp_path / "sub" / "metadata.jsonl", [{"file_name": "deep/a.png", "text": "from sub"}])
    write_metadata(
        tmp_path / "sub" / "deep" / "metadata.jsonl",
        [{"file_name": "a.png", "text": ["from deep", "from sub"]}, {"file_name": "b.png", "text": "b"}],
    )
    write_metadata(tmp_path / "elsewhere" / "metadata.jsonl", [{"file_name": "x.png", "text": "no image below"}])
    assert read_captions(tmp_path, ["sub/deep/a.png", "sub/deep/b.png", "top.png"]) == [
        ["from the root", "from sub", "from deep"],  # shallow files first
        ["b"],
        [],
    ]


def test_windows_paths_in_metadata_name_the_image_a_posix_name_with_a_backslash_first(tmp_path):
    write_metadata(
        tmp_path / "metadata.jsonl",
        [{"file_name": "sub\\deep\\a.png", "text": "from windows"}, {"file_name": "b\\c.png", "text": "b"}],
    )
    # b\c.png is a file of that name here (POSIX allows it), so the row names it and not b/c.png.
    assert read_captions(tmp_path, ["sub/deep/a.png", "b\\c.png", "b/c.png"]) == [["from windows"], ["b"], []]


def test_rows_naming_no_image_of_the_dataset_are_counted_in_one_warning_with_examples(tmp_path, caplog):
    write_metadata(
        tmp_path / "metadata.jsonl",
        [
            {"file_name": "a.png", "text": "kept"},
            {"file_name": "gone.png", "text": "x"},
            {"file_name": "../outside.png", "text": "x"},
            {"file_name": "notes.txt", "text": "x"},
            {"file_name": "A.PNG", "text": "x"},  # names are matched exactly
        ],
    )
    write_metadata(tmp_path / "sub" / "metadata.jsonl", [{"file_name": "c.png", "text": "x"}])
    assert read_captions(tmp_path, ["a.png", "sub/b.png"]) == [["kept"], []]
    assert warnings_of(caplog) == [
        f"5 rows of metadata.jsonl name no image of {tmp_path} (e.g. metadata.jsonl: gone.png, "
        "metadata.jsonl: ../outside.png, metadata.jsonl: notes.txt, ...); left unused"
    ]


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"file_name": "a.png", "text": "fine"', r"line 2 is not JSON \(Expecting ',' delimiter at column 38\)"),
        ('["a.png", "a caption"]', r"line 2 is not a JSON object; write one per line, like \{\"file_name\""),
        ('{"text": "no file"}', r'line 2 has no "file_name" string'),
        ('{"file_name": 7, "text": "x"}', r'line 2 has no "file_name" string'),
        ('{"file_name": "a.png", "text": 3}', r'line 2 has "text": 3; write a string or a list of strings'),
        ('{"file_name": "a.png", "text": ["x", {"y": 1}]}', r'line 2 has "text": \["x", \{"y": 1\}\]; write a'),
    ],
)
def test_a_bad_metadata_line_is_a_one_line_error_naming_file_and_line(tmp_path, line, message):
    write_metadata(tmp_path / "sub" / "metadata.jsonl", [{"file_name": "a.png", "text": "ok"}, line])
    with pytest.raises(UserError, match=message) as caught:
        read_captions(tmp_path, ["sub/a.png"])
    assert str(caught.value).startswith(f"{tmp_path / 'sub' / 'metadata.jsonl'} line 2 ")
    assert "\n" not in str(caught.value)


def test_text_that_is_not_utf8_fails_for_metadata_and_skips_a_sidecar_with_a_warning(tmp_path, caplog):
    (tmp_path / "a.txt").write_bytes("caf\u00e9 in Latin-1".encode("latin-1"))
    (tmp_path / "b.txt").write_text("caf\u00e9 in UTF-8", encoding="utf-8")
    assert read_captions(tmp_path, ["a.png", "b.png"]) == [[], ["caf\u00e9 in UTF-8"]]
    assert warnings_of(caplog) == ["1 caption file is unreadable or not UTF-8 (e.g. a.txt); left without a caption"]
    (tmp_path / "metadata.jsonl").write_bytes(b'{"file_name": "a.png", "text": "caf\xe9"}\n')
    with pytest.raises(UserError, match=r"metadata.jsonl is not UTF-8 text \(invalid continuation byte at byte 35\)"):
        read_captions(tmp_path, ["a.png", "b.png"])


def test_a_caption_may_hold_any_character_json_allows(tmp_path):
    (tmp_path / "metadata.jsonl").write_text(
        json.dumps({"file_name": "a.png", "text": "one\u2028line \u00e9"}, ensure_ascii=False) + "\r\n", "utf-8"
    )
    assert read_captions(tmp_path, ["a.png"]) == [["one\u2028line \u00e9"]]


def test_open_dataset_attaches_a_folders_captions_fresh_at_every_open_and_caption_files_are_not_left_out(
    tmp_path, caplog, count_decodes
):
    root = tmp_path / "pictures"
    for name in ("a.png", "b.png", "sub/c.png"):
        write_image(root / name)
    write_metadata(root / "metadata.jsonl", [{"file_name": "a.png", "text": "an orange square"}])
    (root / "sub" / "c.TXT").write_text("c's caption")  # upper case: a caption too, not a file left out
    (root / "notes.txt").write_text("not a caption: no notes.png")
    dataset = open_dataset(f"folder:{root}", 8, progress=False, captions=True)
    assert dataset.names == ["a.png", "b.png", "sub/c.png"]
    assert dataset.captions == [["an orange square"], [], ["c's caption"]]
    assert warnings_of(caplog) == [
        f"read 3 images in {root}, left out 1: 1 not images by their suffix (e.g. notes.txt)"
    ]

    (root / "b.txt").write_text("added later")
    decoded = len(count_decodes)
    assert decoded == 3
    assert open_dataset(f"folder:{root}", 8, progress=False, captions=True).captions == [
        ["an orange square"],
        ["added later"],
        ["c's caption"],
    ]
    assert len(count_decodes) == decoded  # the images came from the cache; the captions did not
    assert open_dataset("builtin:4", 8, progress=False, captions=True).captions is None  # theirs: from attributes
    # Runs and tools that read no captions never read the files: a broken one cannot stop them.
    (root / "metadata.jsonl").write_text("not json\n")
    assert open_dataset(f"folder:{root}", 8, progress=False).captions is None
