"""Discrete-time categorical diffusion over node and edge types (D3PM / DiGress / USD3).

Each element (a node type, or a pair type of an adjacency) is corrupted independently by
one-step transition matrices Q_t, so q(x_t | x_0) = onehot(x_0) Q_bar_t with
Q_bar_t = Q_1 ... Q_t. The model predicts p(x_0 | x_t); the reverse kernel marginalises the
exact posterior over that prediction. Everything about the schedule lives here: models and
samplers call these methods and never touch alpha_bar or a Q. Generic: tensors and masks,
no chemistry; nodes and edges are simply two instances with their own K and limit.

Shapes (B batch, "..." any element dims: (N,) for nodes, (N, N) for edges, K classes):
    x0, xt      (B, ...)     long class indices
    x0_onehot   (B, ..., K)  float one-hot (or any distribution) over classes
    probs       (B, ..., K)  float categorical probabilities
    p0_logits   (B, ..., K)  model logits for p(x_0 | x_t)
    t           (B,) long in {0..T} (0 = clean), or a Python int shared by the batch
    mask        (B, ...)     1 / True for elements that count, 0 for padding
    Q_t, Q_bar  (B, K, K)    row-stochastic: row i is the distribution of the next state from i

``symmetric=True`` (edges, (B, N, N)) samples the lower triangle and mirrors it, so a sampled
adjacency stays undirected; the diagonal is sampled but meaningless (mask it).
"""

from __future__ import annotations

import inspect
import math
from abc import ABC, abstractmethod
from typing import Literal, Sequence

import torch
import torch.nn.functional as F

LIMITS = ("uniform", "marginal", "absorbing")


def cosine_alpha_bar(num_steps: int, offset: float = 0.008, clip: float = 1e-10) -> torch.Tensor:
    """(T+1,) float64 alpha_bar_t = cos(pi/2 (t/T + a)/(1 + a)) / cos(pi/2 a/(1 + a)), NOT squared.

    PARD's (USD3's) cosine variant, clipped to [clip, 1 - clip] for t >= 1 so alpha_bar_T ~ 0
    (pure noise). alpha_bar_0 is exactly 1, so the per-step Q_t multiply out to Q_bar_t exactly.
    """
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}")
    t = torch.arange(num_steps + 1, dtype=torch.float64) / num_steps
    h = torch.cos((t + offset) / (1 + offset) * math.pi / 2)
    alpha_bar = (h / h[0]).clamp(clip, 1 - clip)
    alpha_bar[0] = 1.0
    return alpha_bar


