"""frechet_distance against closed forms and against pytorch-fid's scipy.linalg.sqrtm formula."""

import numpy as np
import pytest

from unnoise.metrics.fid import feature_statistics, frechet_distance


def pytorch_fid_reference(mu1, sigma1, mu2, sigma2, eps=1e-6):
    """pytorch-fid's calculate_frechet_distance (scipy sqrtm of S1 S2, eps offset when it is not finite)."""
    linalg = pytest.importorskip("scipy.linalg")
    difference = mu1 - mu2
    covmean = linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    covmean = covmean.real
    return difference @ difference + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean)


def random_rotation(d, rng):
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def inception_like_features(n, d, rng, scale=1.0, shift=0.0):
    """Non-negative, correlated features (like pool3 after ReLU): |z A| with a shared random mixing A."""
    mixing = np.random.default_rng(123).standard_normal((d, d)) / np.sqrt(d)
    return np.abs(rng.standard_normal((n, d)) @ mixing) * scale + shift


def test_diagonal_gaussians_match_the_closed_form():
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.standard_normal(16), rng.standard_normal(16)
    a, b = rng.uniform(0.1, 3, 16), rng.uniform(0.1, 3, 16)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-10)


def test_full_covariances_match_closed_forms():
    rng = np.random.default_rng(1)
    d = 12
    q = random_rotation(d, rng)
    a, b = rng.uniform(0.1, 3, d), rng.uniform(0.1, 3, d)
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    # Shared eigenvectors: d^2 = ||mu1 - mu2||^2 + sum (sqrt(a) - sqrt(b))^2.
    shared = frechet_distance(mu1, q @ np.diag(a) @ q.T, mu2, q @ np.diag(b) @ q.T)
    assert shared == pytest.approx(np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2), rel=1e-9)
    # S1 = I and any S2 = V diag(l) V^T (not diagonal): Tr(I + S2 - 2 S2^{1/2}) = sum (1 - sqrt(l))^2.
    other = random_rotation(d, rng)
    sigma2 = other @ np.diag(b) @ other.T
    assert frechet_distance(np.zeros(d), np.eye(d), np.zeros(d), sigma2) == pytest.approx(
        np.sum((1 - np.sqrt(b)) ** 2), rel=1e-9
    )


def test_a_feature_set_against_itself_is_zero_and_the_distance_is_symmetric():
    rng = np.random.default_rng(2)
    first, second = (
        feature_statistics(inception_like_features(300, 256, rng)),
        feature_statistics(inception_like_features(300, 256, rng, scale=1.2, shift=0.05)),
    )
    scale = np.trace(first[1])
    assert abs(frechet_distance(*first, *first)) < 1e-9 * scale
    forward, backward = frechet_distance(*first, *second), frechet_distance(*second, *first)
    assert forward > 1e-3 * scale
    assert forward == pytest.approx(backward, rel=1e-9)


@pytest.mark.parametrize("n", [1500, 150], ids=["full-rank", "near-singular-n<d"])
def test_agrees_with_pytorch_fid_scipy_formula(n):
    rng = np.random.default_rng(3)
    d = 256  # 2048 works the same, but scipy's sqrtm takes minutes there on two shared cores
    mu1, sigma1 = feature_statistics(inception_like_features(n, d, rng))
    mu2, sigma2 = feature_statistics(inception_like_features(n, d, rng, scale=1.1, shift=0.02))
    reference = pytorch_fid_reference(mu1, sigma1, mu2, sigma2)
    assert frechet_distance(mu1, sigma1, mu2, sigma2) == pytest.approx(reference, rel=1e-3)


def test_mismatched_shapes_are_rejected():
    with pytest.raises(ValueError):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
    with pytest.raises(ValueError):
        feature_statistics(np.zeros((1, 8)))
