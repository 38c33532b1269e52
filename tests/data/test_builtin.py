import numpy as np
import pytest
import torch

from unnoise.data import open_dataset
from unnoise.data.builtin import ATTRIBUTE_NAMES, HAIR_ATTRIBUTES, HAIR_COLOURS, draw_face, generate_faces
from unnoise.errors import UserError


@pytest.fixture(scope="module")
def faces():
    return generate_faces(512, seed=1, image_size=32, progress=False, source="builtin:512:1")


def column(dataset, name) -> torch.Tensor:
    return dataset.attributes[:, dataset.attribute_names.index(name)].bool()


def test_shapes_types_and_names(faces):
    assert faces.images.shape == (512, 3, 32, 32) and faces.images.dtype == torch.uint8
    assert faces.attributes.shape == (512, len(ATTRIBUTE_NAMES)) and faces.attributes.dtype == torch.uint8
    assert faces.attribute_names == ATTRIBUTE_NAMES
    assert faces.names[:2] == ["builtin_000000", "builtin_000001"]


def test_deterministic_per_seed_and_prefix_stable():
    first, again = (generate_faces(16, 3, 32, False, "") for _ in range(2))
    other_seed = generate_faces(16, 4, 32, False, "")
    shorter = generate_faces(8, 3, 32, False, "")
    assert torch.equal(first.images, again.images) and torch.equal(first.attributes, again.attributes)
    assert not torch.equal(first.images, other_seed.images)
    assert torch.equal(shorter.images, first.images[:8])


def test_any_size_and_open_dataset(tmp_path):
    dataset = open_dataset("builtin:6:2", 64, progress=False)
    assert dataset.images.shape == (6, 3, 64, 64) and dataset.source == "builtin:6:2"
    assert generate_faces(2, 0, 17, False, "").images.shape == (2, 3, 17, 17)


def test_attributes_are_balanced_and_hair_is_one_hot(faces):
    rates = faces.attributes.float().mean(0)
    for name in ("Smiling", "Eyeglasses", "Dark_Skin", "Blue_Background"):
        assert 0.3 <= rates[ATTRIBUTE_NAMES.index(name)] <= 0.6, name
    hair = torch.stack([column(faces, name) for name in HAIR_ATTRIBUTES], 1)
    assert torch.all(hair.sum(1) == 1)
    assert torch.all(hair.float().mean(0) > 0.12)


def band_contrast(dataset, name, rows: slice) -> float:
    """How much more the mean face changes with the attribute inside a band of rows than outside it."""
    with_it, without = column(dataset, name), ~column(dataset, name)
    images = dataset.images.float()
    change = (images[with_it].mean(0) - images[without].mean(0)).abs().mean(dim=(0, 2))  # per row
    inside = torch.zeros(change.shape[0], dtype=torch.bool)
    inside[rows] = True
    return (change[inside].mean() / change[~inside].mean()).item()


def test_eyeglasses_show_in_the_eye_band(faces):
    assert band_contrast(faces, "Eyeglasses", slice(14, 20)) > 2
    assert band_contrast(faces, "Eyeglasses", slice(22, 28)) < 1


def test_smiling_shows_in_the_mouth_band(faces):
    assert band_contrast(faces, "Smiling", slice(22, 28)) > 2
    assert band_contrast(faces, "Smiling", slice(14, 20)) < 1


def test_dark_skin_has_darker_cheeks(faces):
    cheeks = faces.images[:, :, 19:23, 12:20].float().mean(dim=(1, 2, 3))
    dark = column(faces, "Dark_Skin")
    threshold = (cheeks[dark].mean() + cheeks[~dark].mean()) / 2
    assert ((cheeks < threshold) == dark).float().mean() > 0.95


def test_blue_background_shows_in_the_corners(faces):
    corners = torch.cat([faces.images[:, :, :3, :3], faces.images[:, :, :3, -3:]], dim=3).float().mean(dim=(2, 3))
    bluer_than_red = corners[:, 2] > corners[:, 0]
    assert torch.equal(bluer_than_red, column(faces, "Blue_Background"))


def test_hair_colour_shows_above_the_forehead(faces):
    top = faces.images[:, :, 7:9, 14:18].float().mean(dim=(2, 3))  # (N, 3)
    palette = torch.tensor([HAIR_COLOURS[name] for name in HAIR_ATTRIBUTES], dtype=torch.float32)
    nearest = torch.cdist(top, palette).argmin(1)
    truth = torch.stack([column(faces, name) for name in HAIR_ATTRIBUTES], 1).float().argmax(1)
    assert (nearest == truth).float().mean() > 0.9


def test_draw_face_changes_only_what_is_asked():
    """Same random stream, one attribute toggled: the pictures differ only where that feature is."""

    def draw(**attributes):
        return np.asarray(draw_face(attributes, 32, np.random.default_rng(11)), dtype=float)

    base = draw(Blond_Hair=True)
    glasses = np.abs(draw(Blond_Hair=True, Eyeglasses=True) - base).mean(axis=(1, 2))  # per row
    smile = np.abs(draw(Blond_Hair=True, Smiling=True) - base).mean(axis=(1, 2))
    assert glasses[12:21].sum() > 0.95 * glasses.sum() > 0
    assert smile[21:29].sum() > 0.95 * smile.sum() > 0


def test_draw_face_rejects_contradictions():
    with pytest.raises(ValueError, match="one hair colour"):
        draw_face({"Black_Hair": True, "Blond_Hair": True}, 32, np.random.default_rng(0))
    with pytest.raises(ValueError, match="unknown"):
        draw_face({"Moustache": True}, 32, np.random.default_rng(0))


def test_more_faces_than_memory_holds_is_refused_before_drawing_any(monkeypatch):
    import unnoise.data.builtin as builtin
    import unnoise.data.decoding as decoding

    monkeypatch.setattr(decoding, "available_memory", lambda: 3 * 16 * 16 * 10)  # room for about 10 faces at 16x16
    assert len(builtin.generate_faces(8, 0, 16, False, "builtin:8")) == 8
    with pytest.raises(UserError, match="12 built-in faces need .* more than the .* free: ask for fewer"):
        builtin.generate_faces(12, 0, 16, False, "builtin:12")
