"""Categorical diffusion against closed forms and brute-force Bayes on tiny cases."""

import math

import pytest
import torch
import torch.nn.functional as F

from unigen.processes.discrete import (
    CategoricalDiffusion,
    DiscreteProcess,
    cosine_alpha_bar,
    sample_categorical,
)

MARGINAL = [0.5, 0.3, 0.2, 0.0]  # a zero-weight class, like PARD's virtual class under marginal noise


def make(limit, num_steps=6, **kwargs):
    extra = {"marginal": MARGINAL} if limit == "marginal" else {}
    return CategoricalDiffusion(4, num_steps, limit=limit, **extra, **kwargs)


LIMITS = ["uniform", "marginal", "absorbing"]
EXPECTED_LIMIT = {"uniform": [0.25] * 4, "marginal": MARGINAL, "absorbing": [0, 0, 0, 1]}


def all_t(process):
    return torch.arange(process.num_steps + 1)


def certain_logits(x0, k, scale=1e4):
    """Logits whose softmax is exactly one-hot(x0) in float32."""
    return F.one_hot(x0, k).float() * scale


def test_cosine_schedule_is_the_unsquared_closed_form():
    T, a = 50, 0.008
    alpha_bar = cosine_alpha_bar(T)
    t = torch.arange(T + 1, dtype=torch.float64)
    closed = torch.cos(math.pi / 2 * (t / T + a) / (1 + a)) / math.cos(math.pi / 2 * a / (1 + a))
    torch.testing.assert_close(alpha_bar[1:-1], closed[1:-1], rtol=0, atol=1e-12)
    assert alpha_bar[0] == 1.0 and alpha_bar[-1] == 1e-10 and bool((alpha_bar.diff() < 0).all())


@pytest.mark.parametrize("limit", LIMITS)
def test_matrices_are_row_stochastic(limit):
    process = make(limit)
    assert isinstance(process, DiscreteProcess)
    for mats in (process.transition(all_t(process)), process.cumulative(all_t(process))):
        assert mats.shape == (process.num_steps + 1, 4, 4) and bool((mats >= 0).all())
        torch.testing.assert_close(mats.sum(-1), torch.ones(process.num_steps + 1, 4, dtype=torch.float64))


@pytest.mark.parametrize("limit", LIMITS)
def test_cumulative_is_the_product_of_steps(limit):
    process = make(limit, num_steps=8)
    product = torch.eye(4, dtype=torch.float64)
    for t in range(1, 9):
        product = product @ process.transition(torch.tensor([t]))[0]
        torch.testing.assert_close(process.cumulative(torch.tensor([t]))[0], product, rtol=0, atol=1e-12)


@pytest.mark.parametrize("limit", LIMITS)
def test_marginal_is_identity_at_0_and_the_limit_at_T(limit):
    process = make(limit)
    x0 = F.one_hot(torch.arange(4), 4).double().unsqueeze(0)  # (1, 4 elements, 4 classes)
    torch.testing.assert_close(process.q_marginal(x0, 0)[0], torch.eye(4, dtype=torch.float64))
    at_end = process.q_marginal(x0, process.num_steps)[0]
    expected = torch.tensor(EXPECTED_LIMIT[limit], dtype=torch.float64).expand(4, 4)
    torch.testing.assert_close(at_end, expected, rtol=0, atol=1e-9)
    torch.testing.assert_close(process.limit(), expected[0])


def test_marginal_closed_form_and_batched_times():
    process = make("marginal", num_steps=10)
    x0 = torch.tensor([[0, 2, 3], [1, 1, 0]])
    t = torch.tensor([3, 7])
    probs = process.q_marginal(F.one_hot(x0, 4).double(), t)
    ab = process.alpha_bar[t][:, None, None]
    expected = ab * F.one_hot(x0, 4).double() + (1 - ab) * torch.tensor(MARGINAL, dtype=torch.float64)
    torch.testing.assert_close(probs, expected)


def brute_force_posterior(process, k, i, t):
    """q(x_{t-1} = j | x_t = i, x_0 = k) by Bayes over the joint, with matrices rebuilt from alpha_bar."""
    m = process.limit()
    ab = process.alpha_bar

    def mix(keep):
        return keep * torch.eye(4, dtype=torch.float64) + (1 - keep) * m[None, :]

    q_prev, q_step = mix(ab[t - 1]), mix(ab[t] / ab[t - 1])
    joint = torch.tensor([q_prev[k, j] * q_step[j, i] for j in range(4)])
    return joint / joint.sum()


def reachable(process, k, i, t) -> bool:
    """Whether x_t = i can come from x_0 = k."""
    return bool(process.q_marginal(F.one_hot(torch.tensor([[k]]), 4).double(), t)[0, 0, i] > 0)


def exact_posterior(process, k, i, t) -> torch.Tensor:
    """The process's own q(x_{t-1} | x_t = i, x_0 = k), (4,) float64."""
    return process.posterior(torch.tensor([[k]]), torch.tensor([[i]]), t, dtype=torch.float64)[0, 0]


