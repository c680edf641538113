"""Symmetry and leakage checks that every model family must pass (public test API).

Each helper calls ``fn(**inputs)`` on the original and on transformed inputs and raises an
``AssertionError`` that names the output and the largest error when the outputs do not
transform as declared. ``fn`` may return a tensor, a tuple or list of tensors, a mapping, or
a dataclass such as :class:`unigen.backbone.BackboneOutput`; ``None`` fields are skipped.
Output specs (node axes, kinds) are either one value applied to every output or a mapping
from output name (dataclass field or mapping key; tuple index; ``"out"`` for a lone tensor)
to a value.

- :func:`assert_permutation_equivariant`: relabel nodes, outputs relabel the same way.
- :func:`assert_e3_equivariant`: rotations, reflections, translations; for crystals changes
  of lattice basis and moving atoms by lattice vectors.
- :func:`assert_no_future_leak`: perturb later (or invisible) nodes, earlier outputs stay.

Run them in float64 so that a violation cannot hide behind round-off (errors ~1e-12).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

import torch
from torch import Tensor

Axes = int | Sequence[int] | None
Kind = Literal["invariant", "vector", "position", "lattice"]
E3_CHECKS = ("rotation", "reflection", "translation", "lattice_basis", "lattice_shift")

__all__ = [
    "E3_CHECKS",
    "FamilyContract",
    "assert_e3_equivariant",
    "assert_no_future_leak",
    "assert_permutation_equivariant",
]


# -- output handling ------------------------------------------------------------------------


def _flatten(out: Any) -> dict[Any, Tensor]:
    """Name every tensor an ``fn`` returns."""
    if isinstance(out, Tensor):
        items = {"out": out}
    elif dataclasses.is_dataclass(out):
        items = {f.name: getattr(out, f.name) for f in dataclasses.fields(out)}
    elif isinstance(out, Mapping):
        items = dict(out)
    elif isinstance(out, (tuple, list)):
        items = dict(enumerate(out))
    else:
        raise TypeError(
            f"fn must return tensors (a tensor, tuple, mapping or dataclass), got {type(out).__name__}"
        )
    return {k: v for k, v in items.items() if isinstance(v, Tensor)}


def _spec(spec: Any, key: Any, default: Any = None) -> Any:
    return spec.get(key, default) if isinstance(spec, Mapping) else spec


def _axes(axes: Axes) -> tuple[int, ...]:
    if axes is None:
        return ()
    return (axes,) if isinstance(axes, int) else tuple(axes)


def _compare(
    what: str, key: Any, got: Tensor, expected: Tensor, atol: float, where: Tensor | None = None
) -> float:
    """Largest absolute difference (optionally only where ``where`` is True); raise above ``atol``."""
    if got.shape != expected.shape:
        raise AssertionError(
            f"{what}: output {key!r} has shape {tuple(got.shape)}, expected {tuple(expected.shape)}"
        )
    diff = (got.detach() - expected.detach()).abs()
    if where is not None:
        diff = diff * where.expand_as(diff).to(diff.dtype)
    err = float(diff.max()) if diff.numel() else 0.0
    if not err <= atol:  # also catches NaN
        raise AssertionError(f"{what}: output {key!r} max error {err:.3e} > atol {atol:.1e}")
    return err


# -- permutations ---------------------------------------------------------------------------


def _permute(t: Tensor, axes: Axes, perm: Tensor) -> Tensor:
    for a in _axes(axes):
        t = t.index_select(a, perm.to(t.device))
    return t


def _node_count(inputs: Mapping[str, Any], node_axes: Mapping[str, Axes]) -> int:
    sizes = {inputs[k].shape[a] for k, axes in node_axes.items() for a in _axes(axes)}
    if len(sizes) != 1:
        raise ValueError(f"node axes disagree on the number of nodes: {sorted(sizes)}")
    return sizes.pop()


def assert_permutation_equivariant(
    fn: Callable[..., Any],
    inputs: Mapping[str, Any],
    *,
    node_axes: Mapping[str, Axes],
    output_node_axes: Axes | Mapping[Any, Axes] = 1,
    index_inputs: Iterable[str] = (),
    n_trials: int = 2,
    atol: float = 1e-6,
    generator: torch.Generator | None = None,
) -> float:
    """Check ``fn(**permuted inputs) == permuted fn(**inputs)`` for random node permutations.

    Args:
        fn: the model call, ``fn(**inputs)``.
        inputs: keyword arguments; tensors not named in ``node_axes`` pass unchanged.
        node_axes: input name -> node axis or axes, e.g. ``{"h": 1, "node_mask": 1,
            "pair": (1, 2)}`` for ``(B, N, ...)`` / ``(B, N, N, p)`` tensors, ``{"h": 0}`` for a
            flat ``(N, ...)`` batch. The same permutation applies along every listed axis.
        output_node_axes: output name -> node axes (``None`` / ``()``: invariant output).
        index_inputs: names of integer tensors holding node indices (``edge_index (2, E)``):
            their values are relabelled instead of their order being changed.
        n_trials, atol, generator: number of permutations, tolerance, random source.
    Returns:
        The largest error seen.
    """
    n = _node_count(inputs, node_axes)
    reference = _flatten(fn(**inputs))
    worst = 0.0
    for _ in range(n_trials):
        perm = torch.randperm(n, generator=generator)
        inverse = torch.empty_like(perm)
        inverse[perm] = torch.arange(n)
        moved = {k: _permute(v, node_axes[k], perm) if k in node_axes else v for k, v in inputs.items()}
        for k in index_inputs:
            moved[k] = inverse.to(inputs[k].device)[inputs[k]]
        out = _flatten(fn(**moved))
        for key, ref in reference.items():
            expected = _permute(ref, _spec(output_node_axes, key), perm)
            worst = max(worst, _compare("permutation equivariance", key, out[key], expected, atol))
    return worst


# -- E(3) and lattice transformations -------------------------------------------------------


def random_orthogonal(
    proper: bool = True, generator: torch.Generator | None = None, dtype=torch.float64
) -> Tensor:
    """A random 3x3 rotation (``proper``) or rotation-reflection (det -1)."""
    q, r = torch.linalg.qr(torch.randn(3, 3, generator=generator, dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r))
    if torch.det(q) < 0:
        q[:, 0] = -q[:, 0]
    if not proper:
        q = q @ torch.diag(torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64))
    return q.to(dtype)


def random_unimodular(
    generator: torch.Generator | None = None, steps: int = 4, dtype=torch.float64
) -> Tensor:
    """A random integer 3x3 matrix with determinant +-1 (a change of lattice basis)."""
    u = torch.eye(3, dtype=torch.float64)
    for _ in range(steps):
        i, j = torch.randperm(3, generator=generator)[:2].tolist()
        sign = 1.0 if torch.rand(1, generator=generator).item() < 0.5 else -1.0
        u[i] = u[i] + sign * u[j]
    u = u[torch.randperm(3, generator=generator)]
    return u.to(dtype)


def _first(inputs: Mapping[str, Any], kinds: Mapping[str, Kind], kind: str) -> Tensor | None:
    names = [k for k, v in kinds.items() if v == kind and inputs.get(k) is not None]
    return inputs[names[0]] if names else None


def _make_transform(check: str, inputs, input_kinds, generator) -> Callable[[str, Tensor], Tensor]:
    """The map ``(kind, tensor) -> transformed tensor`` of one random instance of ``check``."""
    ref = next(
        (inputs[k] for k, v in input_kinds.items() if v != "invariant" and inputs.get(k) is not None), None
    )
    if ref is None:
        raise ValueError("assert_e3_equivariant needs at least one input of kind vector, position or lattice")
    dtype, device = ref.dtype, ref.device
    if check in ("rotation", "reflection"):
        rot = random_orthogonal(check == "rotation", generator, dtype).to(device)
        return lambda kind, t: t if kind == "invariant" else t @ rot.T
    if check == "translation":
        shift = (2.0 * torch.randn(3, generator=generator, dtype=torch.float64)).to(
            dtype=dtype, device=device
        )
        return lambda kind, t: t + shift if kind == "position" else t
    lattice = _first(inputs, input_kinds, "lattice")
    if lattice is None:
        raise ValueError(f"check {check!r} needs an input of kind 'lattice'")
    if check == "lattice_basis":
        u = random_unimodular(generator, dtype=dtype).to(device)
        return lambda kind, t: u @ t if kind == "lattice" else t
    if check == "lattice_shift":
        return _lattice_shift(inputs, input_kinds, lattice, generator)
    raise ValueError(f"unknown check {check!r}; valid: {', '.join(E3_CHECKS)}")


def _lattice_shift(inputs, input_kinds, lattice: Tensor, generator) -> Callable[[str, Tensor], Tensor]:
    """Move every atom by its own random integer combination of lattice vectors."""
    pos = _first(inputs, input_kinds, "position")
    if pos is None or pos.dim() != 3 or lattice.dim() != 3:
        raise ValueError("check 'lattice_shift' needs positions (B, N, 3) and a lattice (B, 3, 3)")
    cells = torch.randint(-2, 3, pos.shape, generator=generator).to(dtype=pos.dtype, device=pos.device)
    shift = cells @ lattice

    def transform(kind: str, t: Tensor) -> Tensor:
        if kind != "position":
            return t
        if t.shape != shift.shape:
            raise ValueError(
                f"lattice_shift: every position tensor must have shape {tuple(shift.shape)}, got {tuple(t.shape)}"
            )
        return t + shift

    return transform


def assert_e3_equivariant(
    fn: Callable[..., Any],
    inputs: Mapping[str, Any],
    *,
    input_kinds: Mapping[str, Kind],
    output_kinds: Kind | Mapping[Any, Kind] = "invariant",
    checks: Sequence[str] = ("rotation", "reflection", "translation"),
    n_trials: int = 2,
    atol: float = 1e-6,
    generator: torch.Generator | None = None,
) -> dict[str, float]:
    """Check that outputs transform as declared under random E(3) and lattice transformations.

    Kinds (last axis of size 3; one transformation for the whole batch):
        ``invariant``: unchanged. ``vector``: ``v @ R.T``. ``position`` (Cartesian): ``x @ R.T + t``.
        ``lattice``: ``(B, 3, 3)`` rows = cell vectors, ``L @ R.T``.
    Checks:
        ``rotation`` (det +1), ``reflection`` (det -1), ``translation`` (positions only);
        ``lattice_basis``: ``L -> U L`` with a random unimodular integer ``U`` (same crystal,
        another cell; lattice outputs are expected to become ``U L`` too);
        ``lattice_shift``: each atom moves by a random integer combination of lattice
        vectors (position outputs move with their atom; needs ``pos (B, N, 3)``, ``lattice (B, 3, 3)``).
    Args:
        input_kinds: input name -> kind; unnamed inputs are invariant.
        output_kinds: one kind for every output, or output name -> kind (default invariant).
    Returns:
        check name -> the largest error seen.
    """
    reference = _flatten(fn(**inputs))
    worst: dict[str, float] = {}
    for check in checks:
        worst[check] = 0.0
        for _ in range(n_trials):
            transform = _make_transform(check, inputs, input_kinds, generator)
            moved = {
                k: transform(input_kinds[k], v) if k in input_kinds and v is not None else v
                for k, v in inputs.items()
            }
            out = _flatten(fn(**moved))
            for key, ref in reference.items():
                expected = transform(_spec(output_kinds, key, "invariant"), ref)
                err = _compare(f"E(3) check {check!r}", key, out[key], expected, atol)
                worst[check] = max(worst[check], err)
    return worst


# -- causal leakage -------------------------------------------------------------------------


def _entry_mask(flags: Tensor, axes: Axes, ndim: int, combine: str) -> Tensor | None:
    """Broadcastable mask over a ``(B, ...)`` tensor from per-node ``flags (B, N)``.

    ``combine="all"``: every indexed node flagged; ``"any"``: at least one. None if no node axes.
    """
    mask = None
    for a in _axes(axes):
        shape = [1] * ndim
        shape[0], shape[a] = flags.shape[0], flags.shape[1]
        m = flags.view(shape)
        mask = m if mask is None else (mask & m if combine == "all" else mask | m)
    return mask


def _perturb(
    inputs: Mapping[str, Any], node_axes: Mapping[str, Axes], flags: Tensor, generator
) -> dict[str, Any]:
    """Change the entries of ``node_axes`` inputs that touch a flagged node: noise for floats, new ids for ints."""
    moved = dict(inputs)
    for k, axes in node_axes.items():
        t = inputs[k]
        where = _entry_mask(flags.to(t.device), axes, t.dim(), "any").expand_as(t)
        if t.is_floating_point():
            noise = torch.randn(t.shape, generator=generator, dtype=t.dtype).to(t.device)
            moved[k] = t + noise * where.to(t.dtype)
        elif t.dtype != torch.bool:
            ids = torch.randint(0, int(t.max()) + 1, t.shape, generator=generator).to(t)
            moved[k] = torch.where(where, ids, t)
    return moved


def _leak_cases(order: Tensor | None, visible: Tensor | None, n_trials: int, generator):
    """Yield ``(perturbed (B, N), watched (B, N))`` pairs of node flags."""
    if (order is None) == (visible is None):
        raise ValueError("pass exactly one of order (B, N) or visible (B, N, N)")
    if order is not None:
        cuts = torch.unique(order)[:-1]
        picks = (
            torch.linspace(0, len(cuts) - 1, min(n_trials, len(cuts))).round().long().unique()
            if len(cuts)
            else []
        )
        for c in cuts[picks] if len(cuts) else []:
            yield order > c, order <= c
        return
    b, n, _ = visible.shape
    for _ in range(n_trials):
        j = torch.randint(0, n, (b,), generator=generator).to(visible.device)
        perturbed = torch.nn.functional.one_hot(j, n).bool()
        yield perturbed, ~visible[torch.arange(b, device=visible.device), :, j]


def assert_no_future_leak(
    fn: Callable[..., Any],
    inputs: Mapping[str, Any],
    *,
    node_axes: Mapping[str, Axes],
    output_node_axes: Axes | Mapping[Any, Axes] = 1,
    order: Tensor | None = None,
    visible: Tensor | None = None,
    n_trials: int = 3,
    atol: float = 1e-6,
    require_effect: bool = True,
    generator: torch.Generator | None = None,
) -> float:
    """Check that outputs never depend on nodes they must not see.

    Give exactly one of:
        order ``(B, N)``: node ``i`` may depend on node ``j`` only if ``order[j] <= order[i]``
            (causal: the token index; block-causal: the block id). Each trial cuts at one order
            value ``c``, perturbs every node with ``order > c`` and requires the outputs of
            nodes with ``order <= c`` to stay the same.
        visible ``(B, N, N)`` bool: ``i`` may depend on ``j`` only where ``visible[b, i, j]``;
            it must be closed under composition (the transitive closure of the attention
            mask, e.g. PARD's mask). Each trial perturbs one random node ``j`` per sample and
            requires every ``i`` with ``not visible[b, i, j]`` to stay the same.
    Args:
        node_axes: inputs to perturb, name -> node axes (batch on dim 0); floats get Gaussian
            noise, integer ids random ids, bools (masks) are left alone. A pair entry changes
            when any of its nodes is perturbed.
        output_node_axes: output name -> node axes; an output entry is checked when all of
            its nodes are watched (outputs with no node axes are not checked).
        require_effect: also fail when no perturbation changed any output at all, which
            would make the check vacuous (usually wrong ``node_axes``).
    Returns:
        The largest change seen on outputs that had to stay the same.
    """
    reference = _flatten(fn(**inputs))
    worst, effect = 0.0, False
    for perturbed, watched in _leak_cases(order, visible, n_trials, generator):
        out = _flatten(fn(**_perturb(inputs, node_axes, perturbed, generator)))
        for key, ref in reference.items():
            where = _entry_mask(watched.to(ref.device), _spec(output_node_axes, key), ref.dim(), "all")
            if where is None:
                continue
            worst = max(worst, _compare("future leak", key, out[key], ref, atol, where))
            effect = effect or bool(((out[key] - ref).abs() > atol).any())
    if require_effect and not effect:
        raise AssertionError(
            "future leak: perturbing nodes changed no output at all, so the check proves nothing"
        )
    return worst


# -- the family contract ----------------------------------------------------------------------


class FamilyContract:
    """Tests every model family passes (``unigen.models.registry``): subclass it in a test module.

    ::

        class TestGDSSContract(FamilyContract):
            family = "gdss"
            sampling = {"steps": 5}                      # fast options for the sampling tests
            def make_model(self): ...                    # small, fitted on self.records()
            def records(self): ...                       # 8 training records
            def check_symmetry(self, model, batch): ...  # permutation / leakage / E(3) check

    Checks: the class is registered under ``family``; the loss is finite and falls when
    overfitting the 8 records; ``sample`` -> ``decode`` returns ``record_type`` records (or, for
    a family without ``Sampling``, a one-line refusal); the same seed gives the same output; an
    unknown sampling option is refused naming the valid ones; a model rebuilt from its card state
    and weights computes the same loss; the family's own symmetry check.
    """

    family: str = ""
    sampling: dict = {}
    sample_n: int = 3
    overfit_steps: int = 150
    overfit_lr: float = 5e-3
    overfit_ratio: float = 0.7  # mean loss of the last 10 steps / of the first 10 must be below this

    def make_model(self):
        raise NotImplementedError

    def records(self) -> list:
        raise NotImplementedError

    def check_symmetry(self, model, batch) -> None:
        raise NotImplementedError

    # -- helpers ----------------------------------------------------------------------------

    def _batch(self, model) -> dict:
        return model.collate([model.encode(r) for r in self.records()])

    def _loss(self, model, batch, seed: int = 0):
        from unigen.models.registry import split_loss

        torch.manual_seed(seed)
        return split_loss(model.loss(batch))[0]

    def _sample(self, model, seed: int):
        options = model.sampling_options(**self.sampling)
        return model.sample(self.sample_n, generator=torch.Generator().manual_seed(seed), options=options)

    # -- the contract -----------------------------------------------------------------------

    def test_family_is_registered(self):
        from unigen.models.registry import get_family

        assert type(self.make_model()) is get_family(self.family)

    def test_loss_is_finite_and_falls_when_overfitting(self):
        torch.manual_seed(0)
        model = self.make_model().train()
        batch = self._batch(model)
        optimizer = torch.optim.Adam(model.parameters(), lr=self.overfit_lr)
        losses = []
        for step in range(self.overfit_steps):
            loss = self._loss(model, batch, seed=step)
            assert torch.isfinite(loss), f"loss is {loss.item()} at step {step}"
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        first, last = sum(losses[:10]) / 10, sum(losses[-10:]) / 10
        assert last < self.overfit_ratio * first, f"loss fell from {first:.4g} to {last:.4g} only"

    def test_sample_decode_gives_the_declared_records(self):
        from unigen.errors import UsageError

        model = self.make_model().eval()
        if model.Sampling is None:
            try:
                model.refuse_generation()
            except UsageError as err:
                assert "does not generate" in str(err) and "\n" not in str(err)
            else:
                raise AssertionError(
                    f"family '{self.family}' has no Sampling but does not refuse to generate"
                )
            return
        records = model.decode(self._sample(model, 0))
        assert len(records) == self.sample_n
        assert model.record_type in model.record_types or not model.record_types
        assert all(isinstance(r, model.record_type) for r in records), [type(r).__name__ for r in records]

    def test_same_seed_same_output(self):
        model = self.make_model().eval()
        if model.Sampling is None:
            return
        first, again, other = (self._sample(model, seed) for seed in (1, 1, 2))
        assert _same(first, again), "the same seed gave different samples"
        assert not _same(first, other), "different seeds gave the same samples"

    def test_unknown_sampling_option_lists_the_valid_ones(self):
        from dataclasses import fields

        from unigen.errors import UsageError

        model = self.make_model()
        if model.Sampling is None:
            return
        try:
            model.sampling_options(nope=1)
        except UsageError as err:
            assert all(f.name in str(err) for f in fields(model.Sampling)), str(err)
        else:
            raise AssertionError("an unknown sampling option was accepted")

    def test_rebuilt_from_card_state_computes_the_same_loss(self):
        model = self.make_model().eval()
        rebuilt = type(model)(model.config, model.card_state()).eval()
        rebuilt.load_state_dict(model.state_dict())
        batch = self._batch(model)
        with torch.no_grad():
            assert torch.allclose(self._loss(model, batch), self._loss(rebuilt, batch))

    def test_symmetry(self):
        model = self.make_model().eval()
        self.check_symmetry(model, self._batch(model))


def _same(a: Any, b: Any) -> bool:
    """Deep equality of raw samples: tensors, arrays and containers of them."""
    if isinstance(a, Tensor):
        return isinstance(b, Tensor) and a.shape == b.shape and bool(torch.equal(a, b))
    if isinstance(a, Mapping):
        return isinstance(b, Mapping) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if hasattr(a, "__array__"):
        import numpy as np

        return bool(np.array_equal(np.asarray(a), np.asarray(b)))
    return a == b
