"""The UniGenX diffusion head: shapes, zero output at init, conditioning, and learning with the process."""

import pytest
import torch

from unigen.heads.diffusion import DiffusionHead, timestep_embedding
from unigen.processes.continuous import GaussianDiffusion


def test_timestep_embedding_is_cos_then_sin():
    emb = timestep_embedding(torch.tensor([0, 5]), dim=8)
    assert emb.shape == (2, 8)
    assert torch.allclose(emb[0], torch.tensor([1.0] * 4 + [0.0] * 4))
    assert torch.allclose(emb[1, 0], torch.cos(torch.tensor(5.0))) and torch.allclose(
        emb[1, 4], torch.sin(torch.tensor(5.0))
    )


def test_zero_output_at_init_and_shapes():
    head = DiffusionHead(cond_dim=12, width=16, depth=2)
    eps, v = head(torch.randn(5, 3), torch.randint(0, 1000, (5,)), torch.randn(5, 12))
    assert eps.shape == v.shape == (5, 3)
    assert torch.all(eps == 0) and torch.all(v == 0)
    fixed, none = DiffusionHead(cond_dim=12, width=16, depth=1, learned_variance=False)(
        torch.randn(5, 3), torch.zeros(5, dtype=torch.long), torch.randn(5, 12)
    )
    assert fixed.shape == (5, 3) and none is None


def test_output_depends_on_the_hidden_state_after_a_step():
    torch.manual_seed(0)
    head = DiffusionHead(cond_dim=4, width=16, depth=1)
    process = GaussianDiffusion(num_train_steps=1000)
    optimizer = torch.optim.Adam(head.parameters(), lr=1e-2)
    x0, z = torch.randn(64, 3), torch.randn(64, 4)
    for _ in range(5):
        t = process.sample_t(64)
        noise = torch.randn_like(x0)
        eps, v = head(process.add_noise(x0, t, noise), t, z)
        loss = process.loss(x0, process.add_noise(x0, t, noise), t, noise, eps, v)["loss"].mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    x, t = torch.randn(2, 3), torch.tensor([10, 10])
    a, _ = head(x, t, torch.zeros(2, 4))
    b, _ = head(x, t, torch.ones(2, 4))
    assert not torch.allclose(a, b)


def test_learns_the_noise_of_a_conditioned_toy_task():
    """x0 = z[:, :3] exactly: with the hidden state the noise is recoverable, so the eps error falls well below 1."""
    torch.manual_seed(0)
    head = DiffusionHead(cond_dim=3, width=64, depth=2, learned_variance=False)
    process = GaussianDiffusion(num_train_steps=1000, learned_variance=False)
    optimizer = torch.optim.Adam(head.parameters(), lr=3e-3)
    losses = []
    for _ in range(300):
        x0 = torch.randn(128, 3)
        t = process.sample_t(128)
        noise = torch.randn_like(x0)
        eps, _ = head(process.add_noise(x0, t, noise), t, x0)
        loss = (eps - noise).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert sum(losses[-20:]) / 20 < 0.3 * sum(losses[:20]) / 20


def test_bad_sizes():
    with pytest.raises(ValueError, match="width >= 1"):
        DiffusionHead(cond_dim=3, width=0)


def test_alone_it_recovers_a_1d_two_mode_mixture():
    """x0 = +-1 (+ 0.05 noise), equal weights, one constant hidden state: trained with the hybrid
    loss and sampled with 50 ancestral steps, the samples sit on both modes in equal shares."""
    from unigen.samplers.slot_ar import sample_slots

    torch.manual_seed(0)
    head = DiffusionHead(cond_dim=4, width=64, depth=2, num_values=1)
    process = GaussianDiffusion(1000)
    optimizer = torch.optim.Adam(head.parameters(), lr=2e-3)
    z = torch.zeros(256, 4)
    for _ in range(800):
        x0 = torch.where(torch.rand(256, 1) < 0.5, -1.0, 1.0) + 0.05 * torch.randn(256, 1)
        t = process.sample_t(256)
        noise = torch.randn_like(x0)
        x_t = process.add_noise(x0, t, noise)
        eps, v = head(x_t, t, z)
        loss = process.loss(x0, x_t, t, noise, eps, v)["loss"].mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    class OneHiddenState:
        def start(self):
            return torch.zeros(2000, 4)

        def denoise(self, x_t, t, hidden):
            return head(x_t, t, hidden)

    with torch.no_grad():
        x = sample_slots(OneHiddenState(), process.with_steps(50), 1, 1, solver="ddpm",
                         generator=torch.Generator().manual_seed(0), clip_x0=3.0)[:, 0, 0]  # fmt: skip
    near_a_mode = ((x.abs() - 1).abs() < 0.25).float().mean()
    upper_share = (x > 0).float().mean()
    assert near_a_mode > 0.9, near_a_mode
    assert 0.4 < upper_share < 0.6, upper_share
