"""Per-token Gaussian diffusion: schedule, posterior, variance, loss and samplers against closed forms."""

import ast
import inspect
import math

import pytest
import torch

from unigen.processes import continuous
from unigen.processes.continuous import (
    GaussianDiffusion,
    cosine_alpha_bar,
    discretized_gaussian_nll,
    space_timesteps,
)

T = 1000


@pytest.fixture(scope="module")
def process():
    return GaussianDiffusion()


# -- schedule ----------------------------------------------------------------------------


def test_cosine_alpha_bar_is_monotone_from_one_to_zero(process):
    alpha_bar = process.train_alpha_bar
    assert alpha_bar.shape == (T,) and alpha_bar.dtype == torch.float64
    assert (alpha_bar[1:] < alpha_bar[:-1]).all()
    assert 0.9999 < alpha_bar[0] < 1 and alpha_bar[-1] < 1e-7


def test_cosine_alpha_bar_matches_the_closed_form_where_beta_is_not_clipped():
    f = lambda s: math.cos((s + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
    alpha_bar = cosine_alpha_bar(T)
    for i in (0, 1, 10, 500, 900, 990):
        assert alpha_bar[i].item() == pytest.approx(f((i + 1) / T) / f(0), rel=1e-9)
    betas = 1 - alpha_bar / torch.cat([torch.ones(1), alpha_bar[:-1]])
    assert betas.max().item() == pytest.approx(0.999)  # only the last step is clipped


def test_respaced_betas_telescope_to_the_kept_alpha_bars(process):
    fast = process.with_steps(50)
    assert torch.allclose(
        torch.cumprod(1 - fast.betas, 0), process.train_alpha_bar[fast.timesteps], rtol=1e-12
    )
    kept = process.train_alpha_bar[fast.timesteps]
    assert fast.betas[1].item() == pytest.approx(1 - (kept[1] / kept[0]).item())


def test_with_steps_gives_a_new_process_with_n_evenly_spaced_steps(process):
    for n in (1, 2, 20, 100, 200, T):
        fast = process.with_steps(n)
        assert fast.num_steps == n and len(fast.timesteps) == n and fast is not process
        assert (fast.timesteps[1:] > fast.timesteps[:-1]).all() and fast.timesteps[-1] == T - 1
        assert fast.config()["sampling_steps"] == n
    assert process.with_steps(100).timesteps[:3].tolist() == [0, 10, 20]  # round(k * 999 / 99)
    assert process.num_steps == T and torch.equal(process.with_steps(T).betas, process.betas)
    with pytest.raises(ValueError, match="1..1000"):
        process.with_steps(0)


# -- posterior and variance -----------------------------------------------------------------


def gaussian_conditioning(x0: float, xt: float, abar_prev: float, alpha: float):
    """Brute force: joint of (x_prev, x_t) given x0, then condition on x_t with the 2x2 formulas."""
    beta = 1 - alpha
    mu = torch.tensor([abar_prev**0.5 * x0, (alpha * abar_prev) ** 0.5 * x0], dtype=torch.float64)
    var_prev = 1 - abar_prev
    cov = torch.tensor(
        [[var_prev, alpha**0.5 * var_prev], [alpha**0.5 * var_prev, alpha * var_prev + beta]],
        dtype=torch.float64,
    )
    mean = mu[0] + cov[0, 1] / cov[1, 1] * (xt - mu[1])
    return mean.item(), (cov[0, 0] - cov[0, 1] ** 2 / cov[1, 1]).item()


@pytest.mark.parametrize("steps", [T, 37])
def test_posterior_equals_gaussian_conditioning_on_a_scalar(process, steps):
    chain = process.with_steps(steps)
    for k in (1, 2, steps // 2, steps - 1):
        t = chain.timesteps[k]
        abar, abar_prev = chain.alpha_bar[k].item(), chain.alpha_bar[k - 1].item()
        x0, x_t = torch.tensor([[0.7]], dtype=torch.float64), torch.tensor([[-0.4]], dtype=torch.float64)
        mean, var = chain.posterior(x0, x_t, t)
        expected_mean, expected_var = gaussian_conditioning(0.7, -0.4, abar_prev, abar / abar_prev)
        assert mean.item() == pytest.approx(expected_mean, rel=1e-9, abs=1e-12)
        assert var.item() == pytest.approx(expected_var, rel=1e-9)


def test_learned_variance_interpolates_log_beta_and_log_posterior_variance(process):
    like = torch.zeros(4, 3, dtype=torch.float64)
    t = torch.tensor([0, 1, 500, 999])
    log_beta, log_tilde = process.log_betas[t].unsqueeze(1), process.log_posterior_variance[t].unsqueeze(1)
    assert torch.allclose(process.log_variance(t, torch.ones_like(like), like), log_beta.expand_as(like))
    assert torch.allclose(process.log_variance(t, -torch.ones_like(like), like), log_tilde.expand_as(like))
    assert torch.allclose(
        process.log_variance(t, torch.zeros_like(like), like), ((log_beta + log_tilde) / 2).expand_as(like)
    )
    # the first posterior variance is 0; its log is replaced by the second entry's
    assert (
        process.posterior_variance[0] == 0
        and process.log_posterior_variance[0] == process.log_posterior_variance[1]
    )
    assert torch.isfinite(process.log_posterior_variance).all()


def test_fixed_variance_is_beta_and_needs_no_v():
    fixed = GaussianDiffusion(learned_variance=False)
    like = torch.zeros(2, 3, dtype=torch.float64)
    log_var = fixed.log_variance(torch.tensor([5, 900]), None, like)
    assert torch.allclose(log_var[:, 0], fixed.betas[[5, 900]].log())
    with pytest.raises(ValueError, match="pass the head's v"):
        GaussianDiffusion().log_variance(5, None, like)


# -- loss ----------------------------------------------------------------------------------


def noisy_batch(process, m=64, d=3, generator=None):
    x0 = torch.randn(m, d, generator=generator, dtype=torch.float64) * 2 + 1
    t = process.sample_t(m, generator=generator)
    noise = torch.randn(m, d, generator=generator, dtype=torch.float64)
    return x0, t, noise, process.add_noise(x0, t, noise)


def test_add_noise_is_the_closed_form_marginal(process):
    x0, noise = torch.full((3, 2), 2.0, dtype=torch.float64), torch.ones(3, 2, dtype=torch.float64)
    t = torch.tensor([0, 400, 999])
    abar = process.train_alpha_bar[t].unsqueeze(1)
    assert torch.allclose(process.add_noise(x0, t, noise), abar.sqrt() * 2 + (1 - abar).sqrt())


def test_hybrid_loss_stops_the_gradient_of_vb_into_eps(process):
    x0, t, noise, x_t = noisy_batch(process, generator=torch.Generator().manual_seed(1))
    t[:2] = torch.tensor([0, 1])  # the decoder-NLL branch and a KL step
    eps = torch.randn_like(noise).requires_grad_()
    v = torch.zeros_like(noise).uniform_(-1, 1).requires_grad_()
    terms = process.loss(x0, x_t, t, noise, eps, v)
    assert terms["loss"].shape == terms["mse"].shape == terms["vb"].shape == (64,)
    assert torch.allclose(terms["loss"], terms["mse"] + terms["vb"])
    grad_eps_vb, grad_v_vb = torch.autograd.grad(
        terms["vb"].sum(), (eps, v), allow_unused=True, retain_graph=True
    )
    assert grad_eps_vb is None and grad_v_vb.abs().sum() > 0
    grad_v_mse = torch.autograd.grad(terms["mse"].sum(), v, allow_unused=True)[0]
    assert grad_v_mse is None


def test_vb_is_zero_for_exact_eps_and_posterior_variance(process):
    x0, t, noise, x_t = noisy_batch(process, generator=torch.Generator().manual_seed(2))
    t = t.clamp(min=1)
    x_t = process.add_noise(x0, t, noise)
    terms = process.loss(x0, x_t, t, noise, noise, -torch.ones_like(noise))
    assert terms["mse"].abs().max() == 0 and terms["vb"].abs().max() < 1e-9
    worse = process.loss(x0, x_t, t, noise, noise, torch.ones_like(noise))["vb"]
    assert (worse >= -1e-12).all() and worse.sum() > 0  # KL >= 0, > 0 away from the optimum


def test_vb_at_t0_is_the_discretised_decoder_nll_in_bits(process):
    x0 = torch.tensor([[0.3, -2.0, 5.0]], dtype=torch.float64)
    noise, eps, v = torch.full_like(x0, 0.1), torch.full_like(x0, -0.2), torch.full_like(x0, 0.4)
    x_t = process.add_noise(x0, 0, noise)
    mean, log_var = process.p_mean_log_variance(x_t, 0, eps, v)
    expected = discretized_gaussian_nll(x0, mean, log_var).mean() / math.log(2)
    assert process.loss(x0, x_t, torch.tensor([0]), noise, eps, v)["vb"].item() == pytest.approx(
        expected.item()
    )


def test_fixed_variance_loss_is_plain_mse():
    fixed = GaussianDiffusion(learned_variance=False)
    x0, t, noise, x_t = noisy_batch(fixed, m=8)
    terms = fixed.loss(x0, x_t, t, noise, torch.zeros_like(noise))
    assert torch.allclose(terms["loss"], (noise**2).mean(1)) and (terms["vb"] == 0).all()


# -- samplers ---------------------------------------------------------------------------------


def oracle_eps(chain, x0):
    """eps consistent with a known x0: (x_t - sqrt(abar) x0) / sqrt(1 - abar)."""

    def eps(x_t, t):
        abar = chain.alpha_bar[chain.timesteps.tolist().index(int(t))]
        return (x_t - abar.sqrt() * x0) / (1 - abar).sqrt()

    return eps


@pytest.mark.parametrize("steps", [T, 25, 1])
def test_ddim_eta0_with_exact_eps_stays_on_the_noise_line_and_recovers_x0(process, steps):
    chain = process.with_steps(steps)
    x0 = torch.randn(16, 3, dtype=torch.float64) * 3
    noise = torch.randn(16, 3, dtype=torch.float64)
    x = chain.add_noise(x0, T - 1, noise)
    eps = oracle_eps(chain, x0)
    timesteps = chain.timesteps.flip(0).tolist()
    for k, t in enumerate(timesteps):
        x, _ = chain.ddim_step(x, t, eps(x, t), eta=0.0)
        if k + 1 < len(timesteps):
            assert torch.allclose(x, chain.add_noise(x0, timesteps[k + 1], noise), atol=1e-9)
    assert torch.allclose(x, x0, atol=1e-9)


def test_ddim_eta1_injects_the_posterior_standard_deviation(process):
    chain = process.with_steps(10)
    x_t, eps = torch.zeros(1, 1, dtype=torch.float64), torch.zeros(1, 1, dtype=torch.float64)
    t = chain.timesteps[5]
    quiet, mean = chain.ddim_step(x_t, t, eps, eta=1.0, noise=torch.zeros_like(x_t))
    loud, _ = chain.ddim_step(x_t, t, eps, eta=1.0, noise=torch.ones_like(x_t))
    assert torch.equal(quiet, mean)
    assert (loud - quiet).item() == pytest.approx(chain.posterior_variance[5].sqrt().item())


def gaussian_data_eps(mu: float, s: float):
    """The exact E[eps | x_t] when x0 ~ N(mu, s^2): x_t ~ N(sqrt(abar) mu, abar s^2 + 1 - abar)."""

    def eps(chain, x_t, t):
        abar = chain.alpha_bar[chain.timesteps.tolist().index(int(t))]
        return (1 - abar).sqrt() * (x_t - abar.sqrt() * mu) / (abar * s**2 + 1 - abar)

    return eps


@pytest.mark.parametrize("steps", [T, 100])
def test_ddpm_with_the_oracle_eps_samples_a_1d_gaussian(process, steps):
    chain, mu, s = process.with_steps(steps), 1.5, 0.5
    eps, generator = gaussian_data_eps(mu, s), torch.Generator().manual_seed(0)
    x = chain.prior((20000, 1), generator=generator, dtype=torch.float64)
    for t in chain.timesteps.flip(0).tolist():
        x, mean = chain.ddpm_step(x, t, eps(chain, x, t), v=-torch.ones_like(x), generator=generator)
    assert torch.equal(x, mean)  # no noise at the last step
    assert x.mean().item() == pytest.approx(mu, abs=0.02) and x.std().item() == pytest.approx(s, abs=0.02)


def test_steps_refuse_timesteps_that_are_not_kept(process):
    fast = process.with_steps(10)
    with pytest.raises(ValueError, match="timestep 5 is not one of this process's 10 kept steps"):
        fast.ddpm_step(torch.zeros(2, 3), 5, torch.zeros(2, 3), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="0..999"):
        process.add_noise(torch.zeros(1, 3), 1000, torch.zeros(1, 3))


def test_space_timesteps_rejects_more_steps_than_training():
    with pytest.raises(ValueError):
        space_timesteps(10, 11)


def test_module_imports_torch_only():
    tree = ast.parse(inspect.getsource(continuous))
    names = {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
    names |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert names == {"__future__", "math", "torch"}


def test_clip_x0_bounds_the_implied_clean_value_and_is_a_no_op_inside_the_bound():
    process = GaussianDiffusion(1000, learned_variance=False).with_steps(10)
    x_t = torch.full((4, 3), 0.5, dtype=torch.float64)
    wrong_eps = torch.full((4, 3), -30.0, dtype=torch.float64)
    final, _ = process.ddim_step(x_t, 0, wrong_eps, clip_x0=2.0)  # the last step returns x0 itself
    assert final.abs().max() <= 2.0 + 1e-12
    good_eps = torch.zeros_like(x_t)
    t = int(process.timesteps[4])
    for step in (process.ddim_step, process.ddpm_step):
        kwargs = {"noise": torch.zeros_like(x_t)}
        clipped = step(x_t, t, good_eps, clip_x0=50.0, **kwargs)[0]
        assert torch.allclose(clipped, step(x_t, t, good_eps, **kwargs)[0])
