import pytest
import torch

from unnoise.diffusion.losses import denoising_loss, min_snr_weight, prediction_loss, uncertainty_weighted_loss
from unnoise.diffusion.parameterization import eps_and_x0, training_target, velocity
from unnoise.diffusion.process import q_sample
from unnoise.diffusion.schedules import make_schedule
from unnoise.errors import UserError


def test_losses_against_hand_computation():
    predicted = torch.tensor([[0.0, 0.5], [3.0, -2.0]])
    target = torch.zeros(2, 2)
    assert prediction_loss(predicted, target, "l2").tolist() == pytest.approx([0.125, 6.5])
    assert prediction_loss(predicted, target, "l1").tolist() == pytest.approx([0.25, 2.5])
    # Huber with delta 1: 0.5 d^2 inside, |d| - 0.5 outside.
    assert prediction_loss(predicted, target, "huber").tolist() == pytest.approx([0.0625, 2.0])
    with pytest.raises(UserError):
        prediction_loss(predicted, target, "l3")


@pytest.mark.parametrize("prediction", ["eps", "x0", "v"])
def test_parameterisations_convert_exactly(prediction):
    generator = torch.Generator().manual_seed(1)
    x0 = torch.rand((3, 3, 4, 4), generator=generator, dtype=torch.float64) * 2 - 1
    eps = torch.randn((3, 3, 4, 4), generator=generator, dtype=torch.float64)
    alpha_bar = make_schedule("cosine", 1000).alpha_bar[torch.tensor([0, 400, 998])]
    x_t = q_sample(x0, alpha_bar, eps)
    recovered_eps, recovered_x0 = eps_and_x0(
        prediction, training_target(prediction, x0, eps, alpha_bar), x_t, alpha_bar
    )
    assert torch.allclose(recovered_eps, eps, atol=1e-8) and torch.allclose(recovered_x0, x0, atol=1e-8)


def test_velocity_is_the_rotation_of_eps_and_x0():
    """v = d x_t / d phi for x_t = cos(phi) x_0 + sin(phi) eps, so |v|^2 = |eps|^2 + |x0|^2 - 2 ... ; check at alpha_bar
    = 1/2.
    """
    x0, eps = torch.tensor([[1.0]]), torch.tensor([[3.0]])
    half = torch.tensor([0.5], dtype=torch.float64)
    assert velocity(x0, eps, half).item() == pytest.approx((3.0 - 1.0) / 2**0.5)


def test_uncertainty_weighting_against_its_formula_and_its_optimum():
    per_sample = torch.tensor([0.5, 2.0, 0.1], dtype=torch.float64)
    log_variance = torch.tensor([0.0, 1.0, -2.0], dtype=torch.float64)
    expected = sum(loss / torch.e**u + u for loss, u in zip([0.5, 2.0, 0.1], [0.0, 1.0, -2.0])) / 3
    assert uncertainty_weighted_loss(per_sample, log_variance).item() == pytest.approx(expected, rel=1e-12)
    # Minimised over u, each sample's u is the log of its loss (EDM2: u tracks ln E[L | sigma]).
    u = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([u], lr=0.5)
    for _ in range(300):
        optimizer.zero_grad()
        uncertainty_weighted_loss(per_sample, u).backward()
        optimizer.step()
    assert u.detach().tolist() == pytest.approx(per_sample.log().tolist(), abs=1e-6)


def test_min_snr_weights():
    snr = torch.tensor([0.1, 5.0, 100.0], dtype=torch.float64)
    assert min_snr_weight(snr, 5.0, "eps").tolist() == pytest.approx([1.0, 1.0, 0.05])
    assert min_snr_weight(snr, 5.0, "x0").tolist() == pytest.approx([0.1, 5.0, 5.0])
    assert min_snr_weight(snr, 5.0, "v").tolist() == pytest.approx([0.1 / 1.1, 5.0 / 6.0, 5.0 / 101.0])


@pytest.mark.parametrize("prediction", ["eps", "x0", "v"])
@pytest.mark.parametrize("weighting", ["uniform", "min_snr"])
def test_denoising_loss_is_zero_for_an_oracle_and_not_otherwise(prediction, weighting):
    alpha_bar = make_schedule("linear", 1000).alpha_bar
    x0 = torch.zeros(8, 3, 4, 4, dtype=torch.float64)  # with x0 = 0, x_t = sqrt(1 - alpha_bar_t) eps reveals eps

    def oracle(x_t, t):
        eps = x_t / (1 - alpha_bar[t]).sqrt()[:, None, None, None]
        return training_target(prediction, x0, eps, alpha_bar[t])

    generator = torch.Generator().manual_seed(0)
    t, noise = (
        torch.randint(0, 1000, (8,), generator=generator),
        torch.randn(x0.shape, generator=generator, dtype=x0.dtype),
    )
    assert denoising_loss(oracle, alpha_bar, x0, t, noise, "l2", prediction, weighting).item() < 1e-12
    assert denoising_loss(lambda x_t, t: x_t + 1, alpha_bar, x0, t, noise, "l2", prediction, weighting).item() > 1e-3
    with pytest.raises(UserError):
        denoising_loss(oracle, alpha_bar, x0, t, noise, "l2", prediction, "p2")
