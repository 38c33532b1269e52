"""The attribute classifier that judges faithfulness: it must really see the attributes."""

import pytest
import torch

import unnoise
from unnoise.data import open_dataset
from unnoise.metrics.classifier import load_classifier


def test_classifier_sees_the_builtin_attributes_far_better_than_guessing(builtin_classifier):
    for name in builtin_classifier.attribute_names:
        assert builtin_classifier.accuracy[name] >= 0.8, name
    gain = [
        builtin_classifier.accuracy[name] - builtin_classifier.majority[name]
        for name in builtin_classifier.attribute_names
    ]
    assert sum(gain) / len(gain) > 0.2
    # On faces it never saw (another seed), too.
    held_out = open_dataset("builtin:200:7", 16, progress=False)
    predicted = builtin_classifier.predict(held_out.images)
    assert (predicted == held_out.attributes.bool()).float().mean().item() > 0.9


def test_saved_classifier_predicts_the_same(builtin_classifier, tmp_path):
    builtin_classifier.save(tmp_path / "judge")
    loaded = load_classifier(tmp_path / "judge")
    images = open_dataset("builtin:64:3", 16, progress=False).images
    assert torch.equal(loaded.predict(images), builtin_classifier.predict(images))
    assert (
        loaded.attribute_names == builtin_classifier.attribute_names and loaded.accuracy == builtin_classifier.accuracy
    )


def test_classifier_refuses_images_of_another_size(builtin_classifier):
    with pytest.raises(unnoise.UserError, match="16, 16"):
        builtin_classifier.predict(torch.zeros(2, 3, 32, 32, dtype=torch.uint8))


def test_loading_a_folder_without_a_classifier_is_a_user_error(tmp_path):
    with pytest.raises(unnoise.UserError, match="train-classifier"):
        load_classifier(tmp_path)
