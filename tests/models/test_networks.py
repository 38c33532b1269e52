import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from unnoise.errors import UserError
from unnoise.models import build_model, count_parameters
from unnoise.models.layers import ResidualBlock, SelfAttention, sinusoidal_embedding
from unnoise.models.toy_unet import ToyUNet
from unnoise.models.unet import UNet


def config(**changes):
    values = dict(
        family="diffusion",
        architecture="unet",
        base_channels=16,
        channel_mult=(1, 2),
        blocks_per_level=1,
        attention_resolutions=(8,),
        attention_heads=1,
        dropout=0.0,
        scale_shift=False,
        patch_size=1,
    )
    values.update(changes)
    return SimpleNamespace(**values)


@pytest.mark.parametrize(
    "size,changes",
    [
        (16, {}),
        (32, dict(channel_mult=(1, 2, 2), blocks_per_level=2, attention_resolutions=(16, 8), attention_heads=2)),
        (64, dict(channel_mult=(1, 1, 2, 2), attention_resolutions=())),
        (16, dict(scale_shift=True)),
        (16, dict(architecture="toy_unet", channel_mult=(1, 2, 4))),
    ],
)
def test_networks_map_images_to_images_of_the_same_shape(size, changes):
    model = build_model(config(**changes), size)
    x = torch.randn(3, 3, size, size)
    assert model(x, torch.tensor([0, 10, 999])).shape == x.shape


def test_image_size_must_fit_the_levels():
    with pytest.raises(UserError, match="divisible by 4"):
        build_model(config(channel_mult=(1, 2, 2)), 30)
    with pytest.raises(UserError, match="model.architecture must be one of"):
        build_model(config(architecture="transformer"), 32)
    # Attention at a resolution no level works at would silently not exist; on 2x2 patches a 64x64 U-Net's levels
    # work at 32, 16, 8.
    with pytest.raises(UserError, match="names 12, but this U-Net's levels work at 32, 16, 8 pixels"):
        build_model(config(channel_mult=(1, 2, 2), attention_resolutions=(16, 12)), 32)
    with pytest.raises(UserError, match="work at 32, 16, 8 pixels .* on 2x2 patches"):
        build_model(config(channel_mult=(1, 2, 2), attention_resolutions=(64,), patch_size=2), 64)
    assert build_model(config(channel_mult=(1, 2, 2), attention_resolutions=(8,), patch_size=2), 64) is not None


def test_sinusoidal_embedding_formula_and_distinct_timesteps():
    t = torch.arange(1000)
    embedding = sinusoidal_embedding(t, 64)
    assert embedding.shape == (1000, 64)
    assert embedding[7, 3].item() == pytest.approx(math.sin(7 * 10000 ** (-3 / 32)), abs=1e-5)
    assert embedding[7, 32 + 3].item() == pytest.approx(math.cos(7 * 10000 ** (-3 / 32)), abs=1e-5)
    distances = torch.cdist(embedding, embedding) + torch.eye(1000) * 1e9
    assert distances.min().item() > 1e-2  # no two timesteps share an embedding


def test_unet_output_depends_on_t():
    torch.manual_seed(0)
    model = UNet(16, base_channels=16, channel_mult=(1, 2), blocks_per_level=1, attention_resolutions=(8,))
    for layer in model.modules():  # residual branches and the output layer start at zero by design
        if isinstance(layer, torch.nn.Conv2d):
            torch.nn.init.normal_(layer.weight, std=0.1)
    x = torch.randn(1, 3, 16, 16).expand(2, -1, -1, -1)
    out = model.eval()(x, torch.tensor([10, 900]))
    assert (out[0] - out[1]).abs().mean() > 1e-3


def test_self_attention_equals_softmax_qkt_v():
    torch.manual_seed(0)
    layer = SelfAttention(8, heads=2)
    torch.nn.init.normal_(layer.projection.weight)
    x = torch.randn(2, 8, 3, 3)
    qkv = layer.qkv(layer.norm(x)).reshape(2, 3, 2, 4, 9)
    q, k, v = qkv[:, 0], qkv[:, 1], qkv[:, 2]  # (B, heads, C/heads, HW)
    weights = torch.softmax(torch.einsum("bhci,bhcj->bhij", q, k) / math.sqrt(4), dim=-1)
    attended = torch.einsum("bhij,bhcj->bhci", weights, v).reshape(2, 8, 3, 3)
    assert torch.allclose(layer(x), x + layer.projection(attended), atol=1e-5)


