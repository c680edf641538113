"""Predictor-corrector samplers for a *system* of SDEs (GDSS: one SDE for X, one for A).

The state is a dict of tensors (e.g. ``{"x": (B, N, F), "adj": (B, N, N)}``), each variable with
its own SDE; one score function returns the scores of all variables jointly, so X and A are
updated from the same snapshot of the state, as in GDSS. The sampler owns the loop; the SDE
owns every schedule formula (``unigen.processes.sde``), so no loop here branches on an SDE type.

    score_fn(state: dict[str, Tensor], t: Tensor (B,)) -> dict[str, Tensor]   # scores, shapes of state

Predictors: ``euler`` (Euler-Maruyama), ``reverse`` (reverse diffusion), ``ancestral``
(ancestral sampling; SDEs with ``has_ancestral``). Corrector: ``langevin`` (annealed Langevin
with a signal-to-noise ratio, GDSS's ``snr`` and ``scale_eps``) or ``none``. ``sample_s4`` is
GDSS's S4 solver (one score evaluation per step: Langevin correction, then a transition-kernel
prediction). Registered samplers (``unigen.samplers``): ``pc``, ``euler``, ``euler-langevin``, ``s4``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable

import torch

from unigen.processes.sde import SDE, _expand, mask_noise
from unigen.samplers.registry import register_sampler

ScoreFn = Callable[[dict, torch.Tensor], dict]


class IncompatibleSampler(ValueError):
    """A predictor / corrector that cannot run with one of the variables' SDEs."""


@dataclass
class Variable:
    """One diffused variable: its SDE, its shape (without batch) and whether it is a symmetric adjacency."""

    sde: SDE
    shape: tuple
    symmetric: bool = False


@dataclass
class SDESampling:
    """What every SDE sampler is told besides the score function.

    steps: reverse-time steps (None: the largest ``N`` of the variables' SDEs); every SDE is
        re-discretised to this many steps, so step sizes and discrete schedules agree.
    snr, scale_eps: Langevin signal-to-noise ratio and noise scale (1.0 unbiased, below 1 colder).
    eps: the last time (sampling runs from T = 1 down to eps).
    node_mask (B, N): padding gets no noise. progress: called with each finished step index.
    """

    steps: int | None = None
    snr: float = 0.2
    scale_eps: float = 0.7
    eps: float = 1e-3
    corrector_steps: int = 1
    denoise: bool = True
    node_mask: torch.Tensor | None = None
    generator: torch.Generator | None = None
    device: torch.device | str | None = None
    progress: Callable[[int], None] | None = None


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
        if predictor == "ancestral" and not var.sde.has_ancestral:
            raise IncompatibleSampler(
                f"ancestral sampling has no {type(var.sde).__name__} form (variable {name!r}); use 'reverse' or 'euler'"
            )


def num_steps(variables: dict[str, Variable], steps: int | None) -> int:
    """The step count a sampler will run: ``steps``, or the finest SDE's ``N``."""
    return int(steps or max(var.sde.N for var in variables.values()))


def _discretised(variables: dict[str, Variable], steps: int) -> dict[str, Variable]:
    return {name: replace(var, sde=var.sde.with_steps(steps)) for name, var in variables.items()}


def _noise(like: torch.Tensor, var: Variable, run: SDESampling) -> torch.Tensor:
    z = torch.randn(like.shape, generator=run.generator, dtype=like.dtype, device=like.device)
    return mask_noise(z, run.node_mask, var.symmetric)


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
        return sde.ancestral_step(x, t, score, noise)
    return x, x


def langevin_step_size(sde: SDE, score, noise, t, snr: float) -> torch.Tensor:
    """GDSS / score_sde step size: (snr * |z| / |score|)^2 * 2 * alpha_i."""
    grad_norm = score.reshape(score.shape[0], -1).norm(dim=-1).mean()
    noise_norm = noise.reshape(noise.shape[0], -1).norm(dim=-1).mean()
    return (snr * noise_norm / grad_norm.clamp_min(1e-12)) ** 2 * 2.0 * sde.langevin_alpha(t)


def _correct(var, x, score, t, noise, run: SDESampling):
    step = _expand(langevin_step_size(var.sde, score, noise, t, run.snr), x)
    mean = x + step * score
    return mean + (2.0 * step).sqrt() * noise * run.scale_eps, mean


