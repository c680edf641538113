"""``unigenx``: one causal sequence of element tokens and numeric slots (UniGenX, spec part A).

A crystal is the sequence ``<bos> El_1 .. El_N <coord> [L1] [L2] [L3] [f_1] .. [f_N] <eos>``
(``unigen.tokenizers.sequence``). The shared backbone runs it causally with 1-D rotary
positions (Llama-style: RMSNorm, SwiGLU, no biases). The hidden state before a token
predicts it with a softmax (``TokenHead``); the hidden state before a slot conditions a small
per-slot diffusion over its 3 numbers (``DiffusionHead`` + ``GaussianDiffusion``: cosine
schedule, T = 1000, epsilon prediction, learned variance). A finished slot is fed back through
an MLP embedding. Loss = CE (label smoothing 0.05, padding and slot targets out) + 100 x the
diffusion loss, every slot repeated ``diff_mul`` = 4 times with its own t and noise.

Crystal structure prediction: the prompt ``<bos> elements <coord>`` fixes the composition
(it is never sampled), then ``unigen.samplers.slot_ar`` fills the N + 3 slots with the KV
cache. Without a composition (``unigen generate``) the elements are sampled first
(temperature / top-p), then the slots the same way.

Deviations from the released UniGenX, each a config switch:
    standardise     slot numbers are standardised per slot kind (lattice rows a, b, c and
                    fractional coordinates) with the training set's mean and std (spec D2's
                    "scale by the dataset's standard deviation"); False: raw Angstrom and [0, 1)
    group_order     ``atomic_number``: element groups sorted by Z, so the prompt does not depend
                    on how a formula or file lists its elements (see the tokenizer); UniGenX:
                    ``appearance``
    slot embedding  the slot MLP output is *added* to the ``<mask>`` token embedding rather than
                    replacing it (the same up to the MLP's output bias)

Property conditioning (``model.conditions: [heat_ref]``, ``unigen.conditioning``): the condition
vector enters the backbone's condition input (added to every position's embedding), dropped with
``condition_dropout`` in training; ``sampling.guidance`` w != 1 decodes a doubled batch
(conditional and unconditional halves, one KV cache) and mixes the element logits and the slot
noise predictions as ``uncond + w * (cond - uncond)``.

Batch fields (B sequences, L tokens after right padding):
    batch[TOKENS]      (B, L)    int64  token ids; PAD after <eos>
    batch[IS_SLOT]     (B, L)    bool   numeric slots
    batch[SLOT_VALUES] (B, L, 3) float  slot numbers in model units (standardised); 0 elsewhere
    batch[COND]        (B, k)    float  standardised property values (conditioned models only)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unigen.backbone import Backbone, BackboneConfig
from unigen.backbone.kv_cache import KVCache
from unigen.conditioning import (
    check_condition_dropout,
    check_guidance,
    condition_dim,
    doubled,
    mix_guided,
    side_by_side,
)
from unigen.data.keys import COND, IS_SLOT, SLOT_VALUES, TOKENS
from unigen.heads import DiffusionHead, TokenHead
from unigen.models.registry import (
    FamilyModel,
    check_known_elements,
    per_sample_compositions,
    register_family,
    unknown_elements,
)
from unigen.processes.continuous import GaussianDiffusion
from unigen.samplers.registry import get_sampler, sampler_names
from unigen.samplers.tokens import sample_tokens
from unigen.structures import Crystal
from unigen.tokenizers.sequence import (
    BOS,
    COORD,
    MASK,
    NUM_LATTICE_SLOTS,
    PAD,
    CrystalSequenceTokenizer,
    TokenError,
)

NUM_VALUES = 3  # numbers per slot
SLOT_KINDS = NUM_LATTICE_SLOTS + 1  # lattice rows a, b, c, then every fractional coordinate
MIN_STD = 0.05  # floor on a standardisation std (model units per Angstrom or per cell fraction)


@dataclass
class UniGenXSampling:
    """Sampling options of ``unigenx`` (``--set sampling.KEY=VALUE``)."""

    sampler: str = "ddpm"  # ddpm (ancestral, UniGenX's default) or ddim (deterministic)
    steps: int = 100  # respaced diffusion steps per slot (UniGenX launchers: 200)
    temperature: float = 1.0  # factor on the noise a ddpm step injects
    token_temperature: float = 0.75  # element tokens, when the composition is sampled
    top_p: float = 0.95  # nucleus for element tokens
    kv_cache: bool = True  # reuse keys / values while decoding (False: rerun the whole prefix)
    clip_x0: float = (
        0.0  # > 0: clamp the implied clean slot numbers (model units) to +-clip_x0; 0: off (UniGenX)
    )
    guidance: float = 1.0  # classifier-free guidance weight of a conditioned model (1: plain conditional)

    def __post_init__(self):
        if self.sampler not in sampler_names("slot_ar"):
            raise ValueError(f"sampler {self.sampler!r} is not one of {', '.join(sampler_names('slot_ar'))}")
        if not 1 <= int(self.steps) <= 1000:
            raise ValueError(f"steps must be in 1..1000, got {self.steps}")
        if self.temperature < 0 or self.token_temperature < 0:
            raise ValueError("temperature and token_temperature must be >= 0")
        if self.clip_x0 < 0:
            raise ValueError(f"clip_x0 must be >= 0 (0: off), got {self.clip_x0}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must lie in (0, 1], got {self.top_p}")
        check_guidance(self.guidance)


@dataclass
class UniGenXConfig:
    """The recipe's ``model:`` section for family ``unigenx``."""

    dim: int = 128  # transformer width
    depth: int = 4  # transformer blocks
    heads: int = 4
    ffn_hidden: int = 0  # SwiGLU hidden width (0: 4 x dim, as UniGenX)
    head_width: int = 256  # diffusion head width
    head_depth: int = 3  # diffusion head residual blocks
    num_train_steps: int = 1000  # T of the slot diffusion
    learned_variance: bool = True
    diff_mul: int = 4  # noisy copies of every slot per step
    diffusion_weight: float = 100.0  # L = CE + weight x diffusion loss
    label_smoothing: float = 0.05
    standardise: bool = True  # slot numbers standardised per slot kind (see the module docstring)
    group_order: Literal["appearance", "atomic_number"] = "atomic_number"
    max_atoms: int = 0  # longest cell to sample without a composition (0: the largest training cell)
    conditions: list[str] = field(default_factory=list)  # properties to condition on (unigen.conditioning)
    condition_dropout: float = 0.1  # p of dropping a row's / a property's condition in training (CFG)
    sampling: UniGenXSampling = field(default_factory=UniGenXSampling)

    def __post_init__(self):
        if self.dim % self.heads:
            raise ValueError(f"dim ({self.dim}) must be divisible by heads ({self.heads})")
        if self.diff_mul < 1:
            raise ValueError(f"diff_mul must be >= 1, got {self.diff_mul}")
        if self.sampling.steps > self.num_train_steps:
            raise ValueError(f"sampling.steps ({self.sampling.steps}) exceeds num_train_steps")
        check_condition_dropout(self.condition_dropout)