@pytest.mark.parametrize("limit", LIMITS)
def test_posterior_matches_bayes_by_brute_force(limit):
    process = make(limit, num_steps=5)
    for t in range(1, 6):
        for k in range(4):
            for i in range(4):
                if not reachable(process, k, i, t):
                    continue
                got = exact_posterior(process, k, i, t)
                torch.testing.assert_close(got, brute_force_posterior(process, k, i, t), rtol=0, atol=1e-10)
                assert got.sum().item() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("limit", LIMITS)
def test_model_posterior_is_the_sum_over_x0(limit):
    process = make(limit, num_steps=5)
    g = torch.Generator().manual_seed(0)
    p0 = torch.rand(1, 4, generator=g, dtype=torch.float64).softmax(-1)
    for t in range(2, 6):
        for i in (0, 3):
            got = process.model_posterior(p0[:, None], torch.tensor([[i]]), t)[0, 0]
            terms = [
                p0[0, k] * exact_posterior(process, k, i, t) for k in range(4) if reachable(process, k, i, t)
            ]
            expected = sum(terms) / sum(terms).sum()  # renormalised over x_0 that can produce x_t
            torch.testing.assert_close(got, expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("limit", LIMITS)
def test_model_posterior_at_t1_is_the_prediction(limit):
    process = make(limit)
    p0 = torch.tensor([[[0.1, 0.2, 0.3, 0.4]]], dtype=torch.float64)
    xt = torch.tensor([[3 if limit == "absorbing" else 0]])  # a state every x0 can reach
    torch.testing.assert_close(process.model_posterior(p0, xt, 1), p0)
    if limit == "absorbing":  # an unmasked x_1 can only have come from itself
        torch.testing.assert_close(
            process.model_posterior(p0, torch.tensor([[1]]), 1), F.one_hot(torch.tensor([[1]]), 4).double()
        )


@pytest.mark.parametrize("limit", LIMITS)
def test_loss_vanishes_for_a_certain_correct_prediction(limit):
    process = make(limit, num_steps=10)
    g = torch.Generator().manual_seed(1)
    x0 = torch.randint(0, 3, (3, 5), generator=g)
    for t in (1, 2, 5, 10):
        xt = process.sample_q(x0, t, generator=g)
        vlb, ce = process.loss_terms(x0, xt, t, certain_logits(x0, 4))
        assert ce.abs().max() < 1e-6 and vlb.abs().max() < 1e-6
        assert process.loss(x0, xt, t, certain_logits(x0, 4)).abs().max() < 1e-5


def test_loss_terms_on_a_random_prediction():
    process = make("uniform", num_steps=10)
    g = torch.Generator().manual_seed(2)
    x0 = torch.randint(0, 4, (4, 6), generator=g)
    t = torch.tensor([1, 2, 5, 10])
    xt = process.sample_q(x0, t, generator=g)
    logits = torch.randn(4, 6, 4, generator=g)
    vlb, ce = process.loss_terms(x0, xt, t, logits)
    prior = process.prior_kl(x0) / process.num_steps
    torch.testing.assert_close(
        ce, F.cross_entropy(logits.reshape(-1, 4), x0.reshape(-1), reduction="none").reshape(4, 6)
    )
    torch.testing.assert_close(vlb[0], ce[0] + prior[0])  # t = 1: -log p(x_0 | x_1)
    assert bool((vlb[1:] - prior[1:] >= -1e-6).all())  # KL >= 0
    total = process.loss(x0, xt, t, logits, ce_weight=0.1)
    torch.testing.assert_close(total, (vlb + 0.1 * ce).sum(-1))


def test_loss_ignores_masked_entries():
    process = make("marginal", num_steps=10)
    g = torch.Generator().manual_seed(3)
    x0 = torch.randint(0, 3, (2, 7, 7), generator=g)
    t = torch.tensor([3, 8])
    xt = process.sample_q(x0, t, generator=g, symmetric=True)
    logits = torch.randn(2, 7, 7, 4, generator=g)
    mask = torch.ones(2, 7, 7, dtype=torch.bool).tril(-1)  # count each pair once
    mask[1, 5:] = False  # padding nodes of graph 1
    base = process.loss(x0, xt, t, logits, mask=mask)
    noisy_logits, other_x0 = logits.clone(), x0.clone()
    noisy_logits[~mask] = 100 * torch.randn(int((~mask).sum()), 4, generator=g)
    other_x0[~mask] = 3  # even a zero-probability class at padding
    torch.testing.assert_close(process.loss(other_x0, xt, t, noisy_logits, mask=mask), base)
    assert process.loss(x0, xt, t, logits, mask=torch.zeros_like(mask)).abs().max() == 0


@pytest.mark.parametrize("limit", LIMITS)
def test_samples_follow_the_marginal(limit):
    process = make(limit, num_steps=10)
    x0 = torch.full((1, 40000), 1)
    xt = process.sample_q(x0, 4, generator=torch.Generator().manual_seed(4))
    freq = torch.bincount(xt.flatten(), minlength=4).double() / xt.numel()
    expected = process.q_marginal(F.one_hot(x0[:, :1], 4).double(), 4)[0, 0]
    torch.testing.assert_close(freq, expected, rtol=0, atol=0.01)
    assert bool((freq[expected == 0] == 0).all())


def test_sampling_is_reproducible_and_symmetric():
    process = make("uniform")
    x0 = torch.zeros(2, 6, 6, dtype=torch.long)
    first = process.sample_q(x0, 3, generator=torch.Generator().manual_seed(5), symmetric=True)
    again = process.sample_q(x0, 3, generator=torch.Generator().manual_seed(5), symmetric=True)
    assert torch.equal(first, again) and torch.equal(first, first.transpose(1, 2))
    prior = process.sample_prior((2, 6, 6), generator=torch.Generator().manual_seed(6), symmetric=True)
    assert prior.shape == (2, 6, 6) and torch.equal(prior, prior.transpose(1, 2))


def test_categorical_sampler_skips_zero_classes():
    probs = torch.tensor([0.0, 0.5, 0.0, 0.5, 0.0]).expand(20000, 5)
    draws = sample_categorical(probs, torch.Generator().manual_seed(7))
    assert set(draws.tolist()) == {1, 3} and abs((draws == 1).float().mean().item() - 0.5) < 0.02


def test_step_samples_the_model_posterior():
    process = make("uniform", num_steps=10)
    logits = torch.tensor([0.3, -1.0, 2.0, 0.0]).expand(1, 40000, 4)
    xt = torch.full((1, 40000), 2)
    x_prev, probs = process.step(xt, logits, 6, generator=torch.Generator().manual_seed(8))
    torch.testing.assert_close(
        probs[0, 0], process.model_posterior(logits[:, :1].softmax(-1), xt[:, :1], 6)[0, 0]
    )
    freq = torch.bincount(x_prev.flatten(), minlength=4).float() / x_prev.numel()
    torch.testing.assert_close(freq, probs[0, 0], rtol=0, atol=0.01)


def test_last_step_never_outputs_excluded_classes():
    process = make("uniform", final_exclude=(3,))
    logits = torch.zeros(2, 500, 4)  # the model likes every class alike, the virtual one too
    xt = torch.full((2, 500), 3)
    t = torch.tensor([1, 2])
    x_prev, probs = process.step(xt, logits, t, generator=torch.Generator().manual_seed(9))
    assert not bool((x_prev[0] == 3).any()) and bool((x_prev[1] == 3).any())
    assert probs[0, :, 3].max() == 0
    assert make("absorbing").final_exclude == (3,)


@pytest.mark.parametrize("limit", LIMITS)
def test_reverse_chain_with_a_perfect_model_recovers_x0(limit):
    process = make(limit, num_steps=8)
    g = torch.Generator().manual_seed(10)
    x0 = torch.randint(0, 3, (3, 5, 5), generator=g)
    x0 = x0.tril() + x0.tril(-1).transpose(1, 2)
    x = process.sample_prior(x0.shape, generator=g, symmetric=True)
    for t in range(process.num_steps, 0, -1):
        x, _ = process.step(x, certain_logits(x0, 4), t, generator=g, symmetric=True)
    assert torch.equal(x, x0)


def test_absorbing_chain_only_masks():
    process = make("absorbing", num_steps=10)
    x0 = torch.randint(0, 3, (4, 50), generator=torch.Generator().manual_seed(11))
    xt = process.sample_q(x0, torch.tensor([2, 5, 8, 10]), generator=torch.Generator().manual_seed(12))
    assert bool(((xt == x0) | (xt == 3)).all()) and bool((xt[3] == 3).all())


def test_with_steps_gives_a_consistent_schedule():
    process = make("marginal", num_steps=20, final_exclude=(3,))
    fewer = process.with_steps(10)
    assert fewer.num_steps == 10 and process.num_steps == 20 and fewer is not process
    assert fewer.config() == {**process.config(), "num_steps": 10}
    torch.testing.assert_close(fewer.alpha_bar, process.alpha_bar[::2])
    assert fewer.transition(torch.tensor([10])).shape == (1, 4, 4)
    torch.testing.assert_close(fewer.limit(), process.limit())


def test_state_dict_round_trip_and_bad_settings():
    process = make("absorbing", absorbing_state=0, final_exclude=(2,))
    again = CategoricalDiffusion.from_state_dict(process.state_dict())
    assert again.config() == process.config() and again.final_exclude == (0, 2)
    with pytest.raises(ValueError, match="valid keys"):
        CategoricalDiffusion.from_state_dict({**process.state_dict(), "beta": 1})
    with pytest.raises(ValueError, match="valid: uniform, marginal, absorbing"):
        CategoricalDiffusion(4, limit="masked")
    with pytest.raises(ValueError, match="marginal"):
        CategoricalDiffusion(4, limit="marginal")
    with pytest.raises(ValueError, match="0..6"):
        make("uniform").q_marginal(torch.ones(1, 2, 4), 7)
    with pytest.raises(ValueError, match="t >= 1"):
        make("uniform").posterior(torch.zeros(1, 2, dtype=torch.long), torch.zeros(1, 2, dtype=torch.long), 0)
