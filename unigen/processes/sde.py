"""Continuous-time noise processes (Song et al. 2021) over node features X and adjacency A.

GDSS diffuses X (B, N, F) and A (B, N, N) with one SDE each. Everything about a schedule
(drift, diffusion, marginals, priors, discretisation, the S4 transition) lives here; score
models and samplers only call these methods. Generic: tensors and masks, no chemistry.

Shapes:
    x          (B, N, F) node features, or (B, N, N) adjacency when ``symmetric``
    t          (B,)      time in [eps, T]
    node_mask  (B, N)    1 for real nodes, 0 for padding (optional everywhere)

Masking rule: noise is zero on padded nodes, and adjacency noise is symmetric with a zero
diagonal, so a noised adjacency stays a valid (weighted) undirected graph.
"""

from __future__ import annotations

import copy
import math
from abc import ABC, abstractmethod

import torch


def _expand(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """(B,) -> (B, 1, ..., 1) broadcastable against ``like``."""
    return v.reshape(-1, *([1] * (like.dim() - 1)))


def mask_noise(noise: torch.Tensor, node_mask: torch.Tensor | None, symmetric: bool) -> torch.Tensor:
    """Zero noise on padding; for adjacency make it symmetric (upper triangle mirrored, zero diagonal)."""
    if symmetric:
        upper = noise.triu(1)
        noise = upper + upper.transpose(-1, -2)
    if node_mask is None:
        return noise
    m = node_mask.to(noise.dtype)
    if symmetric:
        return noise * m.unsqueeze(-1) * m.unsqueeze(-2)
    return noise * m.unsqueeze(-1)


class SDE(ABC):
    """dx = f(x, t) dt + g(t) dw on t in [0, T], discretised into ``num_scales`` steps.

    Besides the schedule, an SDE answers what samplers ask, so no sampler branches on its type:
    ``with_steps`` (another discretisation), ``ancestral_step``, ``langevin_alpha`` and
    ``output_to_score`` (how a score network's output is read).
    """

    T = 1.0
    has_ancestral = False  # whether ``ancestral_step`` exists for this SDE

    def __init__(self, num_scales: int = 1000):
        self.N = int(num_scales)

    def with_steps(self, steps: int) -> SDE:
        """The same SDE discretised into ``steps`` steps (a copy; ``self`` is unchanged)."""
        if steps < 1:
            raise ValueError(f"steps must be a positive integer, got {steps}")
        clone = copy.copy(self)
        clone.N = int(steps)
        return clone

    def ancestral_step(self, x, t, score, noise) -> tuple[torch.Tensor, torch.Tensor]:
        """One ancestral-sampling move x_i -> x_{i-1}. Returns (x, mean)."""
        raise NotImplementedError(f"{type(self).__name__} has no ancestral sampling form")

    def langevin_alpha(self, t: torch.Tensor) -> torch.Tensor:
        """alpha_i of the annealed Langevin step size (score_sde): 1, or 1 - beta_i for VP."""
        return torch.ones_like(t)

    def output_to_score(self, out: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The score from a network output. Default (VP-type, GDSS): the network predicts the noise z,
        score = -z / std(t)."""
        std = self.marginal_prob(torch.zeros_like(t), t)[1]
        return -out / _expand(std, out)

    @abstractmethod
    def sde(self, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Drift f(x, t) (shape of x) and diffusion g(t) (B,)."""

    @abstractmethod
    def marginal_prob(self, x0: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean (shape of x0) and std (B,) of p_t(x | x0), which is Gaussian for all three SDEs."""

    @abstractmethod
    def prior_std(self) -> float:
        """Std of the prior p_T."""

    @abstractmethod
    def discretize(self, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One step of the discretised forward chain: x_{i+1} = x_i + f_i + G_i z. Returns (f_i, G_i (B,))."""

    @abstractmethod
    def transition(self, x: torch.Tensor, t: torch.Tensor, dt: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and std (B,) of the backward move x_t -> x_{t-dt} under the forward kernel, used by S4."""

    def prior_sampling(
        self, shape, node_mask=None, symmetric=False, generator=None, device=None
    ) -> torch.Tensor:
        noise = torch.randn(shape, generator=generator, device=device) * self.prior_std()
        return mask_noise(noise, node_mask, symmetric)

    def sample_marginal(self, x0, t, node_mask=None, symmetric=False, generator=None):
        """Draw x_t ~ p_t(x | x0) with masked (and, for A, symmetric) noise. Returns (x_t, noise, std)."""
        mean, std = self.marginal_prob(x0, t)
        noise = mask_noise(
            torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype), node_mask, symmetric
        )
        return mean + _expand(std, x0) * noise, noise, std

    def reverse_discretize(self, x, t, score, probability_flow: bool = False):
        """Reverse-diffusion predictor terms: (x_i - rev_f) is the mean, rev_G the noise scale."""
        f, G = self.discretize(x, t)
        scale = 0.5 if probability_flow else 1.0
        rev_f = f - _expand(G**2, x) * score * scale
        return rev_f, torch.zeros_like(G) if probability_flow else G

    def reverse_sde(self, x, t, score, probability_flow: bool = False):
        """Drift and diffusion of the reverse-time SDE given the score at (x, t)."""
        drift, diffusion = self.sde(x, t)
        scale = 0.5 if probability_flow else 1.0
        drift = drift - _expand(diffusion**2, x) * score * scale
        return drift, torch.zeros_like(diffusion) if probability_flow else diffusion

    def state_dict(self) -> dict:
        return {
            "type": type(self).__name__,
            **{k: v for k, v in vars(self).items() if isinstance(v, (int, float))},
        }

    def timestep_index(self, t: torch.Tensor) -> torch.Tensor:
        # floor, as in score_sde / GDSS, so step i uses the i-th discrete beta / sigma
        return (t * (self.N - 1) / self.T).long().clamp(0, self.N - 1)


class VPSDE(SDE):
    """Variance preserving: beta(t) = beta_min + t (beta_max - beta_min)."""

    has_ancestral = True

    def __init__(self, beta_min: float = 0.1, beta_max: float = 20.0, num_scales: int = 1000):
        super().__init__(num_scales)
        self.beta_min, self.beta_max = float(beta_min), float(beta_max)

    def beta(self, t):
        return self.beta_min + t * (self.beta_max - self.beta_min)

    def log_mean_coeff(self, t):
        return -0.25 * t**2 * (self.beta_max - self.beta_min) - 0.5 * t * self.beta_min

    def sde(self, x, t):
        beta = self.beta(t)
        return -0.5 * _expand(beta, x) * x, beta.sqrt()

    def marginal_prob(self, x0, t):
        lmc = self.log_mean_coeff(t)
        return _expand(lmc.exp(), x0) * x0, (1.0 - (2.0 * lmc).exp()).sqrt()

    def prior_std(self):
        return 1.0

    def discrete_betas(self, index):
        return (
            self.beta_min + index.to(torch.float64) / max(self.N - 1, 1) * (self.beta_max - self.beta_min)
        ) / self.N

    def discretize(self, x, t):
        beta = self.discrete_betas(self.timestep_index(t)).to(x.dtype)
        return _expand((1.0 - beta).sqrt() - 1.0, x) * x, beta.sqrt()

    def ancestral_step(self, x, t, score, noise):
        beta = self.discrete_betas(self.timestep_index(t)).to(x.dtype)
        mean = (x + _expand(beta, x) * score) / _expand((1.0 - beta).sqrt(), x)
        return mean + _expand(beta.sqrt(), x) * noise, mean

    def langevin_alpha(self, t):
        return 1.0 - self.discrete_betas(self.timestep_index(t)).to(t.dtype)

    def transition(self, x, t, dt):
        # log of the forward mean coefficient between t - dt and t
        lmc = self.log_mean_coeff(t) - self.log_mean_coeff(t - dt)
        return _expand((-lmc).exp(), x) * x, (1.0 - (2.0 * lmc).exp()).clamp_min(0).sqrt()


class SubVPSDE(VPSDE):
    """sub-VP: VP drift, diffusion discounted so the marginal variance stays below VP's.

    It has no ancestral form; its Langevin step size uses VP's alpha_i (as score_sde does)."""

    has_ancestral = False

    def ancestral_step(self, x, t, score, noise):
        return SDE.ancestral_step(self, x, t, score, noise)

    def sde(self, x, t):
        beta = self.beta(t)
        discount = 1.0 - torch.exp(-2.0 * self.beta_min * t - (self.beta_max - self.beta_min) * t**2)
        return -0.5 * _expand(beta, x) * x, (beta * discount).sqrt()

    def marginal_prob(self, x0, t):
        lmc = self.log_mean_coeff(t)
        return _expand(lmc.exp(), x0) * x0, 1.0 - (2.0 * lmc).exp()

    def discretize(self, x, t):
        dt = self.T / self.N
        drift, diffusion = self.sde(x, t)
        return drift * dt, diffusion * math.sqrt(dt)

    def transition(self, x, t, dt):
        mean_t, std_t = self.marginal_prob(torch.ones(1, dtype=x.dtype, device=x.device).expand(len(t)), t)
        mean_s, std_s = self.marginal_prob(
            torch.ones(1, dtype=x.dtype, device=x.device).expand(len(t)), t - dt
        )
        ratio = mean_t / mean_s
        return _expand(1.0 / ratio, x) * x, (std_t**2 - ratio**2 * std_s**2).clamp_min(0).sqrt()


class VESDE(SDE):
    """Variance exploding: sigma(t) = sigma_min (sigma_max / sigma_min)^t."""

    has_ancestral = True

    def __init__(self, sigma_min: float = 0.01, sigma_max: float = 50.0, num_scales: int = 1000):
        super().__init__(num_scales)
        self.sigma_min, self.sigma_max = float(sigma_min), float(sigma_max)

    def sigma(self, t):
        return self.sigma_min * (self.sigma_max / self.sigma_min) ** t

    def sde(self, x, t):
        g = self.sigma(t) * math.sqrt(2.0 * (math.log(self.sigma_max) - math.log(self.sigma_min)))
        return torch.zeros_like(x), g

    def marginal_prob(self, x0, t):
        return x0, self.sigma(t)

    def prior_std(self):
        return self.sigma_max

    def discrete_sigmas(self, index):
        ratio = index.to(torch.float64) / max(self.N - 1, 1)
        return self.sigma_min * (self.sigma_max / self.sigma_min) ** ratio

    def discretize(self, x, t):
        index = self.timestep_index(t)
        sigma = self.discrete_sigmas(index)
        previous = torch.where(index == 0, torch.zeros_like(sigma), self.discrete_sigmas(index - 1))
        return torch.zeros_like(x), (sigma**2 - previous**2).sqrt().to(x.dtype)

    def transition(self, x, t, dt):
        return x, (self.sigma(t) ** 2 - self.sigma(t - dt) ** 2).clamp_min(0).sqrt()

    def ancestral_step(self, x, t, score, noise):
        index = self.timestep_index(t)
        sigma = self.discrete_sigmas(index).to(x.dtype)
        previous = torch.where(
            index == 0, torch.zeros_like(sigma), self.discrete_sigmas(index - 1).to(x.dtype)
        )
        mean = x + _expand(sigma**2 - previous**2, x) * score
        std = (previous**2 * (sigma**2 - previous**2) / sigma**2).sqrt()
        return mean + _expand(std, x) * noise, mean

    def output_to_score(self, out, t):
        """VE networks output the score itself (GDSS)."""
        return out


SDES = {"VP": VPSDE, "VE": VESDE, "subVP": SubVPSDE}


def build_sde(kind: str, **kwargs) -> SDE:
    """``build_sde("VE", sigma_min=0.1, sigma_max=1.0, num_scales=1000)``; unknown kinds list the valid ones."""
    if kind not in SDES:
        raise ValueError(f"unknown SDE {kind!r}; valid: {', '.join(SDES)}")
    return SDES[kind](**kwargs)
