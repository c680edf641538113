"""The training engine: schedule, EMA, sampler, optimizer state, tiny run, kill + resume."""

import csv
import math
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import requires_data
from safetensors.torch import load_file

from unigen.cli import main
from unigen.config import load_recipe
from unigen.training import train
from unigen.training.ema import EMA
from unigen.training.sampler import EpochSampler
from unigen.training.schedule import lr_at
from unigen.training.state import load_optimizer_state, optimizer_state, seed_everything, step_seed

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "recipes" / "tiny" / "toy.yaml"
QUIET = ["train.progress=false"]


def test_lr_warms_up_linearly_then_decays_by_cosine_to_the_floor():
    assert lr_at(0, 1.0, warmup=4, total=14) == pytest.approx(0.25)
    assert lr_at(3, 1.0, warmup=4, total=14) == pytest.approx(1.0)
    assert lr_at(4, 1.0, warmup=4, total=14) == pytest.approx(1.0)  # cosine starts at the peak
    # halfway through the cosine part (steps 4..13): floor + half the range
    assert lr_at(4 + 4.5, 1.0, warmup=4, total=14, min_ratio=0.1) == pytest.approx(0.55)
    assert lr_at(13, 1.0, warmup=4, total=14, min_ratio=0.1) == pytest.approx(0.1)
    assert lr_at(50, 1.0, warmup=4, total=14, min_ratio=0.1) == pytest.approx(0.1)


def test_ema_follows_the_hand_computed_average():
    model = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    ema = EMA(model, decay=0.5)
    with torch.no_grad():
        model.weight.fill_(10.0)
    ema.update(model)  # effective decay min(0.5, 1/10) = 0.1: 0.1 * 0 + 0.9 * 10
    assert ema.shadow["weight"].item() == pytest.approx(9.0)
    ema.update(model)  # min(0.5, 2/11) = 2/11: (2/11) * 9 + (9/11) * 10
    assert ema.shadow["weight"].item() == pytest.approx(2 / 11 * 9 + 9 / 11 * 10)


def test_sampler_covers_each_epoch_once_and_resumes_from_its_state():
    sampler = EpochSampler(10, batch_size=3, seed=1)
    epoch0 = [i for _ in range(3) for i in sampler.next_batch()]
    assert len(set(epoch0)) == 9  # 3 full batches; the tail index is skipped, not carried over
    epoch1 = sampler.next_batch()
    assert sampler.state() == {"epoch": 1, "position": 3}
    twin = EpochSampler(10, batch_size=3, seed=1)
    twin.load(sampler.state())
    upcoming = [sampler.next_batch() for _ in range(5)]
    assert [twin.next_batch() for _ in range(5)] == upcoming
    epoch1 += upcoming[0] + upcoming[1]
    assert len(set(epoch1)) == 9 and epoch1 != epoch0  # reshuffled with seed + epoch


def test_sampler_ranks_split_each_global_batch_without_overlap():
    ranks = [EpochSampler(12, batch_size=2, seed=0, rank=r, world_size=3) for r in range(3)]
    batches = [s.next_batch() for s in ranks]
    single = EpochSampler(12, batch_size=6, seed=0).next_batch()
    assert sorted(i for b in batches for i in b) == sorted(single)


def test_optimizer_state_survives_the_tensor_json_split():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=0.1)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    tensors, meta = optimizer_state(opt)
    assert set(tensors) == {f"optim.{i}.{k}" for i in (0, 1) for k in ("step", "exp_avg", "exp_avg_sq")}
    fresh = torch.optim.AdamW(torch.nn.Linear(3, 2).parameters(), lr=0.5)
    load_optimizer_state(fresh, tensors, meta)
    for i in (0, 1):
        for key in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(fresh.state_dict()["state"][i][key], opt.state_dict()["state"][i][key])
    assert fresh.param_groups[0]["lr"] == 0.1


def test_step_seed_fixes_all_generators():
    seed_everything(step_seed(3, 7, 0))
    first = (torch.rand(2).tolist(), np.random.rand(), random.random())
    seed_everything(step_seed(3, 7, 0))
    assert (torch.rand(2).tolist(), np.random.rand(), random.random()) == first
    assert step_seed(3, 7, 0) != step_seed(3, 8, 0) != step_seed(3, 7, 1)


def _unigram_entropy(records) -> float:
    counts = Counter(int(z) for r in records for z in r.atomic_numbers)
    total = sum(counts.values())
    return -sum(n / total * math.log(n / total) for n in counts.values())


def test_tiny_recipe_trains_on_cpu_and_beats_the_unigram_baseline(tmp_path):
    from unigen.training.data import load_records

    code = main(
        [
            "train",
            str(TINY),
            "--set",
            f"train.out_dir={tmp_path}",
            "--set",
            "train.progress=false",
            "--set",
            "train.device=cpu",
        ]
    )
    assert code == 0
    rows = list(csv.DictReader((tmp_path / "metrics.csv").open()))
    assert [int(r["step"]) for r in rows] == list(range(10, 151, 10))
    first, last = float(rows[0]["loss"]), np.mean([float(r["loss"]) for r in rows[-3:]])
    records, _ = load_records(load_recipe(TINY).data)
    # predicting the atom-type frequencies alone gives the unigram entropy; the graph must help
    assert last < 0.9 * _unigram_entropy(records) < first
    assert float(rows[-1]["accuracy"]) > 0.6
    assert (tmp_path / "checkpoints" / "step_00000150" / "model.safetensors").is_file()
    assert len(list((tmp_path / "checkpoints").iterdir())) == 2  # keep_last: 2