@register_family("unigenx")
class UniGenX(FamilyModel):
    """Crystals as element tokens plus diffusion-sampled numeric slots (see the module docstring)."""

    Config = UniGenXConfig
    Sampling = UniGenXSampling
    record_types = (Crystal,)

    def __init__(self, config: UniGenXConfig, state: dict | None = None):
        super().__init__(config, state)
        state = dict(state or {})
        if not state.get("elements"):
            raise ValueError("unigenx needs a fitted state with 'elements' (UniGenX.fit_state)")
        self.state = state
        self.tokenizer = CrystalSequenceTokenizer(elements=state["elements"], group_order=config.group_order)
        vocab = self.tokenizer.vocab_size
        self.backbone = Backbone(
            BackboneConfig(
                vocab_size=vocab,
                dim=config.dim,
                depth=config.depth,
                heads=config.heads,
                ffn="swiglu",
                ffn_hidden=config.ffn_hidden,
                norm="rmsnorm",
                mask_mode="causal",
                rotary="1d",
                cond_dim=condition_dim(state.get("conditions")),
            )
        )
        self.slot_embed = nn.Sequential(
            nn.Linear(NUM_VALUES, config.dim), nn.GELU(), nn.Linear(config.dim, config.dim)
        )
        self.token_head = TokenHead(config.dim, vocab)
        self.diffusion_head = DiffusionHead(
            config.dim, config.head_width, config.head_depth, NUM_VALUES, config.learned_variance
        )
        self.process = GaussianDiffusion(config.num_train_steps, config.learned_variance)
        self.register_buffer(
            "slot_mean", torch.tensor(state["slot_mean"], dtype=torch.float32), persistent=False
        )
        self.register_buffer(
            "slot_std", torch.tensor(state["slot_std"], dtype=torch.float32), persistent=False
        )

    # -- state ---------------------------------------------------------------------------

    @classmethod
    def fit_state(cls, config: UniGenXConfig, records) -> dict:
        """Elements seen, the largest cell, and the per-slot-kind mean / std of the slot numbers."""
        tokenizer = CrystalSequenceTokenizer(group_order=config.group_order)
        kinds = [[] for _ in range(SLOT_KINDS)]
        for record in records:
            slots = tokenizer.encode(record).slot_values
            for k in range(NUM_LATTICE_SLOTS):
                kinds[k].append(slots[k])
            kinds[-1].extend(slots[NUM_LATTICE_SLOTS:])
        mean = np.zeros((SLOT_KINDS, NUM_VALUES))
        std = np.ones((SLOT_KINDS, NUM_VALUES))
        if config.standardise:
            mean = np.array([np.mean(k, axis=0) for k in kinds])
            std = np.maximum(np.array([np.std(k, axis=0) for k in kinds]), MIN_STD)
        state = {
            "elements": sorted({int(z) for r in records for z in r.atomic_numbers}),
            "max_atoms": int(config.max_atoms or max(r.num_atoms for r in records)),
            "slot_mean": mean.round(6).tolist(),
            "slot_std": std.round(6).tolist(),
        }
        return {**state, **cls.condition_state(config, records)}

    def card_state(self) -> dict:
        return dict(self.state)

    def unknown_types(self, records) -> dict[str, int]:
        return unknown_elements(records, self.state["elements"])

    @property
    def record_type(self) -> type:
        return Crystal

    @property
    def elements(self) -> list[int]:
        return list(self.state["elements"])

    # -- data ----------------------------------------------------------------------------

    def encode(self, record) -> dict:
        if not isinstance(record, Crystal):
            raise ValueError(f"family 'unigenx' trains on crystals (Crystal), got {type(record).__name__}")
        try:
            sequence = self.tokenizer.encode(record)
        except TokenError as err:
            raise ValueError(str(err)) from None
        values = self._to_model_units(torch.from_numpy(sequence.slot_values).float())
        slot_values = torch.zeros(len(sequence), NUM_VALUES)
        slot_values[torch.from_numpy(sequence.is_slot)] = values
        return {
            TOKENS: torch.from_numpy(sequence.ids),
            IS_SLOT: torch.from_numpy(sequence.is_slot),
            SLOT_VALUES: slot_values,
            **self.example_condition(record),
        }

    def collate(self, examples: list[dict]) -> dict:
        length = max(len(e[TOKENS]) for e in examples)
        batch = {
            TOKENS: torch.full((len(examples), length), PAD, dtype=torch.long),
            IS_SLOT: torch.zeros(len(examples), length, dtype=torch.bool),
            SLOT_VALUES: torch.zeros(len(examples), length, NUM_VALUES),
        }
        for i, e in enumerate(examples):
            n = len(e[TOKENS])
            for key in (TOKENS, IS_SLOT, SLOT_VALUES):
                batch[key][i, :n] = e[key]
        batch.update(self.collated_condition(examples))
        return batch

    def _slot_kind(self, num_slots: int, device) -> Tensor:
        """(S,) standardisation row of each slot position: lattice rows 0..2, then coordinates."""
        return torch.arange(num_slots, device=device).clamp(max=SLOT_KINDS - 1)

    def _to_model_units(self, slots: Tensor) -> Tensor:
        """``(..., S, 3)`` slot numbers (Angstrom rows, fractions) -> standardised."""
        kind = self._slot_kind(slots.shape[-2], slots.device)
        return (slots - self.slot_mean[kind]) / self.slot_std[kind]

    def _from_model_units(self, slots: Tensor) -> Tensor:
        kind = self._slot_kind(slots.shape[-2], slots.device)
        return slots * self.slot_std[kind] + self.slot_mean[kind]

    # -- network and loss ----------------------------------------------------------------

    def hidden(
        self, tokens, is_slot, slot_values, node_mask=None, cache: KVCache | None = None, cond=None
    ) -> Tensor:
        """Backbone states ``(B, L, d)``; position k predicts token / slot k + 1. ``cond (B, 2k)``:
        the property condition of a conditioned model."""
        embeddings = self.slot_embed(slot_values) * is_slot.unsqueeze(-1).to(slot_values.dtype)
        return self.backbone(
            tokens=tokens, embeddings=embeddings, node_mask=node_mask, cache=cache, cond=cond
        ).h

    def loss(self, batch: dict):
        """CE on next tokens that are not slots + weight x diffusion loss on slots; logs both."""
        tokens, is_slot, values = batch[TOKENS], batch[IS_SLOT], batch[SLOT_VALUES]
        # right padding: a causal position never reads the padding after it, so no node mask
        h = self.hidden(tokens, is_slot, values, cond=self.training_condition(batch))[:, :-1]
        target, target_is_slot = tokens[:, 1:], is_slot[:, 1:]
        token_targets = (target != PAD) & ~target_is_slot
        ce = F.cross_entropy(
            self.token_head(h[token_targets]).float(),
            target[token_targets],
            label_smoothing=self.config.label_smoothing,
        )
        terms = self._diffusion_terms(h[target_is_slot], values[:, 1:][target_is_slot])
        loss = ce + self.config.diffusion_weight * terms["loss"]
        return loss, {"ce": ce.item(), "mse": terms["mse"].item(), "vb": terms["vb"].item()}

    def _diffusion_terms(self, z: Tensor, x0: Tensor) -> dict:
        """Mean hybrid diffusion loss over ``diff_mul`` noisy copies of every slot ``x0 (M, 3)``."""
        z, x0 = z.repeat(self.config.diff_mul, 1), x0.repeat(self.config.diff_mul, 1)
        t = self.process.sample_t(len(x0), device=x0.device)
        noise = torch.randn_like(x0)
        x_t = self.process.add_noise(x0, t, noise)
        eps, v = self.diffusion_head(x_t, t, z)
        terms = self.process.loss(x0, x_t, t, noise, eps.float(), None if v is None else v.float())
        return {k: value.mean() for k, value in terms.items()}

    # -- sampling ------------------------------------------------------------------------

    def num_sampling_steps(self, options: UniGenXSampling) -> int:
        """Progress ticks once per slot: at most the largest cell's N + 3."""
        return int(self.state["max_atoms"]) + NUM_LATTICE_SLOTS

    def composition_ids(self, atomic_numbers) -> np.ndarray:
        """(N,) Z of one cell -> its element token ids in prompt order; UsageError naming unknown elements."""
        z = np.asarray(atomic_numbers, dtype=np.int64)
        check_known_elements(z, self.state["elements"])
        prompt = self.tokenizer.prompt(z)
        return prompt.ids[1 : 1 + len(z)]

    @torch.no_grad()
    def sample(self, n: int, *, generator, options: UniGenXSampling, conditions=None, progress=None) -> dict:
        """``n`` crystals. ``conditions={"composition": Z}`` (one cell's atomic numbers, shared by all
        n) or ``{"composition": [Z_1, ..., Z_n]}`` fixes the compositions (CSP); without it they are
        sampled. A conditioned model also takes property targets (``{"heat_ref": 1.0}``). Returns
        raw ``{TOKENS: (n, C) element ids, left-padded with PAD, "slots": (n, S, 3) Angstrom rows and
        fractions}`` (plus ``COND``, the (n, 2k) property condition, for a conditioned model)."""
        conditions = dict(conditions or {})
        composition = {"composition": conditions.pop("composition")} if "composition" in conditions else {}
        device = self.slot_mean.device
        cond = self.sampling_condition(n, conditions, generator, device)
        guidance = options.guidance if cond is not None else 1.0
        compositions = self._compositions(n, composition, generator, options, cond)
        tokens = _left_pad([np.asarray(c) for c in compositions]).to(device)
        decoder = _Decoder(self, tokens, options.kv_cache, cond, guidance)
        process = self.process.with_steps(options.steps)
        num_slots = int((tokens != PAD).sum(1).max()) + NUM_LATTICE_SLOTS
        run = get_sampler(options.sampler, "slot_ar")
        slots = run(decoder, process, num_slots, NUM_VALUES, generator=generator,
                    temperature=options.temperature, clip_x0=options.clip_x0 or None, progress=progress)  # fmt: skip
        raw = {TOKENS: tokens.cpu(), "slots": self._from_model_units(slots).double().cpu()}
        return raw if cond is None else {**raw, COND: cond.cpu()}

    def _compositions(self, n: int, conditions, generator, options, cond=None) -> list:
        if not conditions:
            return self._sample_compositions(n, generator, options, cond)
        return [self.composition_ids(z) for z in per_sample_compositions(conditions, n, "unigenx")]

    def _sample_compositions(self, n: int, generator, options, cond=None) -> list[np.ndarray]:
        """Element tokens after <bos> until <coord> (1 .. max_atoms elements), temperature / top-p;
        with guidance, from the mixed logits of a doubled (conditional, unconditional) batch."""
        device = self.slot_mean.device
        guided = cond is not None and options.guidance != 1.0
        if guided:
            cond = doubled(cond)
        max_atoms = int(self.state["max_atoms"])
        allowed = torch.zeros(self.tokenizer.vocab_size, dtype=torch.bool, device=device)
        allowed[torch.from_numpy(self.tokenizer.element_ids(self.elements)).to(device)] = True
        cache = KVCache()
        token = torch.full((n, 1), BOS, dtype=torch.long, device=device)
        drawn, done = [], torch.zeros(n, dtype=torch.bool, device=device)
        for step in range(max_atoms + 1):
            fed = torch.cat([token, token]) if guided else token
            logits = self.token_head(self.backbone(tokens=fed, cache=cache, cond=cond).h[:, -1])
            if guided:
                logits = mix_guided(*logits.chunk(2), options.guidance)
            choice = allowed.clone()
            choice[COORD] = step > 0
            if step == max_atoms:
                choice[:] = False
                choice[COORD] = True
            token = sample_tokens(logits, temperature=options.token_temperature,
                                  top_p=options.top_p, allowed=choice, generator=generator)  # fmt: skip
            drawn.append(torch.where(done, PAD, token))
            done |= token == COORD
            if bool(done.all()):
                break
            token = token.unsqueeze(1)
        ids = torch.stack(drawn, 1).cpu().numpy()
        return [row[(row != PAD) & (row != COORD)] for row in ids]

    def decode(self, raw: dict) -> list[Crystal]:
        """Raw samples -> Crystals (fractional coordinates wrapped into [0, 1))."""
        return [self.tokenizer.decode(sequence) for sequence in self._sequences(raw)]

    def _sequences(self, raw: dict) -> list:
        """Raw samples -> one SlotSequence each (left padding and unused slots dropped)."""
        sequences = []
        for ids, slots in zip(raw[TOKENS].numpy(), raw["slots"].numpy()):
            content = ids[ids != PAD]
            used = slots[: len(content) + NUM_LATTICE_SLOTS]
            sequences.append(self.tokenizer.assemble(content, used, np.arange(len(content))))
        return sequences

    # -- likelihood ----------------------------------------------------------------------

    @torch.no_grad()
    def slot_nll(self, raw: dict, steps: int = 20, generator: torch.Generator | None = None) -> Tensor:
        """(n,) a likelihood score in bits of each sample's slot numbers (model units) given its
        elements, lower = more likely: the negative ELBO terms of a ``steps``-step respaced chain,
        one noise draw each, *without* the prior and the noisiest step. That step's KL reads x0
        through 1 / sqrt(abar) ~ 1e4 at t = T - 1, so its one-draw estimate is noise that swamps
        every other term (measured on an overfitted model: 1e5 bits against ~50 for the rest)."""
        device = self.slot_mean.device
        tokens, is_slot, values, mask = self._teacher_forced(raw, device)
        cond = self._raw_condition(raw, len(tokens), device)
        h = self.hidden(tokens, is_slot, values, node_mask=mask, cond=cond)[:, :-1]
        target = is_slot[:, 1:]
        z, x0 = h[target], values[:, 1:][target]
        owner = torch.arange(len(tokens), device=device).unsqueeze(1).expand_as(target)[target]
        process = self.process.with_steps(steps)
        total = torch.zeros(len(x0), device=device)
        for t in process.timesteps[:-1].tolist() or process.timesteps.tolist():
            noise = torch.randn(x0.shape, generator=generator, device=device)
            x_t = process.add_noise(x0, t, noise)
            steps_t = torch.full((len(x0),), t, dtype=torch.long, device=device)
            eps, v = self.diffusion_head(x_t, steps_t, z)
            total += process.vb_bits(x0, x_t, t, eps, v) * NUM_VALUES
        return torch.zeros(len(tokens), device=device).index_add_(0, owner, total).cpu()

    def _raw_condition(self, raw: dict, n: int, device) -> Tensor | None:
        """The condition the samples were drawn at (a conditioned model without one: "not given")."""
        if COND in raw:
            return raw[COND].to(device)
        return self.sampling_condition(n, {}, None, device)

    def candidate_nll(self, raw: dict, steps: int = 20, generator: torch.Generator | None = None) -> Tensor:
        """The ranking score ``unigen.csp`` reads (lower = more likely): ``slot_nll``."""
        return self.slot_nll(raw, steps=steps, generator=generator)

    def _teacher_forced(self, raw: dict, device):
        """Raw samples -> left-padded full sequences (tokens, is_slot, model-unit values, mask)."""
        rows = self._sequences(raw)
        length = max(len(r) for r in rows)
        tokens = torch.full((len(rows), length), PAD, dtype=torch.long)
        is_slot = torch.zeros(len(rows), length, dtype=torch.bool)
        values = torch.zeros(len(rows), length, NUM_VALUES)
        for i, r in enumerate(rows):
            start = length - len(r)
            tokens[i, start:], is_slot[i, start:] = torch.from_numpy(r.ids), torch.from_numpy(r.is_slot)
            values[i, start:][is_slot[i, start:]] = self._to_model_units(
                torch.from_numpy(r.slot_values).float().to(self.slot_mean.device)
            ).cpu()
        tokens, is_slot, values = tokens.to(device), is_slot.to(device), values.to(device)
        return tokens, is_slot, values, tokens != PAD


