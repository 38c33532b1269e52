import pytest

from unnoise.data import open_dataset, parse_data_spec
from unnoise.data.spec import DataSpec
from unnoise.errors import UserError


def test_builtin_specs():
    assert parse_data_spec("builtin") == DataSpec("builtin", count=4096, seed=0)
    assert parse_data_spec("builtin:100") == DataSpec("builtin", count=100, seed=0)
    assert parse_data_spec("builtin:100:7") == DataSpec("builtin", count=100, seed=7)
    assert parse_data_spec("builtin:100:7").source == "builtin:100:7"


@pytest.mark.parametrize("spec", ["builtin:0", "builtin:ten", "builtin:-5", "builtin:1:2:3", "builtin:"])
def test_bad_builtin_specs_are_user_errors(spec):
    with pytest.raises(UserError, match="builtin:N:SEED"):
        parse_data_spec(spec)


def test_path_specs_resolve_to_absolute_paths(tmp_path, monkeypatch):
    (tmp_path / "faces" / "img_align_celeba").mkdir(parents=True)
    (tmp_path / "photos").mkdir()
    monkeypatch.chdir(tmp_path)
    assert parse_data_spec("celeba:faces") == DataSpec("celeba", path=tmp_path / "faces")
    assert parse_data_spec("folder:faces") == DataSpec("folder", path=tmp_path / "faces")
    assert parse_data_spec("faces") == DataSpec("celeba", path=tmp_path / "faces")  # has img_align_celeba/
    assert parse_data_spec("./photos").source == f"folder:{tmp_path / 'photos'}"
    assert parse_data_spec(parse_data_spec("photos").source) == parse_data_spec("photos")


@pytest.mark.parametrize(
    "spec, message",
    [
        ("s3:bucket/faces", "unknown data kind 's3'"),
        ("celeba:", "has no path"),
        ("celeba:/no/such/folder", "does not exist"),
        ("no_such_folder", "does not exist"),
        ("", "does not exist"),
    ],
)
def test_bad_specs_are_user_errors(spec, message):
    with pytest.raises(UserError, match=message):
        parse_data_spec(spec)


@pytest.mark.parametrize(
    "arguments, message",
    [
        (("builtin:8", 16, "valid"), "another seed"),
        (("builtin:8", 16, "training"), "unknown split"),
        (("builtin:8", 0), "image size"),
        (("builtin:8", 16.0), "image size"),
    ],
)
def test_open_dataset_rejects_bad_arguments(arguments, message):
    with pytest.raises(UserError, match=message):
        open_dataset(*arguments, progress=False)


def test_user_error_messages_are_one_line(tmp_path):
    for spec in ("s3:x", "celeba:/nope", f"celeba:{tmp_path}", f"folder:{tmp_path}"):
        with pytest.raises(UserError) as error:
            open_dataset(spec, 8, progress=False)
        assert "\n" not in str(error.value)