class _Killed(Exception):
    pass


def _kill_at(step):
    def hook(done):
        if done == step:
            raise _Killed

    return hook


def test_a_run_killed_and_resumed_ends_with_the_same_weights(tmp_path):
    sets = QUIET + [
        "train.steps=30",
        "train.ckpt_every=10",
        "train.log_every=5",
        "train.keep_last=10",
        "shared.width=16",
    ]
    straight = train(load_recipe(TINY, sets + [f"train.out_dir={tmp_path / 'a'}"]))
    with pytest.raises(_Killed):  # killed after step 17: the last checkpoint is step 10
        train(load_recipe(TINY, sets + [f"train.out_dir={tmp_path / 'b'}"]), on_step=_kill_at(17))
    assert sorted(p.name for p in (tmp_path / "b" / "checkpoints").iterdir()) == ["step_00000010"]
    assert (
        main(
            [
                "train",
                str(TINY),
                "--resume",
                str(tmp_path / "b"),
                *sum([["--set", s] for s in sets], []),
                "--set",
                f"train.out_dir={tmp_path / 'b'}",
            ]
        )
        == 0
    )
    resumed = tmp_path / "b" / "checkpoints" / "step_00000030"
    for name in ("model.safetensors", "trainer.safetensors"):
        a, b = load_file(straight / name), load_file(resumed / name)
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a), name
    log_a = [(r["step"], r["loss"]) for r in csv.DictReader((tmp_path / "a" / "metrics.csv").open())]
    log_b = [(r["step"], r["loss"]) for r in csv.DictReader((tmp_path / "b" / "metrics.csv").open())]
    assert log_a == log_b  # rows written before the kill after step 10 were dropped and redone


def test_resume_refuses_changed_model_arguments(tmp_path, capsys):
    sets = QUIET + ["train.steps=4", "shared.width=16", f"train.out_dir={tmp_path}"]
    train(load_recipe(TINY, sets))
    code = main(
        [
            "train",
            str(TINY),
            "--resume",
            str(tmp_path),
            *sum([["--set", s] for s in sets + ["model.n_layers=3"]], []),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0
    assert "changes model arguments n_layers" in err


def test_a_fresh_run_refuses_to_overwrite_checkpoints(tmp_path, capsys):
    sets = QUIET + ["train.steps=2", "shared.width=16", f"train.out_dir={tmp_path}"]
    train(load_recipe(TINY, sets))
    assert main(["train", str(TINY), *sum([["--set", s] for s in sets], [])]) == 2
    assert "already holds checkpoints; pass --resume" in capsys.readouterr().err


@requires_data("qm9", "qm9.csv")
def test_a_recipe_can_name_a_benchmark_dataset(tmp_path):
    recipe = load_recipe(
        REPO / "recipes" / "tiny" / "toy_qm9.yaml",
        QUIET + ["train.steps=3", "data.limit=100", f"train.out_dir={tmp_path}"],
    )
    final = train(recipe)
    from unigen import checkpoint

    card = checkpoint.load(final).card
    assert card["dataset"] == {"dataset": "qm9", "path": None, "split": "train", "records": 100}
    assert set(card["state"]["atom_types"]) <= {"C", "N", "O", "F"}


def test_bf16_autocast_trains_on_cpu_when_asked(tmp_path):
    final = train(
        load_recipe(
            TINY,
            QUIET + ["train.steps=3", "train.precision=bf16", "shared.width=16", f"train.out_dir={tmp_path}"],
        )
    )
    weights = load_file(final / "model.safetensors")
    assert all(
        v.dtype == torch.float32 and torch.isfinite(v).all() for v in weights.values()
    )  # master weights stay fp32


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_asking_for_cuda_without_it_is_a_usage_error(tmp_path, capsys):
    assert main(["train", str(TINY), "--set", "train.device=cuda", "--set", f"train.out_dir={tmp_path}"]) == 2
    assert "device 'cuda' requested but no CUDA device is available" in capsys.readouterr().err


def test_tensorboard_logs_or_a_clear_message(tmp_path, capsys):
    import importlib.util

    code = main(
        [
            "train",
            str(TINY),
            *sum(
                [
                    ["--set", s]
                    for s in QUIET
                    + [
                        "train.steps=2",
                        "shared.width=16",
                        "train.tensorboard=true",
                        f"train.out_dir={tmp_path}",
                    ]
                ],
                [],
            ),
        ]
    )
    if importlib.util.find_spec("tensorboard") is None:
        assert code == 2 and "needs the tensorboard package" in capsys.readouterr().err
    else:
        assert code == 0 and list((tmp_path / "tensorboard").iterdir())
