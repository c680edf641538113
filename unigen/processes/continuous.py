"""Per-token Gaussian diffusion (DDPM) for UniGenX's numeric slots, with learned variance.

One small diffusion per slot (spec A4, A6): a cosine schedule over T = 1000 steps,
epsilon prediction and IDDPM's learned-range variance (Nichol & Dhariwal 2021). The head
outputs eps and a raw variance value v per number and knows nothing of the schedule; every
schedule quantity lives here. Pure tensor arithmetic: no chemistry, data or models.

Shapes (M noisy samples = slots x copies, flattened; D numbers per slot, 3 in UniGenX):
    x0, x_t, noise, eps, v   (M, D)  (any (M, ...) works: coefficients broadcast over M)
    t                        (M,)    int64 timesteps of the *training* chain, 0..T-1; an int
                                     is broadcast. The head always receives these.
    per-sample losses        (M,)    mean over the D numbers

Training: ``t = sample_t(M)``, ``x_t = add_noise(x0, t, noise)``, head(x_t, t, z) -> (eps, v),
``loss(x0, x_t, t, noise, eps, v)["loss"].mean()``.
Sampling: ``fast = process.with_steps(100)``; from ``x = fast.prior(shape)`` loop
``for t in fast.timesteps.flip(0)`` with ``x, mean = fast.ddpm_step(x, t, eps, v)`` (or
``ddim_step``). A respaced process recomputes beta on the kept subsequence,
beta'_k = 1 - abar(t_k) / abar(t_{k-1}); the head still sees the original t_k.

Learned variance: log sigma^2 = f log beta_t + (1 - f) log beta~_t with f = (v + 1) / 2, so
v = 1 gives beta_t and v = -1 the posterior variance beta~_t (whose first entry, 0, is
replaced by the second before the log). ``learned_variance=False`` fixes sigma^2 = beta_t
(first entry beta~_1: IDDPM's "fixed large", MAR's default for a head without sigma).
"""

from __future__ import annotations

import math

import torch

BIN_HALF_WIDTH = 1.0 / 255.0  # IDDPM's discretised decoder at t = 0 (an image-data quirk, kept as in UniGenX)


def cosine_alpha_bar(num_steps: int, max_beta: float = 0.999, offset: float = 0.008) -> torch.Tensor:
    """(T,) float64 cumulative alpha of the cosine schedule (Nichol & Dhariwal eq. 17).

    abar(s) = cos^2(((s + offset) / (1 + offset)) pi / 2); beta_i = min(1 - abar((i+1)/T) / abar(i/T),
    max_beta); the returned abar_i = prod_{j <= i} (1 - beta_j), so abar_0 < 1 is the first noisy step.
    """
    s = torch.arange(num_steps + 1, dtype=torch.float64) / num_steps
    f = torch.cos((s + offset) / (1 + offset) * math.pi / 2) ** 2
    betas = (1 - f[1:] / f[:-1]).clamp(max=max_beta)
    return torch.cumprod(1 - betas, dim=0)


def space_timesteps(num_train_steps: int, num_steps: int) -> torch.Tensor:
    """(K,) int64 evenly spaced kept timesteps, rounded, from 0 to T-1 (IDDPM's respacing);
    a single step keeps T-1 so sampling still starts from noise."""
    if not 1 <= num_steps <= num_train_steps:
        raise ValueError(f"number of sampling steps must be in 1..{num_train_steps}, got {num_steps}")
    if num_steps == 1:
        return torch.tensor([num_train_steps - 1])
    stride = (num_train_steps - 1) / (num_steps - 1)
    return torch.round(torch.arange(num_steps, dtype=torch.float64) * stride).long()


def normal_kl(mean1, log_var1, mean2, log_var2) -> torch.Tensor:
    """Elementwise KL( N(mean1, e^log_var1) || N(mean2, e^log_var2) ) in nats."""
    return 0.5 * (
        -1.0
        + log_var2
        - log_var1
        + torch.exp(log_var1 - log_var2)
        + (mean1 - mean2) ** 2 * torch.exp(-log_var2)
    )


