import random
import re

import numpy as np
import pytest
import torch

from unnoise.data.builtin import ATTRIBUTE_NAMES as BUILTIN_NAMES
from unnoise.text.captions import ATTRIBUTE_PHRASES, caption_for, captions_for_dataset, request_caption

# The header of CelebA's list_attr_celeba.txt.
CELEBA_NAMES = (
    "5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose Black_Hair Blond_Hair "
    "Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee Gray_Hair Heavy_Makeup High_Cheekbones Male "
    "Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard Oval_Face Pale_Skin Pointy_Nose Receding_Hairline Rosy_Cheeks "
    "Sideburns Smiling Straight_Hair Wavy_Hair Wearing_Earrings Wearing_Hat Wearing_Lipstick Wearing_Necklace "
    "Wearing_Necktie Young"
).split()


def mentions(caption: str, phrase: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(phrase)}(?![\w-])", caption) is not None


def mentioned_attributes(caption: str) -> set[str]:
    return {name for name, phrase in ATTRIBUTE_PHRASES.items() if mentions(caption, phrase)}


def random_rows(names: list[str], count: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2, size=(count, len(names)), dtype=np.uint8)


def test_every_celeba_and_builtin_attribute_has_a_phrase():
    assert set(CELEBA_NAMES) | set(BUILTIN_NAMES) <= set(ATTRIBUTE_PHRASES)
    assert len(set(ATTRIBUTE_PHRASES.values())) == len(ATTRIBUTE_PHRASES)


@pytest.mark.parametrize("names", [CELEBA_NAMES, BUILTIN_NAMES], ids=["celeba", "builtin"])
def test_captions_mention_only_present_attributes_and_at_least_one(names):
    rng = random.Random(0)
    for values in random_rows(names, 300, seed=1).tolist():
        caption = caption_for(names, values, rng)
        present = {name for name, value in zip(names, values) if value}
        assert mentioned_attributes(caption) <= present, caption
        if present:
            assert mentioned_attributes(caption), caption


def test_every_attribute_can_be_mentioned():
    """Each phrase shows up when its attribute is the only one present, so the parser above sees them all."""
    rng = np.random.default_rng(0)
    for names in (CELEBA_NAMES, BUILTIN_NAMES):
        for index, name in enumerate(names):
            values = [0] * len(names)
            values[index] = 1
            if name == "No_Beard":  # never "clean-shaven woman": it needs Male, which may take the one mention
                values[names.index("Male")] = 1
                assert any(name in mentioned_attributes(caption_for(names, values, rng)) for _ in range(20))
            else:
                assert name in mentioned_attributes(caption_for(names, values, rng)), name


def test_no_negations_and_the_right_gender():
    rng = random.Random(2)
    male = CELEBA_NAMES.index("Male")
    for values in random_rows(CELEBA_NAMES, 400, seed=3).tolist():
        caption = caption_for(CELEBA_NAMES, values, rng)
        assert not re.search(r"\b(no|not|without|non|never)\b", caption), caption
        if values[male]:
            assert not re.search(r"\b(woman|women|female|lady|girl)\b", caption), caption
        else:
            assert not re.search(r"\b(man|men|male|guy|boy|clean-shaven)\b", caption), caption


def test_clean_shaven_is_not_said_of_a_man_with_facial_hair():
    names = ["Male", "No_Beard", "Goatee"]
    rng = random.Random(0)
    captions = {caption_for(names, [1, 1, 1], rng) for _ in range(200)}
    assert not any(mentions(caption, "clean-shaven") for caption in captions)
    captions = {caption_for(names, [1, 1, 0], rng) for _ in range(200)}
    assert any(mentions(caption, "clean-shaven") for caption in captions)


def test_captions_vary_and_salient_attributes_come_up_often():
    names = CELEBA_NAMES
    present = ["Male", "Smiling", "Eyeglasses", "Black_Hair", "Wavy_Hair", "Big_Nose", "Young", "Wearing_Necktie"]
    values = [int(name in present) for name in names]
    rng = random.Random(4)
    captions = [caption_for(names, values, rng) for _ in range(400)]
    assert len(set(captions)) > 150
    share = {name: np.mean([name in mentioned_attributes(c) for c in captions]) for name in present}
    assert min(share["Male"], share["Smiling"], share["Eyeglasses"], share["Black_Hair"]) > 0.6
    assert max(share["Big_Nose"], share["Wavy_Hair"], share["Wearing_Necktie"]) < 0.45
    assert max(len(mentioned_attributes(c)) for c in captions) <= 5


def test_unknown_attribute_names_are_skipped():
    rng = random.Random(0)
    for _ in range(50):
        caption = caption_for(["Smiling", "No_Hat", "Has_Freckles"], [1, 1, 1], rng)
        assert "hat" not in caption and "freckles" not in caption.lower()
        assert mentions(caption, "smiling")


def test_values_must_be_zero_or_one():
    with pytest.raises(ValueError, match="0 or 1"):
        caption_for(["Smiling"], [-1], random.Random(0))


def test_dataset_captions_are_deterministic_varied_and_prefix_stable():
    attributes = torch.from_numpy(random_rows(CELEBA_NAMES, 40, seed=5))
    captions = captions_for_dataset(CELEBA_NAMES, attributes, seed=7, per_image=4)
    assert len(captions) == 40 and all(len(image) == 4 for image in captions)
    assert captions == captions_for_dataset(CELEBA_NAMES, attributes, seed=7, per_image=4)
    assert captions[:10] == captions_for_dataset(CELEBA_NAMES, attributes[:10], seed=7, per_image=4)
    assert captions != captions_for_dataset(CELEBA_NAMES, attributes, seed=8, per_image=4)
    assert sum(len(set(image)) == 4 for image in captions) >= 38
    for image, values in zip(captions, attributes.tolist()):
        present = {name for name, value in zip(CELEBA_NAMES, values) if value}
        assert all(mentioned_attributes(caption) <= present for caption in image)


def test_dataset_captions_repeat_only_when_the_attributes_allow_no_more():
    captions = captions_for_dataset(["Smiling"], torch.tensor([[0], [1]], dtype=torch.uint8), seed=0, per_image=4)
    assert all(len(image) == 4 for image in captions)
    assert all("smiling" not in caption for caption in captions[0])
    assert all(mentions(caption, "smiling") for caption in captions[1])


def test_a_request_caption_names_exactly_the_wanted_attributes():
    assert (
        request_caption({"Smiling": True, "Male": False, "Eyeglasses": True})
        == "a photo of a smiling woman wearing eyeglasses"
    )
    assert request_caption({"Male": True, "Blond_Hair": True}) == "a photo of a man with blond hair"
    assert request_caption({"Smiling": True}) == "a photo of a smiling person"
    with pytest.raises(ValueError, match="-Eyeglasses"):
        request_caption({"Eyeglasses": False})  # captions never word an absence, so a prompt cannot ask for one
