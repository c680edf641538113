"""Predictor-corrector samplers for a *system* of SDEs (GDSS: one SDE for X, one for A).

The state is a dict of tensors (e.g. ``{"x": (B, N, F), "adj": (B, N, N)}``), each variable with
its own SDE; one score function returns the scores of all variables jointly, so X and A are
updated from the same snapshot of the state, as in GDSS. The sampler owns the loop; the SDE
owns every schedule formula (``unigen.processes.sde``).

    score_fn(state: dict[str, Tensor], t: Tensor (B,)) -> dict[str, Tensor]   # scores, shapes of state

Predictors: ``euler`` (Euler-Maruyama), ``reverse`` (reverse diffusion), ``ancestral``
(ancestral sampling; VP and VE only). Corrector: ``langevin`` (annealed Langevin with a
signal-to-noise ratio, GDSS's ``snr`` and ``scale_eps``) or ``none``. ``sample_s4`` is GDSS's S4
solver (one score evaluation per step: Langevin correction, then a transition-kernel prediction).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from unigen.processes.sde import SDE, VESDE, SubVPSDE, VPSDE, _expand, mask_noise

ScoreFn = Callable[[dict, torch.Tensor], dict]


class IncompatibleSampler(ValueError):
    """A predictor / corrector that cannot run with one of the variables' SDEs."""


@dataclass
class Variable:
    """One diffused variable: its SDE, its shape (without batch) and whether it is a symmetric adjacency."""

    sde: SDE
    shape: tuple
    symmetric: bool = False


PREDICTORS = ("euler", "reverse", "ancestral", "none")
CORRECTORS = ("langevin", "none")


def check_compatible(variables: dict[str, Variable], predictor: str, corrector: str) -> None:
    """Refuse combinations that have no correct update rule (raised when a sampler is built)."""
    if predictor not in PREDICTORS:
        raise IncompatibleSampler(f"unknown predictor {predictor!r}; valid: {', '.join(PREDICTORS)}")
    if corrector not in CORRECTORS:
        raise IncompatibleSampler(f"unknown corrector {corrector!r}; valid: {', '.join(CORRECTORS)}")
    if predictor == "none" and corrector == "none":
        raise IncompatibleSampler("predictor and corrector cannot both be 'none'")
    for name, var in variables.items():
        if predictor == "ancestral" and isinstance(var.sde, SubVPSDE):
            raise IncompatibleSampler(f"ancestral sampling has no sub-VP form (variable {name!r}); use 'reverse' or 'euler'")


def _noise(like: torch.Tensor, var: Variable, node_mask, generator) -> torch.Tensor:
    return mask_noise(torch.randn(like.shape, generator=generator, dtype=like.dtype, device=like.device), node_mask, var.symmetric)


def _predict(kind, var, x, score, t, noise):
    """One predictor update for one variable. Returns (x, x_mean)."""
    sde = var.sde
    if kind == "euler":
        dt = -1.0 / sde.N
        drift, diffusion = sde.reverse_sde(x, t, score)
        mean = x + drift * dt
        return mean + _expand(diffusion, x) * math.sqrt(-dt) * noise, mean
    if kind == "reverse":
        rev_f, rev_g = sde.reverse_discretize(x, t, score)
        mean = x - rev_f
        return mean + _expand(rev_g, x) * noise, mean
    if kind == "ancestral":
        return _ancestral(sde, x, t, score, noise)
    return x, x


def _ancestral(sde, x, t, score, noise):
    index = sde.timestep_index(t)
    if isinstance(sde, VPSDE):
        beta = sde.discrete_betas(index).to(x.dtype)
        mean = (x + _expand(beta, x) * score) / _expand((1.0 - beta).sqrt(), x)
        return mean + _expand(beta.sqrt(), x) * noise, mean
    assert isinstance(sde, VESDE)
    sigma = sde.discrete_sigmas(index).to(x.dtype)
    previous = torch.where(index == 0, torch.zeros_like(sigma), sde.discrete_sigmas(index - 1).to(x.dtype))
    mean = x + _expand(sigma**2 - previous**2, x) * score
    std = (previous**2 * (sigma**2 - previous**2) / sigma**2).sqrt()
    return mean + _expand(std, x) * noise, mean


def langevin_step_size(sde: SDE, score, noise, t, snr: float) -> torch.Tensor:
    """GDSS / score_sde step size: (snr * |z| / |score|)^2 * 2 * alpha_i (alpha_i = 1 - beta_i for VP)."""
    grad_norm = score.reshape(score.shape[0], -1).norm(dim=-1).mean()
    noise_norm = noise.reshape(noise.shape[0], -1).norm(dim=-1).mean()
    alpha = torch.ones_like(t)
    if isinstance(sde, VPSDE):
        alpha = 1.0 - sde.discrete_betas(sde.timestep_index(t)).to(t.dtype)
    return (snr * noise_norm / grad_norm.clamp_min(1e-12)) ** 2 * 2.0 * alpha