def test_parameter_counts_match_the_papers():
    # DDPM (Ho et al. 2020): "Our CIFAR10 model has 35.7 million parameters".
    cifar = UNet(32, base_channels=128, channel_mult=(1, 2, 2, 2), blocks_per_level=2, attention_resolutions=(16,))
    assert round(count_parameters(cifar) / 1e6, 1) == 35.7
    # The article's SimpleUnet prints "Num params: 62438883".
    assert count_parameters(ToyUNet()) == 62_438_883


def test_dropout_is_active_only_in_training():
    model = UNet(16, base_channels=16, channel_mult=(1, 2), blocks_per_level=1, attention_resolutions=(), dropout=0.5)
    for block in model.modules():
        if isinstance(block, torch.nn.Conv2d):
            torch.nn.init.normal_(block.weight, std=0.2)
    x, t = torch.randn(2, 3, 16, 16), torch.tensor([3, 4])
    model.train()
    assert not torch.equal(model(x, t), model(x, t))
    model.eval()
    assert torch.equal(model(x, t), model(x, t))


def test_subpixel_upsample_equals_nearest_upsampling_then_the_3x3_convolution():
    from unnoise.models.layers import Upsample

    torch.manual_seed(0)
    layer = Upsample(6).double()
    x = torch.randn(2, 6, 5, 7, dtype=torch.float64, requires_grad=True)
    reference = layer.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))
    output = layer(x)
    assert output.shape == (2, 6, 10, 14)
    assert torch.allclose(output, reference, atol=1e-12)
    # Gradients agree too, for the input and for the 3x3 weights the layer stores.
    (gx, gw), (rx, rw) = (torch.autograd.grad(y.square().sum(), (x, layer.conv.weight)) for y in (output, reference))
    assert torch.allclose(gx, rx, atol=1e-10) and torch.allclose(gw, rw, atol=1e-10)


def test_scale_shift_block_modulates_the_normalised_features():
    torch.manual_seed(0)
    block = ResidualBlock(4, 4, 6, dropout=0.0, scale_shift=True)
    torch.nn.init.normal_(block.conv2.weight)
    x, embedding = torch.randn(2, 4, 5, 5), torch.randn(2, 6)
    scale, shift = block.embedding_projection(F.silu(embedding))[:, :, None, None].chunk(2, dim=1)
    h = block.norm2(block.conv1(F.silu(block.norm1(x)))) * (1 + scale) + shift  # h -> norm(h) (1 + s) + b
    assert torch.allclose(block(x, embedding), x + block.conv2(F.silu(h)), atol=1e-6)


def test_a_patch_size_runs_the_unet_at_a_fraction_of_the_image_size():
    """patch_size 2: a 64x64 image enters the U-Net as 32x32 with 12 channels and leaves as 64x64 with 3."""
    from unnoise.config import ModelConfig

    torch.manual_seed(0)
    network = UNet(64, 3, 16, (1, 2), 1, (16,), dropout=0.0, patch_size=2)
    seen = []
    network.input_conv.register_forward_hook(lambda module, inputs, output: seen.append(tuple(inputs[0].shape)))
    torch.nn.init.normal_(network.output_conv.weight)  # zero at init: give the output something to carry
    x = torch.randn(2, 3, 64, 64)
    out = network(x, torch.tensor([3, 700]))
    assert seen == [(2, 12, 32, 32)] and out.shape == x.shape
    # Space-to-depth and back are exact inverses, so each output pixel comes from its own patch's channels.
    assert torch.equal(F.pixel_shuffle(F.pixel_unshuffle(x, 2), 2), x)
    with pytest.raises(UserError, match="model.patch_size must be a positive divisor"):
        build_model(ModelConfig(patch_size=3), 64)
