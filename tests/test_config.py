"""Recipes: YAML -> dataclasses, unknown keys and wrong types rejected, --set overrides."""

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from unigen.cli import main
from unigen.config import DataConfig, TrainConfig, load_recipe, parse_recipe, recipe_to_dict
from unigen.construct import from_dict
from unigen.errors import UsageError

TINY = Path(__file__).resolve().parents[1] / "recipes" / "tiny" / "toy.yaml"
BASE = {"family": "toy", "model": {"d_model": 16}, "data": {"path": "x.smi"}, "train": {"steps": 5}}


def _error(raw, overrides=()) -> str:
    with pytest.raises(UsageError) as info:
        parse_recipe(raw, overrides)
    assert info.value.exit_code == 2
    message = str(info.value)
    assert "\n" not in message
    return message


def test_tiny_recipe_maps_onto_dataclasses():
    recipe = load_recipe(TINY)
    assert recipe.family == "toy"
    assert recipe.model.d_model == 32  # "${width}" from the shared section
    assert (
        isinstance(recipe.train, TrainConfig) and recipe.train.lr == 3e-3
    )  # YAML 1.1 reads 3e-3 as a string
    assert isinstance(recipe.data, DataConfig)
    assert Path(recipe.data.path) == TINY.parent / "molecules.smi"  # resolved against the recipe's folder


def test_overrides_are_parsed_as_yaml_and_shared_values_propagate():
    recipe = load_recipe(
        TINY,
        ["train.lr=1e-4", "train.betas=[0.8, 0.9]", "shared.width=8", "train.device=cpu", "data.limit=7"],
    )
    assert recipe.train.lr == 1e-4 and recipe.train.betas == [0.8, 0.9]
    assert recipe.model.d_model == 8 and recipe.train.device == "cpu" and recipe.data.limit == 7


def test_unknown_keys_are_refused_with_the_valid_keys():
    message = _error(BASE, ["train.lrr=1"])
    assert message.startswith("recipe: unknown key 'lrr' in section 'train'; valid keys: batch_size, betas,")
    assert "lr," in message
    assert "valid keys: d_model, mask_rate, n_heads, n_layers" in _error(BASE, ["model.width=3"])
    assert (
        "unknown key 'trian' in the recipe's top level; valid keys: data, family, model, shared, train"
        in _error(BASE, ["trian.lr=1"])
    )


@pytest.mark.parametrize(
    "override, expected",
    [
        ("train.steps=ten", "train.steps must be an integer, got 'ten' (str)"),
        ("train.steps=1.5", "train.steps must be an integer, got 1.5 (float)"),
        ("train.progress=1", "train.progress must be true or false, got 1 (int)"),
        ("train.lr=fast", "train.lr must be a number, got 'fast' (str)"),
        ("train.device=gpu", "train.device must be one of 'auto', 'cpu', 'cuda', got 'gpu' (str)"),
        ("train.betas=0.9", "train.betas must be a list of a number, got 0.9 (float)"),
        ("data.limit=many", "data.limit must be an integer or null, got 'many' (str)"),
        ("model.n_heads=3", "d_model (16) must be divisible by n_heads (3)"),
    ],
)
def test_wrong_types_name_the_key_the_type_and_the_value(override, expected):
    assert expected in _error(BASE, [override])


def test_integers_widen_to_floats_but_not_the_reverse():
    assert parse_recipe(BASE, ["train.lr=1"]).train.lr == 1.0
    assert isinstance(parse_recipe(BASE, ["train.lr=1"]).train.lr, float)


def test_malformed_overrides_are_refused():
    assert "--set expects KEY=VALUE" in _error(BASE, ["train.lr"])
    assert "'train.steps' is a value, not a section" in _error(BASE, ["train.steps.x=1"])


def test_data_needs_exactly_one_source():
    assert "exactly one of 'dataset' or 'path'" in _error({**BASE, "data": {}})
    assert "exactly one of 'dataset' or 'path'" in _error({**BASE, "data": {"path": "a", "dataset": "qm9"}})


def test_shared_references_must_exist():
    raw = {**BASE, "model": {"d_model": "${widht}"}, "shared": {"width": 8}}
    assert "model.d_model refers to unknown shared value '${widht}'; defined: width" in _error(raw)


def test_unknown_family_lists_the_available_ones():
    assert "unknown model family 'gdsss'; available:" in _error({**BASE, "family": "gdsss"})


def test_recipe_round_trips_through_its_dict():
    recipe = load_recipe(TINY, ["train.steps=9"])
    assert parse_recipe(recipe_to_dict(recipe)) == recipe


def test_nested_dataclass_sections_are_validated_too():
    @dataclass
    class Inner:
        width: int = 4

    @dataclass
    class Outer:
        inner: Inner = field(default_factory=Inner)
        name: str = "x"

    assert from_dict(Outer, {"inner": {"width": 9}}, "model").inner == Inner(9)
    with pytest.raises(UsageError, match=r"unknown key 'wdth' in section 'model.inner'; valid keys: width"):
        from_dict(Outer, {"inner": {"wdth": 9}}, "model")