def _correct(var, x, score, t, noise, snr, scale_eps):
    step = _expand(langevin_step_size(var.sde, score, noise, t, snr), x)
    mean = x + step * score
    return mean + (2.0 * step).sqrt() * noise * scale_eps, mean


def _prior(variables, batch_size, node_mask, generator, device):
    return {
        name: var.sde.prior_sampling((batch_size, *var.shape), node_mask, var.symmetric, generator, device)
        for name, var in variables.items()
    }


@torch.no_grad()
def sample_pc(
    score_fn: ScoreFn,
    variables: dict[str, Variable],
    batch_size: int,
    node_mask: torch.Tensor | None = None,
    predictor: str = "reverse",
    corrector: str = "langevin",
    snr: float = 0.2,
    scale_eps: float = 0.7,
    corrector_steps: int = 1,
    eps: float = 1e-3,
    num_steps: int | None = None,
    denoise: bool = True,
    generator: torch.Generator | None = None,
    device=None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, torch.Tensor]:
    """Sample the joint system from its prior down to t = eps. Returns the final (mean) state."""
    check_compatible(variables, predictor, corrector)
    state = _prior(variables, batch_size, node_mask, generator, device)
    means = dict(state)
    for t in _reverse_times(_num_steps(variables, num_steps), eps, batch_size, device, progress):
        # 1. corrector: Langevin steps on every variable from the same snapshot of the state
        for _ in range(corrector_steps if corrector == "langevin" else 0):
            scores = score_fn(state, t)
            state, means = _update_all(variables, state, scores, node_mask, generator, lambda v, x, s, z: _correct(v, x, s, t, z, snr, scale_eps))
        # 2. predictor: one reverse-time step
        if predictor != "none":
            scores = score_fn(state, t)
            state, means = _update_all(variables, state, scores, node_mask, generator, lambda v, x, s, z: _predict(predictor, v, x, s, t, z))
    return means if denoise else state


def _num_steps(variables, num_steps: int | None) -> int:
    return num_steps or max(var.sde.N for var in variables.values())


def _reverse_times(steps: int, eps: float, batch_size: int, device, progress):
    """Times 1 -> eps as (B,) tensors; each finished step is reported to ``progress``."""
    for i, time in enumerate(torch.linspace(1.0, eps, steps, dtype=torch.float64).tolist()):
        yield torch.full((batch_size,), time, device=device)
        if progress is not None:
            progress(i)


def _update_all(variables, state, scores, node_mask, generator, update):
    new_state, new_means = {}, {}
    for name, var in variables.items():
        noise = _noise(state[name], var, node_mask, generator)
        new_state[name], new_means[name] = update(var, state[name], scores[name], noise)
    return new_state, new_means


@torch.no_grad()
def sample_s4(
    score_fn: ScoreFn,
    variables: dict[str, Variable],
    batch_size: int,
    node_mask: torch.Tensor | None = None,
    snr: float = 0.2,
    scale_eps: float = 0.7,
    eps: float = 1e-3,
    num_steps: int | None = None,
    denoise: bool = True,
    generator: torch.Generator | None = None,
    device=None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, torch.Tensor]:
    """GDSS's S4 solver: per step one score evaluation, a Langevin correction, then a split
    prediction (half transition, score drift, half transition) with the SDE's transition kernel."""
    steps = _num_steps(variables, num_steps)
    dt = 1.0 / steps
    state = _prior(variables, batch_size, node_mask, generator, device)
    means = dict(state)
    for t in _reverse_times(steps, eps, batch_size, device, progress):
        scores = score_fn(state, t)
        # 1. the score drift of the reverse SDE, frozen for this step
        drifts = {n: -_expand(v.sde.sde(state[n], t)[1] ** 2, state[n]) * scores[n] for n, v in variables.items()}
        # 2. Langevin correction with the same scores
        state, _ = _update_all(variables, state, scores, node_mask, generator, lambda v, x, s, z: _correct(v, x, s, t, z, snr, scale_eps))
        # 3. prediction: half transition, drift, half transition
        for name, var in variables.items():
            x = _s4_half(var, state[name], t, dt / 2, node_mask, generator)
            x = x - drifts[name] * dt
            mean, std = var.sde.transition(x, t - dt / 2, dt / 2)
            state[name] = mean + _expand(std, x) * _noise(x, var, node_mask, generator)
            means[name] = mean
    return means if denoise else state


def _s4_half(var, x, t, half, node_mask, generator):
    mean, std = var.sde.transition(x, t, half)
    return mean + _expand(std, x) * _noise(x, var, node_mask, generator)
