"""SDE marginals against their closed forms, masking and symmetry of the noise."""

import math

import pytest
import torch

from unigen.processes.sde import SDES, VESDE, VPSDE, SubVPSDE, build_sde, mask_noise

CASES = [
    VPSDE(0.1, 1.0, 1000),
    VPSDE(0.1, 20.0, 1000),
    SubVPSDE(0.1, 20.0, 1000),
    VESDE(0.1, 1.0, 1000),
    VESDE(0.01, 5.0, 1000),
]


def simulate_forward(sde, x0, t_end, steps=400, generator=None):
    """Euler-Maruyama on the continuous SDE from 0 to t_end, starting from the t=0 marginal
    (VE's marginal has std sigma_min at t=0, VP's has 0)."""
    x, _, _ = sde.sample_marginal(x0, torch.zeros(x0.shape[0], dtype=x0.dtype), generator=generator)
    dt = t_end / steps
    for k in range(steps):
        t = torch.full((x.shape[0],), k * dt, dtype=x.dtype)
        drift, diffusion = sde.sde(x, t)
        x = (
            x
            + drift * dt
            + diffusion[:, None] * math.sqrt(dt) * torch.randn(x.shape, generator=generator, dtype=x.dtype)
        )
    return x


@pytest.mark.parametrize("sde", CASES, ids=lambda s: f"{type(s).__name__}")
def test_simulated_marginal_matches_closed_form(sde):
    g = torch.Generator().manual_seed(0)
    x0 = torch.full((20000, 1), 1.5, dtype=torch.float64)
    t_end = 0.6
    xt = simulate_forward(sde, x0, t_end, generator=g)
    mean, std = sde.marginal_prob(x0[:1], torch.tensor([t_end], dtype=torch.float64))
    assert xt.mean().item() == pytest.approx(mean.item(), abs=4 * std.item() / math.sqrt(20000) + 2e-3)
    assert xt.std().item() == pytest.approx(std.item(), rel=0.03)


@pytest.mark.parametrize("sde", CASES, ids=lambda s: f"{type(s).__name__}")
def test_discrete_chain_matches_marginal_at_end(sde):
    """Running the discretised forward chain over all N steps lands on the prior's mean and std."""
    g = torch.Generator().manual_seed(1)
    x = torch.full((20000, 1), 1.0, dtype=torch.float64)
    for i in range(sde.N):
        t = torch.full((x.shape[0],), i / (sde.N - 1), dtype=torch.float64)
        f, G = sde.discretize(x, t)
        x = x + f + G[:, None] * torch.randn(x.shape, generator=g, dtype=torch.float64)
    mean, std = sde.marginal_prob(torch.ones(1, 1, dtype=torch.float64), torch.ones(1, dtype=torch.float64))
    assert x.mean().item() == pytest.approx(mean.item(), abs=0.05 + 0.05 * abs(mean.item()))
    assert x.std().item() == pytest.approx(std.item(), rel=0.08)


@pytest.mark.parametrize("sde", CASES, ids=lambda s: f"{type(s).__name__}")
def test_transition_composes_to_marginal(sde):
    """Two S4 backward kernels' forward counterparts: marginal(t) from marginal(t-dt) via the transition."""
    t, dt = torch.tensor([0.7], dtype=torch.float64), 0.2
    x0 = torch.ones(1, 1, dtype=torch.float64)
    mean_t, std_t = sde.marginal_prob(x0, t)
    mean_s, std_s = sde.marginal_prob(x0, t - dt)
    back_mean, trans_std = sde.transition(mean_t, t, dt)  # inverse of the mean map
    assert back_mean.item() == pytest.approx(mean_s.item(), rel=1e-10)
    ratio = (mean_t / mean_s).item()
    assert (ratio**2 * std_s.item() ** 2 + trans_std.item() ** 2) == pytest.approx(
        std_t.item() ** 2, rel=1e-8
    )


def test_adjacency_noise_symmetric_zero_diagonal_and_masked():
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]], dtype=torch.float64)
    noise = mask_noise(torch.randn(2, 4, 4, dtype=torch.float64), mask, symmetric=True)
    assert torch.equal(noise, noise.transpose(-1, -2))
    assert torch.all(noise.diagonal(dim1=-2, dim2=-1) == 0)
    assert torch.all(noise[0, 3] == 0) and torch.all(noise[1, :, 2:] == 0)
    x0 = torch.zeros(2, 4, 4, dtype=torch.float64)
    xt, _, _ = VESDE(0.1, 1.0).sample_marginal(
        x0, torch.tensor([0.5, 0.9], dtype=torch.float64), mask, symmetric=True
    )
    assert torch.equal(xt, xt.transpose(-1, -2)) and torch.all(xt[1, 2:] == 0)


def test_node_feature_noise_masked_and_prior_scale():
    mask = torch.tensor([[1, 0]])
    prior = VESDE(0.1, 3.0).prior_sampling((20000, 2, 1), node_mask=mask.expand(20000, 2))
    assert torch.all(prior[:, 1] == 0)
    assert prior[:, 0].std().item() == pytest.approx(3.0, rel=0.03)


def test_reverse_drift_uses_score():
    sde = VPSDE(0.1, 20.0)
    x, t = torch.ones(3, 2, 1), torch.full((3,), 0.5)
    score = -x
    drift, diffusion = sde.reverse_sde(x, t, score)
    forward_drift, g = sde.sde(x, t)
    assert torch.allclose(drift, forward_drift + g[:, None, None] ** 2 * x)
    assert torch.allclose(diffusion, g)
    _, pf_diffusion = sde.reverse_sde(x, t, score, probability_flow=True)
    assert torch.all(pf_diffusion == 0)


def test_build_sde_rejects_unknown_kind():
    assert isinstance(build_sde("VE", sigma_min=0.1, sigma_max=1.0), VESDE)
    with pytest.raises(ValueError, match="valid: VP, VE, subVP"):
        build_sde("EDM")
    assert set(SDES) == {"VP", "VE", "subVP"}