def test_recipe_file_errors_through_the_cli(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("family: toy\ntrain:\n  steps: 3\n   lr: 2\n")
    assert main(["train", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: recipe {bad}: not valid YAML (line 4, column")
    assert err.count("\n") == 1
    assert main(["train", str(tmp_path / "missing.yaml")]) == 2
    assert "recipe file" in capsys.readouterr().err
    typo = tmp_path / "typo.yaml"
    typo.write_text(TINY.read_text().replace("  lr: 3e-3", "  lrr: 3e-3"))
    assert main(["train", str(typo)]) == 2
    assert "unknown key 'lrr' in section 'train'; valid keys:" in capsys.readouterr().err
    assert main(["train", str(TINY), "--set", "train.steps=many"]) == 2
    assert "train.steps must be an integer, got 'many' (str)" in capsys.readouterr().err


RECIPES = sorted((TINY.parents[1]).rglob("*.yaml"))


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_shipped_recipe_parses(path):
    """A typo in a recipe (unknown key, a sampler name that does not exist) fails here, not
    hours into someone's run."""
    recipe = load_recipe(path)
    assert recipe.train.steps > 0


@pytest.mark.parametrize(
    "override, expected",
    [
        ("train.batch_size=0", "batch_size must lie in [1, 1,000,000], got 0"),
        ("train.ckpt_every=0", "ckpt_every must lie in [1, inf], got 0"),
        ("train.lr=-1", "lr must lie in [0, 10], got -1.0"),
        ("train.lr=.nan", "train.lr must be a finite number, got nan"),
        ("train.betas=[0.9]", "betas must be two numbers in [0, 1), got [0.9]"),
        ("train.betas=[0.9, 1.5]", "betas must be two numbers in [0, 1)"),
        ("train.cpu_threads=-1", "cpu_threads must lie in [1, 1,024], got -1"),
        ("train.out_dir=", "out_dir must name a directory, got ''"),
        ("train.steps=0", "steps must lie in [1, 1,000,000,000], got 0"),
        ("train.steps=10000000000", "steps must lie in [1, 1,000,000,000]"),
        ("train.steps=" + "9" * 50, "train.steps must be below 2**63 in absolute value"),
        ("data.limit=-1", "limit must be a positive number of records or null, got -1"),
        ("train.ema_decay=1.5", "ema_decay must lie in [0, 1), got 1.5"),
        ("train.ema_decay=1", "ema_decay must lie in [0, 1), got 1.0"),
        ("train.ema_decay=.nan", "train.ema_decay must be a finite number, got nan"),
        ("train.grad_clip=.inf", "train.grad_clip must be a finite number, got inf"),
    ],
)
def test_out_of_range_train_values_name_the_key(override, expected):
    assert expected in _error(BASE, [override])


GDSS = {"family": "gdss", "model": {}, "data": {"path": "x.smi"}}


@pytest.mark.parametrize(
    "override, expected",
    [
        ("model.net_x.adj_powers=0", "adj_powers = 0: every score-network size must be >= 1"),
        ("model.sde_x.num_scales=0", "num_scales must be a positive integer, got 0"),
        (
            "model.sde_adj={kind: VP, beta_min: 2, beta_max: 1}",
            "VP SDE needs 0 < beta_min < beta_max, got 2.0 and 1.0",
        ),
        ("model.max_nodes=100000", "model.max_nodes is 100,000 nodes, over the limit of 5,000"),
        ("model.max_nodes=-1", "model.max_nodes must be >= 0, got -1"),
        ("model.sampling.scale_eps=.inf", "model.sampling.scale_eps must be a finite number, got inf"),
        ("model.sampling.snr=.nan", "model.sampling.snr must be a finite number, got nan"),
    ],
)
def test_model_values_are_checked_where_the_recipe_is_read(override, expected):
    assert expected in _error(GDSS, [override])


def test_out_dir_naming_an_existing_file_is_refused(tmp_path):
    (tmp_path / "f").write_text("")
    assert f"out_dir {tmp_path / 'f'} is an existing file" in _error(
        BASE, [f"train.out_dir={tmp_path / 'f'}"]
    )


LAUGHS = "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
    f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]\n" for p, c in zip("abcdefgh", "bcdefghi")
)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("family: toy\nfamily: gdss\n", "(line 2, column 1): duplicate key 'family'"),
        ("family: toy\nmodel: {d_model: 8, d_model: 16}\n", "duplicate key 'd_model'"),
        ("a: &a [*a]\n", "a YAML alias refers to itself"),
        ("family: to\x11y\n", "not valid YAML: unacceptable character #x0011"),
        (LAUGHS, "its YAML aliases expand to over 100,000 values"),
        ("x: " + "[" * 100_000 + "]" * 100_000 + "\n", "65 levels of nesting, over the limit of 64"),
    ],
)
def test_hostile_recipe_yaml_is_refused_in_one_line(tmp_path, text, expected):
    path = tmp_path / "r.yaml"
    path.write_text(text)
    with pytest.raises(UsageError) as info:
        load_recipe(path)
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_yaml_merge_keys_and_anchors_still_work(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(
        "family: toy\nshared: {base: &b {d_model: 8, n_heads: 2}}\nmodel:\n  <<: *b\n  d_model: 16\n"
        "data: {path: x.smi}\n"
    )
    assert load_recipe(path).model.d_model == 16