def _prior(variables, batch_size, run: SDESampling):
    return {
        name: var.sde.prior_sampling(
            (batch_size, *var.shape), run.node_mask, var.symmetric, run.generator, run.device
        )
        for name, var in variables.items()
    }


def _reverse_times(steps: int, batch_size: int, run: SDESampling):
    """Times 1 -> eps as (B,) tensors; each finished step is reported to ``run.progress``."""
    for i, time in enumerate(torch.linspace(1.0, run.eps, steps, dtype=torch.float64).tolist()):
        yield torch.full((batch_size,), time, device=run.device)
        if run.progress is not None:
            run.progress(i)


def _update_all(variables, state, scores, run: SDESampling, update):
    new_state, new_means = {}, {}
    for name, var in variables.items():
        noise = _noise(state[name], var, run)
        new_state[name], new_means[name] = update(var, state[name], scores[name], noise)
    return new_state, new_means


@torch.no_grad()
def sample_pc(
    score_fn: ScoreFn,
    variables: dict[str, Variable],
    batch_size: int,
    run: SDESampling,
    predictor: str = "reverse",
    corrector: str = "langevin",
) -> dict[str, torch.Tensor]:
    """Sample the joint system from its prior down to t = eps. Returns the final (mean) state."""
    check_compatible(variables, predictor, corrector)
    steps = num_steps(variables, run.steps)
    variables = _discretised(variables, steps)
    state = _prior(variables, batch_size, run)
    means = dict(state)
    for t in _reverse_times(steps, batch_size, run):
        # 1. corrector: Langevin steps on every variable from the same snapshot of the state
        for _ in range(run.corrector_steps if corrector == "langevin" else 0):
            scores = score_fn(state, t)
            state, means = _update_all(
                variables, state, scores, run, lambda v, x, s, z: _correct(v, x, s, t, z, run)
            )
        # 2. predictor: one reverse-time step
        if predictor != "none":
            scores = score_fn(state, t)
            state, means = _update_all(
                variables, state, scores, run, lambda v, x, s, z: _predict(predictor, v, x, s, t, z)
            )
    return means if run.denoise else state


@torch.no_grad()
def sample_s4(
    score_fn: ScoreFn, variables: dict[str, Variable], batch_size: int, run: SDESampling
) -> dict[str, torch.Tensor]:
    """GDSS's S4 solver: per step one score evaluation, a Langevin correction, then a split
    prediction (half transition, score drift, half transition) with the SDE's transition kernel."""
    steps = num_steps(variables, run.steps)
    variables = _discretised(variables, steps)
    dt = 1.0 / steps
    state = _prior(variables, batch_size, run)
    means = dict(state)
    for t in _reverse_times(steps, batch_size, run):
        scores = score_fn(state, t)
        # 1. the score drift of the reverse SDE, frozen for this step
        drifts = {
            n: -_expand(v.sde.sde(state[n], t)[1] ** 2, state[n]) * scores[n] for n, v in variables.items()
        }
        # 2. Langevin correction with the same scores
        state, _ = _update_all(variables, state, scores, run, lambda v, x, s, z: _correct(v, x, s, t, z, run))
        # 3. prediction: half transition, drift, half transition
        for name, var in variables.items():
            x = _transition_sample(var, state[name], t, dt / 2, run)
            x = x - drifts[name] * dt
            mean, std = var.sde.transition(x, t - dt / 2, dt / 2)
            state[name] = mean + _expand(std, x) * _noise(x, var, run)
            means[name] = mean
    return means if run.denoise else state


def _transition_sample(var, x, t, dt, run: SDESampling):
    mean, std = var.sde.transition(x, t, dt)
    return mean + _expand(std, x) * _noise(x, var, run)


# GDSS's sampler names: (predictor, corrector) of sample_pc, plus the S4 solver
for _name, (_predictor, _corrector) in {
    "pc": ("reverse", "langevin"),
    "euler": ("euler", "none"),
    "euler-langevin": ("euler", "langevin"),
}.items():
    register_sampler(_name, "sde", predictor=_predictor, corrector=_corrector)(sample_pc)
register_sampler("s4", "sde")(sample_s4)
