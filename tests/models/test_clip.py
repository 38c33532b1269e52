"""The CLIP towers, the prior network and the unCLIP module: shapes, unit norms, masks, the frozen CLIP."""

import pytest
import torch

from unnoise.models.clip import CLIP, MAX_LOGIT_SCALE
from unnoise.models.conditioning import TEXT_CHANNELS, Condition
from unnoise.models.prior import EmbeddingPrior
from unnoise.models.unclip import UnCLIP, caption_condition, image_embedding_condition
from unnoise.models.unet import UNet


def text_condition(count, length, generator):
    tokens = torch.randn(count, length, TEXT_CHANNELS, generator=generator)
    mask = torch.ones(count, length, dtype=torch.bool)
    return Condition(torch.zeros(count, dtype=torch.bool), tokens=tokens, token_mask=mask, pooled=tokens.mean(1))


@pytest.mark.parametrize("text_layers", [0, 2])
def test_both_towers_give_unit_embeddings_of_the_joint_dimension(text_layers):
    generator = torch.Generator().manual_seed(0)
    clip = CLIP(8, (1, 2), embedding_dim=12, text_layers=text_layers)
    image, text, scale = clip(torch.rand(3, 3, 16, 16) * 2 - 1, text_condition(3, 5, generator))
    assert image.shape == text.shape == (3, 12)
    assert torch.allclose(image.norm(dim=-1), torch.ones(3)) and torch.allclose(text.norm(dim=-1), torch.ones(3))
    assert scale.item() == pytest.approx(1 / 0.07, rel=1e-5)


def test_the_transformer_text_tower_ignores_padding():
    generator = torch.Generator().manual_seed(1)
    clip = CLIP(8, (1, 2), embedding_dim=12, text_layers=2).eval()
    short = text_condition(2, 4, generator)
    garbage = torch.randn(2, 3, TEXT_CHANNELS, generator=generator) * 50
    padded = Condition(
        short.null,
        tokens=torch.cat([short.tokens, garbage], dim=1),
        token_mask=torch.cat([short.token_mask, torch.zeros(2, 3, dtype=torch.bool)], dim=1),
        pooled=short.pooled,
    )
    assert torch.allclose(clip.encode_text(short), clip.encode_text(padded), atol=1e-5)


def test_the_learned_temperature_is_capped_at_100():
    clip = CLIP(8, (1, 2))
    with torch.no_grad():
        clip.log_logit_scale.fill_(MAX_LOGIT_SCALE + 3)
    assert clip.logit_scale().item() == pytest.approx(100.0, rel=1e-5)


def unclip_module():
    clip = CLIP(8, (1, 2), embedding_dim=6)
    decoder = UNet(16, base_channels=8, channel_mult=(1, 2), blocks_per_level=1, attention_resolutions=(8,),
                   text_channels=6)  # fmt: skip
    return UnCLIP(decoder, EmbeddingPrior(6, width=16, blocks=2), clip)


def test_unclip_keeps_its_clip_frozen_and_in_eval_mode_and_trains_decoder_and_prior_in_one_call():
    model = unclip_module().train()
    assert not model.clip.training and model.decoder.training
    assert not any(parameter.requires_grad for parameter in model.clip.parameters())
    embedding = torch.nn.functional.normalize(torch.randn(2, 6), dim=-1)
    x, t = torch.randn(2, 3, 16, 16), torch.tensor([10.0, 500.0])
    caption = caption_condition(embedding, torch.tensor([False, True]))
    decoded, prior = model(x, t, image_embedding_condition(embedding), prior=(torch.randn(2, 6), t, caption))
    assert decoded.shape == x.shape and prior.shape == (2, 6)
    assert torch.equal(decoded, model(x, t, image_embedding_condition(embedding)))  # the decoder alone, unchanged
    (decoded.square().mean() + prior.square().mean()).backward()
    assert all(parameter.grad is None for parameter in model.clip.parameters())


def test_the_prior_reads_its_caption_and_swaps_null_rows_for_a_learned_vector():
    torch.manual_seed(0)
    prior = EmbeddingPrior(6, width=16, blocks=2)
    for block in prior.blocks:  # zero-initialised output layers would hide the caption's effect
        torch.nn.init.normal_(block.outer.weight, std=0.1)
    torch.nn.init.normal_(prior.output[1].weight, std=0.1)
    z, t = torch.randn(2, 6), torch.tensor([100.0, 100.0])
    captions = torch.nn.functional.normalize(torch.randn(2, 6), dim=-1)
    told = prior(z, t, caption_condition(captions))
    other = prior(z, t, caption_condition(captions.flip(0)))
    assert not torch.allclose(told, other)
    null = torch.tensor([True, True])
    assert torch.allclose(
        prior(z, t, caption_condition(captions, null)), prior(z, t, caption_condition(-captions, null))
    )
