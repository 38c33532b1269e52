"""The conditional U-Net: null rows ignore their condition, padding is invisible, conditions change the output."""

import pytest
import torch

from unnoise.models.conditioning import Condition, null_condition_like
from unnoise.models.unet import UNet


def perturbed(model, seed=0):
    """Zero-initialised output layers make every untrained output 0; random weights make the tests mean something."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.2 * torch.randn(parameter.shape, generator=generator))
    return model.eval()


def small_unet(**conditioning):
    return perturbed(
        UNet(
            16,
            base_channels=8,
            channel_mult=(1, 2),
            blocks_per_level=1,
            attention_resolutions=(8,),
            dropout=0.0,
            **conditioning,
        )
    )


def inputs(batch=4):
    generator = torch.Generator().manual_seed(1)
    return torch.randn(batch, 3, 16, 16, generator=generator), torch.tensor([3, 50, 50, 99][:batch])


def text_condition(null, lengths, seed=2, width=384):
    generator = torch.Generator().manual_seed(seed)
    longest = max(lengths)
    tokens = torch.randn(len(lengths), longest, width, generator=generator)
    mask = torch.arange(longest)[None, :] < torch.tensor(lengths)[:, None]
    return Condition(
        torch.tensor(null),
        tokens=tokens * mask[..., None],
        token_mask=mask,
        pooled=torch.randn(len(lengths), width, generator=generator),
    )


def test_attributes_change_the_output_and_null_rows_ignore_them():
    model, (x, t) = small_unet(attribute_count=3), inputs()
    a = Condition(torch.tensor([False, False, True, True]), attributes=torch.tensor([[1.0, -1, 0]] * 4))
    b = Condition(a.null, attributes=torch.tensor([[-1.0, 1, 1]] * 4))
    out_a, out_b = model(x, t, a), model(x, t, b)
    assert not torch.allclose(out_a[:2], out_b[:2], atol=1e-4)  # told something else, draws something else
    assert torch.allclose(out_a[2:], out_b[2:])  # null rows: whatever the attributes say is ignored
    assert torch.allclose(model(x, t), model(x, t, null_condition_like(a)))  # no condition = all null


def test_text_padding_is_invisible_and_null_rows_ignore_the_text():
    model, (x, t) = small_unet(text_channels=384), inputs(2)
    short = text_condition([False, True], [3, 3])
    padded = Condition(
        short.null,
        tokens=torch.cat([short.tokens, torch.randn(2, 4, 384)], dim=1),
        token_mask=torch.cat([short.token_mask, torch.zeros(2, 4, dtype=torch.bool)], dim=1),
        pooled=short.pooled,
    )
    assert torch.allclose(model(x, t, short), model(x, t, padded), atol=1e-5)
    other = text_condition([False, True], [5, 2], seed=7)
    out_short, out_other = model(x, t, short), model(x, t, other)
    assert not torch.allclose(out_short[0], out_other[0], atol=1e-4)
    assert torch.allclose(out_short[1], out_other[1], atol=1e-5)
    assert torch.allclose(model(x, t)[1], out_short[1], atol=1e-5)


def test_conditions_join_with_padding_and_slice_by_rows():
    a, b = text_condition([False], [2]), text_condition([True, False], [5, 4])
    joined = a.cat(b)
    assert joined.tokens.shape == (3, 5, 384) and joined.token_mask.sum(dim=1).tolist() == [2, 5, 4]
    assert joined.null.tolist() == [False, True, False]
    assert torch.equal(joined[1:].pooled, b.pooled)
    with pytest.raises(ValueError):
        a.cat(Condition(torch.tensor([False]), attributes=torch.zeros(1, 2)))


def test_an_unconditional_network_refuses_a_condition():
    model, (x, t) = small_unet(), inputs(1)
    with pytest.raises(ValueError):
        model(x, t, Condition(torch.tensor([False]), attributes=torch.zeros(1, 3)))