def sample_categorical(probs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """(..., K) probabilities (need not be normalised) -> (...,) long, by inverse CDF.

    A zero-probability class is never drawn: u is scaled below the last CDF value, and class
    j is chosen only when cdf_{j-1} <= u < cdf_j.
    """
    cdf = probs.cumsum(-1)
    u = torch.rand(probs.shape[:-1], generator=generator, device=probs.device, dtype=probs.dtype)
    u = u.unsqueeze(-1) * cdf[..., -1:]
    return (cdf <= u).sum(-1).clamp_max(probs.shape[-1] - 1)


def symmetrize(x: torch.Tensor) -> torch.Tensor:
    """(..., N, N) -> the lower triangle (with the diagonal) mirrored onto the upper one."""
    return x.tril() + x.tril(-1).transpose(-1, -2)


def _draw(probs: torch.Tensor, generator, symmetric: bool) -> torch.Tensor:
    x = sample_categorical(probs, generator)
    return symmetrize(x) if symmetric else x


def _batched(probs: torch.Tensor, mats: torch.Tensor) -> torch.Tensor:
    """(B, ..., K) @ (B, K, K) -> (B, ..., K): the per-batch matrix applied to every element."""
    flat = probs.reshape(probs.shape[0], -1, probs.shape[-1])
    return (flat @ mats).reshape(*probs.shape[:-1], mats.shape[-1])


def _per_element(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """(B,) -> (B, 1, ..., 1) broadcastable against the element tensor ``like`` (B, ...)."""
    return values.reshape(-1, *([1] * (like.dim() - 1)))


class DiscreteProcess(ABC):
    """A categorical Markov chain x_0 -> x_1 -> ... -> x_T ~ limit, defined by its matrices.

    Subclasses implement the five members below; everything else (marginals, forward
    sampling, the exact and the model posterior, the loss, the ancestral step) is generic
    matrix arithmetic on top. ``num_steps`` (T) and ``num_classes`` (K) are attributes.
    """

    num_steps: int
    num_classes: int
    final_exclude: tuple[int, ...] = ()  # classes the last reverse step never outputs

    @abstractmethod
    def transition(self, t: torch.Tensor) -> torch.Tensor:
        """One-step Q_t for t (B,) long in 1..T -> (B, K, K) float64 (t = 0 gives the identity)."""

    @abstractmethod
    def cumulative(self, t: torch.Tensor) -> torch.Tensor:
        """Q_bar_t = Q_1 ... Q_t for t (B,) long in 0..T -> (B, K, K) float64."""

    @abstractmethod
    def limit(self) -> torch.Tensor:
        """(K,) float64 limiting distribution m: the prior p(x_T)."""

    @abstractmethod
    def with_steps(self, num_steps: int) -> "DiscreteProcess":
        """A copy with ``num_steps`` steps and the same settings otherwise."""

    @abstractmethod
    def state_dict(self) -> dict:
        """Constructor settings as JSON values, with ``"type"`` (for checkpoint cards)."""

    # ---- time ------------------------------------------------------------------------
    def timesteps(self, t: int | torch.Tensor, batch: int, device=None) -> torch.Tensor:
        """Normalise ``t`` (int or (B,)) to a (B,) long tensor, refusing values outside 0..T."""
        t = torch.as_tensor(t, device=device).long()
        t = t.expand(batch) if t.dim() == 0 else t
        if t.shape != (batch,) or bool(((t < 0) | (t > self.num_steps)).any()):
            raise ValueError(
                f"t must be (B,) = ({batch},) with values in 0..{self.num_steps}, got {tuple(t.shape)}"
            )
        return t

    def sample_t(self, batch: int, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
        """(B,) long training times, uniform on 1..T (one per graph, shared by all its blocks)."""
        return torch.randint(1, self.num_steps + 1, (batch,), generator=generator, device=device)

    # ---- forward process ---------------------------------------------------------------
    def q_marginal(self, x0_onehot: torch.Tensor, t) -> torch.Tensor:
        """q(x_t | x_0) = x0_onehot Q_bar_t: (B, ..., K) -> (B, ..., K)."""
        t = self.timesteps(t, x0_onehot.shape[0], x0_onehot.device)
        return _batched(x0_onehot, self.cumulative(t).to(x0_onehot))

    def sample_q(self, x0: torch.Tensor, t, generator=None, symmetric: bool = False) -> torch.Tensor:
        """Draw x_t ~ q(x_t | x_0): (B, ...) long -> (B, ...) long."""
        probs = self.q_marginal(F.one_hot(x0, self.num_classes).float(), t)
        return _draw(probs, generator, symmetric)

    def sample_prior(self, shape, generator=None, device=None, symmetric: bool = False) -> torch.Tensor:
        """Draw x_T ~ m for a tensor of element shape (B, ...) -> (B, ...) long."""
        probs = self.limit().to(device=device, dtype=torch.float32).expand(*shape, self.num_classes)
        return _draw(probs, generator, symmetric)

    # ---- reverse process ---------------------------------------------------------------
    def model_posterior(self, p0: torch.Tensor, xt: torch.Tensor, t) -> torch.Tensor:
        """p(x_{t-1} | x_t) = sum_k p0_k q(x_{t-1} | x_t, x_0 = k) for t >= 1: (B, ..., K).

        With c_j = Q_t[j, x_t] and Z_k = sum_j c_j Q_bar_{t-1}[k, j] = Q_bar_t[k, x_t]:
        p_j = c_j sum_k (p0_k / Z_k) Q_bar_{t-1}[k, j]. A class k that could not have produced
        x_t (Z_k = 0, e.g. absorbing noise) drops out and the result is renormalised; if all
        mass drops out the element keeps x_t. At t = 1 (Q_bar_0 = I) the result is p0 itself.
        """
        t = self.timesteps(t, xt.shape[0], xt.device)
        if bool((t < 1).any()):
            raise ValueError("the posterior needs t >= 1")
        Qt, Qprev = self.transition(t).to(p0), self.cumulative(t - 1).to(p0)
        xt_onehot = F.one_hot(xt, self.num_classes).to(p0)
        c = _batched(xt_onehot, Qt.transpose(1, 2))  # c_j = Q_t[j, x_t]
        z = _batched(c, Qprev.transpose(1, 2))  # Z_k
        weights = torch.where(z > 0, p0 / z.clamp_min(torch.finfo(p0.dtype).tiny), torch.zeros_like(p0))
        out = c * _batched(weights, Qprev)
        total = out.sum(-1, keepdim=True)
        return torch.where(total > 0, out / total.clamp_min(torch.finfo(p0.dtype).tiny), xt_onehot)

    def posterior(self, x0: torch.Tensor, xt: torch.Tensor, t, dtype=torch.float32) -> torch.Tensor:
        """Exact q(x_{t-1} | x_t, x_0) for t >= 1: (B, ...) long, (B, ...) long -> (B, ..., K).

        The Bayes posterior is the model posterior of a prediction that is certain of x_0.
        """
        return self.model_posterior(F.one_hot(x0, self.num_classes).to(dtype), xt, t)

    def step(self, xt: torch.Tensor, p0_logits: torch.Tensor, t, generator=None, symmetric: bool = False):
        """One ancestral step x_t -> x_{t-1} ~ p(x_{t-1} | x_t). Returns (x_{t-1} (B, ...) long, probs (B, ..., K)).

        At t = 1 the draw is x_0 ~ p(x_0 | x_1) with the ``final_exclude`` classes (e.g. PARD's
        virtual class) removed; at t >= 2 they are allowed.
        """
        t = self.timesteps(t, xt.shape[0], xt.device)
        logits = self._exclude_at_end(p0_logits.float(), t)
        probs = self.model_posterior(logits.softmax(-1), xt, t)
        return _draw(probs, generator, symmetric), probs

    def _exclude_at_end(self, logits, t):
        if not self.final_exclude:
            return logits
        banned = torch.zeros(self.num_classes, dtype=torch.bool, device=logits.device)
        banned[list(self.final_exclude)] = True
        last = _per_element(t == 1, logits[..., 0]).unsqueeze(-1)
        return logits.masked_fill(last & banned, float("-inf"))

    # ---- loss --------------------------------------------------------------------------
    def prior_kl(self, x0: torch.Tensor) -> torch.Tensor:
        """KL(q(x_T | x_0) || m) per element: (B, ...) long -> (B, ...) float32 (about 0 once alpha_bar_T ~ 0)."""
        t_end = torch.full((x0.shape[0],), self.num_steps, device=x0.device)
        q = self.q_marginal(F.one_hot(x0, self.num_classes).double(), t_end)
        m = self.limit().to(q).clamp_min(torch.finfo(torch.float32).tiny)
        return (torch.xlogy(q, q) - q * m.log()).sum(-1).float()

    def loss_terms(self, x0, xt, t, p0_logits) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-element (L_vlb, L_CE), each (B, ...) float32 (spec §3.6).

        L_vlb = KL(q(x_{t-1} | x_t, x_0) || p(x_{t-1} | x_t)) for t >= 2, -log p(x_0 | x_1) at
        t = 1, plus the prior term KL(q(x_T | x_0) || m) / T; L_CE = -log p(x_0 | x_t).
        """
        t = self.timesteps(t, x0.shape[0], x0.device)
        log_p0 = p0_logits.float().log_softmax(-1)
        ce = -log_p0.gather(-1, x0.unsqueeze(-1)).squeeze(-1)
        q = self.posterior(x0, xt, t)
        p = self.model_posterior(log_p0.exp(), xt, t)
        kl = (torch.xlogy(q, q) - q * p.clamp_min(torch.finfo(p.dtype).tiny).log()).sum(-1)
        vlb = torch.where(_per_element(t == 1, x0), ce, kl) + self.prior_kl(x0) / self.num_steps
        return vlb, ce

    def loss(self, x0, xt, t, p0_logits, mask=None, ce_weight: float = 0.1) -> torch.Tensor:
        """(B,) per-graph SUM over unmasked elements of L_vlb + ce_weight * L_CE.

        PARD sums over elements and divides by the number of graphs, so ``loss(...).mean()``
        is its training loss; for edges pass a mask that counts each pair once (one triangle).
        """
        vlb, ce = self.loss_terms(x0, xt, t, p0_logits)
        per_element = vlb + ce_weight * ce
        if mask is not None:
            per_element = torch.where(mask.bool(), per_element, torch.zeros_like(per_element))
        return per_element.reshape(per_element.shape[0], -1).sum(-1)


class CategoricalDiffusion(DiscreteProcess):
    """Mixture noise q(x_t | x_0) = alpha_bar_t onehot(x_0) + (1 - alpha_bar_t) m, cosine schedule.

    Q_t = alpha_t I + (1 - alpha_t) 1 m^T with alpha_t = alpha_bar_t / alpha_bar_{t-1}; the
    family is closed under products, so Q_bar_t = alpha_bar_t I + (1 - alpha_bar_t) 1 m^T.

    limit: "uniform" (m = 1/K over ALL classes, a virtual class included, as PARD does),
        "marginal" (m = ``marginal``, e.g. train + val class frequencies) or "absorbing"
        (m = onehot(``absorbing_state``), default the last class; D3PM's absorbing chain).
    final_exclude: classes the last reverse step never outputs (PARD's virtual class); the
        absorbing state is always excluded as well.
    cosine_offset: the a = 0.008 of the cosine schedule.
    """

    def __init__(
        self,
        num_classes: int,
        num_steps: int = 50,
        limit: Literal["uniform", "marginal", "absorbing"] = "uniform",
        marginal: Sequence[float] | torch.Tensor | None = None,
        absorbing_state: int | None = None,
        final_exclude: Sequence[int] = (),
        cosine_offset: float = 0.008,
    ):
        if limit not in LIMITS:
            raise ValueError(f"unknown limit {limit!r}; valid: {', '.join(LIMITS)}")
        self.num_classes, self.num_steps = int(num_classes), int(num_steps)
        self.limit_kind, self.cosine_offset = limit, float(cosine_offset)
        self.marginal = (
            None
            if marginal is None
            else [float(p) for p in torch.as_tensor(marginal, dtype=torch.float64).flatten()]
        )
        self.absorbing_state = absorbing_state
        self._m = self._limit_probs()
        absorbing = (self._absorbing(),) if limit == "absorbing" else ()
        self.final_exclude = tuple(sorted({int(k) for k in (*final_exclude, *absorbing)}))
        self.alpha_bar = cosine_alpha_bar(self.num_steps, self.cosine_offset)
        alpha = torch.cat([torch.ones(1, dtype=torch.float64), self.alpha_bar[1:] / self.alpha_bar[:-1]])
        self._Q, self._Qbar = self._mixture(alpha), self._mixture(self.alpha_bar)

    def _absorbing(self) -> int:
        state = self.num_classes - 1 if self.absorbing_state is None else int(self.absorbing_state)
        if not 0 <= state < self.num_classes:
            raise ValueError(f"absorbing_state must be in 0..{self.num_classes - 1}, got {state}")
        return state

    def _limit_probs(self) -> torch.Tensor:
        if self.limit_kind == "uniform":
            return torch.full((self.num_classes,), 1.0 / self.num_classes, dtype=torch.float64)
        if self.limit_kind == "absorbing":
            return F.one_hot(torch.tensor(self._absorbing()), self.num_classes).double()
        m = torch.tensor(self.marginal or [], dtype=torch.float64)
        if m.shape != (self.num_classes,) or bool((m < 0).any()) or m.sum() <= 0:
            raise ValueError(
                f"limit='marginal' needs `marginal`: {self.num_classes} non-negative weights, not all 0"
            )
        return m / m.sum()

    def _mixture(self, keep: torch.Tensor) -> torch.Tensor:
        """(T+1,) keep probabilities -> (T+1, K, K) matrices keep I + (1 - keep) 1 m^T."""
        eye = torch.eye(self.num_classes, dtype=torch.float64)
        keep = keep[:, None, None]
        return keep * eye + (1 - keep) * self._m[None, None, :]

    def transition(self, t):
        return self._Q.to(t.device)[t]

    def cumulative(self, t):
        return self._Qbar.to(t.device)[t]

    def limit(self):
        return self._m.clone()

    def config(self) -> dict:
        """Constructor arguments, JSON-serialisable."""
        return {
            "num_classes": self.num_classes,
            "num_steps": self.num_steps,
            "limit": self.limit_kind,
            "marginal": self.marginal,
            "absorbing_state": self.absorbing_state,
            "final_exclude": list(self.final_exclude),
            "cosine_offset": self.cosine_offset,
        }

    def with_steps(self, num_steps: int) -> "CategoricalDiffusion":
        return type(self)(**{**self.config(), "num_steps": num_steps})

    def state_dict(self) -> dict:
        return {"type": type(self).__name__, **self.config()}

    @classmethod
    def from_state_dict(cls, state: dict) -> "CategoricalDiffusion":
        settings = {key: value for key, value in state.items() if key != "type"}
        valid = set(inspect.signature(cls).parameters)
        if state.get("type") != cls.__name__ or not set(settings) <= valid:
            raise ValueError(f"not a {cls.__name__} state; valid keys: type, {', '.join(sorted(valid))}")
        return cls(**settings)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(K={self.num_classes}, T={self.num_steps}, limit={self.limit_kind!r})"