def discretized_gaussian_nll(x, mean, log_var) -> torch.Tensor:
    """Elementwise -log P(x) of N(mean, e^log_var) on bins of width 2/255, open-ended beyond +-0.999 (nats)."""
    inv_std = torch.exp(-0.5 * log_var)
    cdf_plus = torch.special.ndtr(inv_std * (x - mean + BIN_HALF_WIDTH))
    cdf_minus = torch.special.ndtr(inv_std * (x - mean - BIN_HALF_WIDTH))
    log_prob = torch.where(
        x < -0.999,
        torch.log(cdf_plus.clamp(min=1e-12)),
        torch.where(
            x > 0.999,
            torch.log((1 - cdf_minus).clamp(min=1e-12)),
            torch.log((cdf_plus - cdf_minus).clamp(min=1e-12)),
        ),
    )
    return -log_prob


def _mean_over_numbers(x: torch.Tensor) -> torch.Tensor:
    """(M, ...) -> (M,) mean over everything but the sample axis."""
    return x.reshape(len(x), -1).mean(dim=1)


def _clip(x0: torch.Tensor, bound) -> torch.Tensor:
    return x0 if bound is None else x0.clamp(-bound, bound)


def _column(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """(M,) -> (M, 1, ..., 1) broadcastable against like."""
    return values.reshape(-1, *([1] * (like.dim() - 1)))


class GaussianDiffusion:
    """Discrete-time DDPM on numeric slots: schedule, corruption, hybrid loss, DDPM and DDIM steps.

    Args:
        num_train_steps: T of the training chain (1000).
        learned_variance: head outputs v (learned-range sigma) and the loss adds the vb term.
        vlb_weight: lambda of L_simple + lambda L_vb (1: UniGenX's plain MSE loss type).
        sampling_steps: kept timesteps for sampling (None = all T); see ``with_steps``.
    """

    def __init__(
        self,
        num_train_steps: int = 1000,
        learned_variance: bool = True,
        vlb_weight: float = 1.0,
        sampling_steps: int | None = None,
    ):
        self.num_train_steps, self.learned_variance = int(num_train_steps), bool(learned_variance)
        self.vlb_weight, self.sampling_steps = float(vlb_weight), sampling_steps
        self.train_alpha_bar = cosine_alpha_bar(self.num_train_steps)
        self.timesteps = space_timesteps(
            self.num_train_steps, self.num_train_steps if sampling_steps is None else sampling_steps
        )
        self._set_chain(self.train_alpha_bar[self.timesteps])

    def _set_chain(self, alpha_bar: torch.Tensor) -> None:
        """Every (K,) float64 table of the kept chain, from its cumulative alphas."""
        previous = torch.cat([alpha_bar.new_ones(1), alpha_bar[:-1]])
        self.alpha_bar, self.alpha_bar_prev = alpha_bar, previous
        self.betas = 1 - alpha_bar / previous
        self.posterior_variance = self.betas * (1 - previous) / (1 - alpha_bar)
        first = self.posterior_variance[1:2] if len(alpha_bar) > 1 else self.betas[:1]
        self.log_posterior_variance = torch.log(torch.cat([first, self.posterior_variance[1:]]))
        self.log_betas = torch.log(self.betas)
        self.fixed_log_variance = torch.log(torch.cat([first, self.betas[1:]]))
        self.posterior_coef_x0 = self.betas * previous.sqrt() / (1 - alpha_bar)
        self.posterior_coef_xt = (1 - previous) * (1 - self.betas).sqrt() / (1 - alpha_bar)
        self._step_of = torch.full((self.num_train_steps,), -1, dtype=torch.long)
        self._step_of[self.timesteps] = torch.arange(len(self.timesteps))

    def config(self) -> dict:
        """Constructor arguments (JSON-able; what a checkpoint card stores)."""
        return {
            "num_train_steps": self.num_train_steps,
            "learned_variance": self.learned_variance,
            "vlb_weight": self.vlb_weight,
            "sampling_steps": self.sampling_steps,
        }

    def with_steps(self, num_steps: int) -> "GaussianDiffusion":
        """The same process respaced to ``num_steps`` kept timesteps, as a new object."""
        return GaussianDiffusion(**(self.config() | {"sampling_steps": int(num_steps)}))

    @property
    def num_steps(self) -> int:
        """Number of sampling steps K (len(timesteps))."""
        return len(self.timesteps)

    @property
    def output_channels_per_number(self) -> int:
        """What the head emits per slot number: eps, plus v with learned variance."""
        return 2 if self.learned_variance else 1

    # -- indexing ------------------------------------------------------------------------

    def _at(self, table: torch.Tensor, t, like: torch.Tensor, chain: bool = True) -> torch.Tensor:
        """table[step of t] as (M, 1, ...) in like's dtype; chain=False reads the training chain by t."""
        return _column(table[self._index(t, len(like), chain)].to(like), like)

    def _is_last(self, t, like: torch.Tensor) -> torch.Tensor:
        """(M, 1, ...) bool: t is the first kept timestep, i.e. the final sampling step."""
        return _column(self._index(t, len(like)).eq(0).to(like.device), like)

    def _index(self, t, count: int, chain: bool = True) -> torch.Tensor:
        """(M,) row of each timestep in the kept chain (or t itself); ValueError when t is not kept."""
        t = torch.as_tensor(t, device=self._step_of.device).long().expand(count)
        if (t < 0).any() or (t >= self.num_train_steps).any():
            raise ValueError(f"timesteps must lie in 0..{self.num_train_steps - 1}")
        if not chain:
            return t
        index = self._step_of[t]
        if (index < 0).any():
            raise ValueError(
                f"timestep {int(t[index < 0][0])} is not one of this process's {self.num_steps} kept steps"
            )
        return index

    # -- forward process -----------------------------------------------------------------

    def sample_t(self, num_samples: int, generator=None, device=None) -> torch.Tensor:
        """(M,) training timesteps, uniform over 0..T-1."""
        return torch.randint(0, self.num_train_steps, (num_samples,), generator=generator, device=device)

    def add_noise(self, x0: torch.Tensor, t, noise: torch.Tensor) -> torch.Tensor:
        """x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise, on the training chain (any t in 0..T-1)."""
        alpha_bar = self._at(self.train_alpha_bar, t, x0, chain=False)
        return alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * noise

    def prior(self, shape, generator=None, device=None, dtype=torch.float32) -> torch.Tensor:
        """x_T ~ N(0, I)."""
        return torch.randn(shape, generator=generator, device=device, dtype=dtype)

    def posterior(self, x0: torch.Tensor, x_t: torch.Tensor, t) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and variance (M, 1, ...) of q(x_{t_prev} | x_t, x0) on the kept chain."""
        mean = self._at(self.posterior_coef_x0, t, x_t) * x0 + self._at(self.posterior_coef_xt, t, x_t) * x_t
        return mean, self._at(self.posterior_variance, t, x_t)

    # -- the model's distribution ---------------------------------------------------------

    def predict_x0(self, x_t: torch.Tensor, t, eps: torch.Tensor) -> torch.Tensor:
        """x0 implied by eps: (x_t - sqrt(1 - abar) eps) / sqrt(abar). No clipping (spec A6)."""
        alpha_bar = self._at(self.alpha_bar, t, x_t)
        return (x_t - (1 - alpha_bar).sqrt() * eps) / alpha_bar.sqrt()

    def log_variance(self, t, v: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
        """log sigma^2_t: interpolated by f = (v + 1) / 2 between log beta~ (v = -1) and log beta (v = 1)."""
        if not self.learned_variance:
            return self._at(self.fixed_log_variance, t, like).expand_as(like)
        if v is None:
            raise ValueError("this process learns the variance: pass the head's v output")
        f = (v + 1) / 2
        return f * self._at(self.log_betas, t, like) + (1 - f) * self._at(
            self.log_posterior_variance, t, like
        )

    def p_mean_log_variance(self, x_t, t, eps, v=None, clip_x0=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log variance of p(x_{t_prev} | x_t), both shaped like x_t; ``clip_x0`` = c clamps
        the implied x0 to [-c, c] first (IDDPM's ``clip_denoised``; None: no clipping, as UniGenX)."""
        mean, _ = self.posterior(_clip(self.predict_x0(x_t, t, eps), clip_x0), x_t, t)
        return mean, self.log_variance(t, v, x_t)

    # -- loss -----------------------------------------------------------------------------

    def loss(self, x0, x_t, t, noise, eps, v=None) -> dict[str, torch.Tensor]:
        """Hybrid loss per sample (M,): ``mse`` + vlb_weight * ``vb`` = ``loss``.

        vb (bits per number) is KL(q(x_{t-1} | x_t, x0) || p) with the mean from a *detached*
        eps, so it trains only the variance; at t = 0 it is the discretised decoder NLL.
        Without learned variance, vb is 0. t must be kept steps (all are, on the training chain).
        """
        mse = _mean_over_numbers((noise - eps) ** 2)
        if not self.learned_variance:
            return {"loss": mse, "mse": mse, "vb": torch.zeros_like(mse)}
        vb = self.vb_bits(x0, x_t, t, eps.detach(), v)
        return {"loss": mse + self.vlb_weight * vb, "mse": mse, "vb": vb}

    def vb_bits(self, x0, x_t, t, eps, v=None) -> torch.Tensor:
        """(M,) the ELBO term of kept step t in bits per number: KL(q(x_{t_prev} | x_t, x0) || p),
        or the discretised decoder NLL at the last step. Summed over the kept steps (x_t ~ q(x_t | x0)
        each) it is the chain's negative ELBO without the prior term, a likelihood bound to rank by."""
        true_mean, _ = self.posterior(x0, x_t, t)
        true_log_var = self._at(self.log_posterior_variance, t, x_t).expand_as(x_t)
        mean, log_var = self.p_mean_log_variance(x_t, t, eps, v)
        kl = normal_kl(true_mean, true_log_var, mean, log_var)
        nll = discretized_gaussian_nll(x0, mean, log_var)
        return _mean_over_numbers(torch.where(self._is_last(t, x_t), nll, kl)) / math.log(2.0)

    # -- sampling steps ---------------------------------------------------------------------

    def ddpm_step(
        self, x_t, t, eps, v=None, noise=None, generator=None, temperature: float = 1.0, clip_x0=None
    ):
        """Ancestral step x_t -> x_{t_prev} ~ p; no noise at the last kept step. Returns (sample, mean).

        Why ``clip_x0`` exists: at t = T - 1 the cosine schedule has abar ~ 2e-9, so the implied x0
        is (x_t - eps) / 4.9e-5 and an error of 0.01 in eps moves the first mean by ~3 (100 steps:
        sqrt(abar(989) / abar(999)) ~ 316); a small, briefly trained head then starts off its data.
        """
        mean, log_var = self.p_mean_log_variance(x_t, t, eps, v, clip_x0)
        noise = self._noise(x_t, noise, generator) * temperature
        return mean + torch.where(self._is_last(t, x_t), 0.0, torch.exp(0.5 * log_var)) * noise, mean

    def ddim_step(self, x_t, t, eps, eta: float = 0.0, noise=None, generator=None, clip_x0=None):
        """DDIM step x_t -> x_{t_prev} (Song et al. 2021, eq. 12); eta = 0 is deterministic,
        eta = 1 has DDPM's posterior-variance noise; ``clip_x0`` as in ``ddpm_step`` (eps is then
        re-derived from the clipped x0). Returns (sample, mean)."""
        alpha_bar, previous = self._at(self.alpha_bar, t, x_t), self._at(self.alpha_bar_prev, t, x_t)
        x0 = self.predict_x0(x_t, t, eps)
        if clip_x0 is not None:
            x0 = _clip(x0, clip_x0)
            eps = (x_t - alpha_bar.sqrt() * x0) / (1 - alpha_bar).sqrt()
        sigma = eta * ((1 - previous) / (1 - alpha_bar) * (1 - alpha_bar / previous)).sqrt()
        mean = previous.sqrt() * x0 + (1 - previous - sigma**2).clamp(min=0).sqrt() * eps
        if eta == 0:
            return mean, mean
        return mean + sigma * self._noise(x_t, noise, generator), mean

    @staticmethod
    def _noise(like: torch.Tensor, noise, generator) -> torch.Tensor:
        if noise is not None:
            return noise
        return torch.randn(like.shape, generator=generator, device=like.device, dtype=like.dtype)