def _left_pad(rows: list[np.ndarray]) -> Tensor:
    """Ragged (C_i,) id arrays -> (n, C) with PAD on the left (the prompts end aligned)."""
    width = max(len(r) for r in rows)
    out = torch.full((len(rows), width), PAD, dtype=torch.long)
    for i, r in enumerate(rows):
        if len(r):
            out[i, width - len(r) :] = torch.as_tensor(r, dtype=torch.long)
    return out


class _Decoder:
    """``unigen.samplers.slot_ar.SlotDecoder`` over a UniGenX model and left-padded prompts.

    Left padding keeps every prompt's last token in the same column, so one batch decodes
    cells of different sizes together: rotary attention depends on relative positions only and
    padded keys are masked, so a padded row computes what it would alone. With ``kv_cache``
    False every step reruns the whole sequence (the reference for the cached path).

    Guidance (``cond`` given, ``guidance`` != 1) decodes every row twice, conditional then
    unconditional, in one doubled batch; the sampler sees ``n`` rows whose hidden state is the
    two halves side by side ``(n, 2d)``, and ``denoise`` mixes their noise predictions.
    """

    def __init__(self, model: UniGenX, elements: Tensor, kv_cache: bool, cond=None, guidance=1.0):
        self.model, self.kv_cache = model, kv_cache
        self.guidance = guidance if cond is not None else 1.0
        if self.guidance != 1.0:
            elements, cond = torch.cat([elements, elements]), doubled(cond)
        self.cond = cond
        n, device = len(elements), elements.device
        bos = torch.full((n, 1), BOS, dtype=torch.long, device=device)
        coord = torch.full((n, 1), COORD, dtype=torch.long, device=device)
        # <bos> goes right before each row's first element, after its left padding
        prompt = torch.cat([torch.full_like(bos, PAD), elements, coord], 1)
        prompt[torch.arange(n), (elements == PAD).sum(1)] = BOS
        self.tokens = prompt
        self.mask = prompt != PAD
        self.is_slot = torch.zeros_like(self.mask)
        self.values = torch.zeros(*prompt.shape, NUM_VALUES, device=device, dtype=model.slot_mean.dtype)
        self.cache = KVCache() if kv_cache else None

    def start(self) -> Tensor:
        return self._run(self.tokens, self.is_slot, self.values, self.mask)

    def denoise(self, x_t: Tensor, t: Tensor, z: Tensor):
        if self.guidance == 1.0:
            return self.model.diffusion_head(x_t, t, z)
        z_cond, z_uncond = z.chunk(2, dim=-1)
        eps, v = self.model.diffusion_head(x_t, t, z_cond)
        eps_uncond, _ = self.model.diffusion_head(x_t, t, z_uncond)
        return mix_guided(eps, eps_uncond, self.guidance), v  # the variance of the conditional model

    def feed(self, values: Tensor) -> Tensor:
        if self.guidance != 1.0:
            values = torch.cat([values, values])
        n = len(values)
        token = torch.full((n, 1), MASK, dtype=torch.long, device=values.device)
        slot = torch.ones(n, 1, dtype=torch.bool, device=values.device)
        if self.kv_cache:
            return self._run(token, slot, values.unsqueeze(1), slot)
        self.tokens = torch.cat([self.tokens, token], 1)
        self.is_slot = torch.cat([self.is_slot, slot], 1)
        self.values = torch.cat([self.values, values.unsqueeze(1)], 1)
        self.mask = torch.cat([self.mask, slot], 1)
        return self._run(self.tokens, self.is_slot, self.values, self.mask)

    def _run(self, tokens, is_slot, values, mask) -> Tensor:
        h = self.model.hidden(tokens, is_slot, values, node_mask=mask, cache=self.cache, cond=self.cond)
        return h[:, -1] if self.guidance == 1.0 else side_by_side(h[:, -1])
