"""A corpus of hostile and oversized inputs for every command that reads a file or an option,
generated at test time (nothing hostile is committed).

``build(root, mutants=k)`` writes the files under ``root`` and returns the cases: each is a
command line for ``unigen`` plus a category. Two kinds of input:

- hand-made hostile files, one per known failure (gzip bombs, 20,000-atom SMILES, XYZ frames
  claiming 10^5 atoms, CIFs with 10^5 atoms in P1, YAML "billion laughs", hostile checkpoint
  cards, absurd CLI options, ...);
- ``mutants`` random mutations of each fixture in ``data/fixtures`` (truncation, byte flips,
  repeated lines, huge or non-finite numbers, deleted lines), each run through every command
  that reads its format.

The cases are sized so that every one must end within seconds: a hang or a crash is a bug.
"""

from __future__ import annotations

import gzip
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "data" / "fixtures"
TINY = REPO / "recipes" / "tiny" / "toy.yaml"
CARD_MODEL = REPO / "unigen" / "pretrained" / "gdss-community-small"


@dataclass
class Case:
    name: str  # what the input is
    category: str  # smiles, csv, sdf, xyz, cif, poscar, graphs, formulas, recipe, card, options, mutant
    argv: list[str]  # unigen's arguments


def commands_for(path: Path, root: Path) -> list[list[str]]:
    """Every command that reads ``path``'s kind of file."""
    name = path.name.lower()
    score = ["score", str(path), "-j", "1", "--no-progress"]
    finetune = [
        "finetune",
        "--data",
        str(path),
        "--out",
        str(root / "runs" / f"ft-{path.name}"),
        "--set",
        "train.steps=1",
    ]
    if name.endswith((".smi", ".smi.gz", ".csv", ".txt")):
        return [score, [finetune[0], "gdss-qm9", *finetune[1:]]]
    if name.endswith((".sdf", ".xyz", ".extxyz")):
        return [score, ["tokenize", str(path), "--stats"]]
    if name.endswith(".cif") or "poscar" in name:
        return [
            score,
            ["tokenize", str(path), "--stats"],
            ["predict-structure", "--truth", str(path), "--limit", "1", "--rank-steps", "1"],
        ]
    if name.endswith((".json", ".edgelist")):
        return [score + ["--kind", "graphs"], [finetune[0], str(CARD_MODEL), *finetune[1:]]]
    if name.endswith(".formulas"):
        return [["predict-structure", "--input", str(path), "--limit", "2", "--rank-steps", "1"]]
    if name.endswith(".yaml"):
        return [["train", str(path), "--set", f"train.out_dir={root / 'runs' / path.stem}"]]
    raise ValueError(f"no command reads {path}")


# ---------------------------------------------------------------------------------------
# Hand-made hostile files


def _cif(sites: int, group: str = "P 1", a: float = 100.0, occupancy: str = "1") -> str:
    rng = random.Random(sites)
    cell = "".join(f"_cell_length_{x} {a}\n" for x in "abc") + "".join(
        f"_cell_angle_{x} 90\n" for x in ("alpha", "beta", "gamma")
    )
    head = f"data_x\n{cell}_symmetry_space_group_name_H-M '{group}'\nloop_\n_atom_site_label\n"
    head += "_atom_site_type_symbol\n_atom_site_fract_x\n_atom_site_fract_y\n_atom_site_fract_z\n"
    rows = "".join(
        f"C{k} C {rng.random():.5f} {rng.random():.5f} {rng.random():.5f} {occupancy}\n" for k in range(sites)
    )
    return head + "_atom_site_occupancy\n" + rows


def _laughs(levels: int = 9) -> str:
    text = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    for k in range(1, levels):
        text += f"a{k}: &a{k} [{', '.join([f'*a{k - 1}'] * 9)}]\n"
    return text


HOSTILE_FILES: dict[str, tuple[str, object]] = {
    # name -> (category, contents: str, bytes, or a callable returning them)
    "smiles_20000_atoms.smi": ("smiles", lambda: "C" * 20_000 + "\nCCO\n"),
    "smiles_10MB_line.smi": ("smiles", lambda: "C" * 10_000_000 + "\n"),
    "smiles_5KB.smi": ("smiles", lambda: "c1ccccc1" * 640 + "\nCCO\n"),
    "smiles_wildcard.smi": ("smiles", "*\n[*]C\nC*\n"),
    "smiles_nul.smi": ("smiles", b"CC\x00O\n"),
    "smiles_deep_branches.smi": ("smiles", lambda: "C(" * 3000 + "C" + ")" * 3000 + "\n"),
    "smiles_ring_digits.smi": ("smiles", lambda: "C1" * 2000 + "\n"),
    "smiles_empty.smi": ("smiles", ""),
    "smiles_bomb.smi.gz": ("smiles", lambda: gzip.compress(b"C" * (300 << 20), 9)),
    "smiles_bad_gzip.smi.gz": ("smiles", b"\x1f\x8b\x08\x00garbage"),
    "smiles_latin1.smi": ("smiles", "CC\xe9\n".encode("latin-1")),
    "csv_field_200k.csv": ("csv", lambda: "smiles,name\n" + "C" * 200_000 + ",x\nCCO,y\n"),
    "csv_field_2M.csv": ("csv", lambda: "smiles,name\nCCO,y\n" + "C" * 2_000_000 + ",x\n"),
    "csv_no_column.csv": ("csv", "a,b\n1,2\n"),
    "csv_bad_quote.csv": ("csv", 'smiles,name\n"CCO,x\nCC,"y\n'),
    "xyz_claims_100000.xyz": ("xyz", "100000\n\nH 0 0 0\n"),
    "xyz_100000_lines.xyz": ("xyz", lambda: "100000\n\n" + "H 0 0 0\n" * 100_000),
    "xyz_pbc_2.extxyz": ("xyz", '1\nLattice="1 0 0 0 1 0 0 0 1" pbc="T F"\nH 0 0 0\n'),
    "xyz_lattice_1e9.extxyz": ("xyz", '1\nLattice="1e9 0 0 0 1e9 0 0 0 1e9"\nH 0 0 0\n'),
    "xyz_lattice_short.extxyz": ("xyz", '1\nLattice="1 0 0 0 1"\nH 0 0 0\n'),
    "xyz_nan.xyz": ("xyz", "2\n\nH nan 0 0\nH 0 inf 0\n"),
    "xyz_huge_coords.xyz": ("xyz", "2\n\nH 1e300 0 0\nH 0 0 0\n"),
    "sdf_claims_999_atoms.sdf": (
        "sdf",
        "x\n  RDKit\n\n999999  0  0  0  0  0  0  0  0  0999 V2000\nM  END\n$$$$\n",
    ),
    "sdf_garbage.sdf": ("sdf", "$$$$\n$$$$\nnot a molblock\n$$$$\n"),
    "cif_5000_blocks.cif": (
        "cif",
        lambda: "".join(_cif(1, a=5.0).replace("data_x", f"data_b{k}") for k in range(5000)),
    ),
    "cif_3000_sites_sym.cif": ("cif", lambda: _cif(16, group="F m -3 m", a=20.0)),
    "cif_100000_p1.cif": ("cif", lambda: _cif(100_000)),
    "cif_occupancy_negative.cif": ("cif", lambda: _cif(2, a=5.0, occupancy="-1")),
    "cif_occupancy_nan.cif": ("cif", lambda: _cif(2, a=5.0, occupancy="nan")),
    "cif_negative_cell.cif": ("cif", lambda: _cif(2, a=-5.0)),
    "cif_cell_1e9.cif": ("cif", lambda: _cif(2, a=1e9)),
    "cif_no_blocks.cif": ("cif", "just text\n"),
    "POSCAR_mismatch": ("poscar", "NaCl\n1.0\n5.6 0 0\n0 5.6 0\n0 0 5.6\nNa Cl\n1\nDirect\n0 0 0\n"),
    "POSCAR_100000": ("poscar", "C\n1.0\n5.6 0 0\n0 5.6 0\n0 0 5.6\nC\n100000\nDirect\n0 0 0\n"),
    "POSCAR_nan_scale": ("poscar", "C\nnan\n5.6 0 0\n0 5.6 0\n0 0 5.6\nC\n1\nDirect\n0 0 0\n"),
    "graphs_deep.json": ("graphs", lambda: "[" * 100_000 + "]" * 100_000),
    "graphs_node_1e6.json": ("graphs", '{"graphs": [{"num_nodes": 2, "edges": [[0, 1000000]]}]}'),
    "graphs_1e5_nodes.json": ("graphs", '{"graphs": [{"num_nodes": 100000, "edges": []}]}'),
    "graphs_bad_types.json": (
        "graphs",
        '{"graphs": [{"num_nodes": "x"}, 3, {"num_nodes": 2, "edges": [[0]]}]}',
    ),
    "graphs_node_1e6.edgelist": ("graphs", "0 1\n1 1000000\n"),
    "graphs_negative.edgelist": ("graphs", "0 -1\n"),
    "formulas_huge_count.formulas": ("formulas", "C100000\nNaCl\n"),
    "formulas_unknown.formulas": ("formulas", "Xx2\n\n(((\nNa1e9Cl\n"),
    "formulas_long_line.formulas": ("formulas", lambda: "Na" * 500_000 + "\n"),
    "formulas_csv.formulas": ("formulas", "formula,x\n,1\nNaCl,2\n"),
    "recipe_laughs.yaml": ("recipe", lambda: _laughs()),
    "recipe_recursive_alias.yaml": ("recipe", "family: toy\nmodel: &m {x: *m}\n"),
    "recipe_duplicate_keys.yaml": ("recipe", "family: toy\nfamily: gdss\n"),
    "recipe_deep.yaml": ("recipe", lambda: "family: " + "[" * 100_000 + "]" * 100_000 + "\n"),
    "recipe_binary.yaml": ("recipe", b"\x00\x01\x02\xff"),
    "recipe_python_tag.yaml": ("recipe", "family: !!python/object/apply:os.system ['echo pwned']\n"),
}

# train.KEY=VALUE overrides of the tiny recipe that must each be refused in one line
HOSTILE_TRAIN_SETTINGS = [
    "train.batch_size=0",
    "train.ckpt_every=0",
    "train.lr=-1",
    "train.lr=.nan",
    "train.betas=[0.9]",
    "train.betas=[0.9, 1.5]",
    "train.cpu_threads=-1",
    "train.out_dir=",
    "train.steps=0",
    "train.steps=-5",
    "train.steps=" + "9" * 50,
    "train.steps=1000000000000000000",
    "data.limit=-1",
    "train.ema_decay=1.5",
    "train.ema_decay=.nan",
    "train.warmup=-1",
    "train.seed=-1",
    "train.keep_last=0",
    "train.grad_clip=.inf",
    "train.weight_decay=-1",
    "train.min_lr_ratio=2",
    "train.log_every=0",
    "model.d_model=0",
    "model.mask_rate=.nan",
    "train.device=meta",
    "data.path=/nonexistent.smi",
    f"train.out_dir={TINY}",
]

# hostile generate options (the model is the small shipped gdss-community-small)
HOSTILE_OPTIONS = [
    ["--device", "bogus"],
    ["--device", "meta"],
    ["--device", "cuda:99"],
    ["--seed", str(2**70)],
    ["--seed", "-1"],
    ["-n", "1e8"],
    ["-n", "100000000"],
    ["--batch-size", "100000000"],
    ["-n", "0"],
    ["--set", "sampling.snr=nan"],
    ["--set", "sampling.snr=.nan"],
    ["--set", "sampling.scale_eps=.inf"],
    ["--set", "sampling.scale_eps=inf"],
    ["--set", "sampling.eps=0"],
    ["--steps", "0"],
    ["--steps", str(10**30)],
    ["--set", "sampling.bogus=1"],
    ["--set", "snr"],
    ["--set", "sampling.steps=-1"],
]

# card changes: key path -> hostile value
HOSTILE_CARD_VALUES = [
    ("state.node_counts", "many"),
    ("state.node_counts", [0] * 21),
    ("state.node_counts", [-1] * 21),
    ("state.max_nodes", 100_000),
    ("state.max_nodes", -1),
    ("state.num_train_hashes", 10**9),
    ("state.num_train_hashes", -1),
    ("model_args.max_nodes", 100_000),
    ("model_args.net_x.depth", 0),
    ("model_args.sde_x.sigma_max", float("nan")),
    ("family", ["gdss"]),
    ("unigen_checkpoint", 99),
    ("state", None),
    ("weights_sha256", "0" * 64),
]


# ---------------------------------------------------------------------------------------
# Mutations of the fixtures


def _mutate(data: bytes, rng: random.Random) -> bytes:
    lines = data.split(b"\n")
    kind = rng.randrange(7)
    if kind == 0:  # truncated
        return data[: rng.randrange(max(1, len(data)))]
    if kind == 1:  # flipped bytes
        out = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            if out:
                out[rng.randrange(len(out))] = rng.randrange(256)
        return bytes(out)
    if kind == 2:  # a line repeated many times
        k = rng.randrange(len(lines))
        return b"\n".join(lines[:k] + [lines[k]] * rng.choice([10, 1000, 20000]) + lines[k:])
    if kind == 3:  # a number replaced by a huge, negative or non-finite one
        tokens = data.split(b" ")
        k = rng.randrange(len(tokens))
        tokens[k] = rng.choice([b"1e308", b"-1", b"nan", b"inf", b"99999999999999999999", b"0", b"-0.0"])
        return b" ".join(tokens)
    if kind == 4:  # a deleted line
        k = rng.randrange(len(lines))
        return b"\n".join(lines[:k] + lines[k + 1 :])
    if kind == 5:  # the whole file repeated
        return data * rng.choice([2, 50])
    return bytes(rng.randrange(256) for _ in range(rng.choice([1, 100, 5000])))  # noise


def _fixtures() -> list[Path]:
    return sorted(p for p in FIXTURES.iterdir() if p.is_file() and p.name != "README.md")


# ---------------------------------------------------------------------------------------
# The corpus


def build(root, mutants: int = 0, seed: int = 0, only: set[str] | None = None) -> list[Case]:
    """Write the corpus under ``root``; return its cases (``only``: these hostile file names)."""
    root = Path(root)
    (root / "files").mkdir(parents=True, exist_ok=True)
    cases = []
    for name, (category, contents) in HOSTILE_FILES.items():
        if only is not None and name not in only:
            continue
        path = _write(root / "files" / name, contents() if callable(contents) else contents)
        cases += [Case(name, category, argv) for argv in commands_for(path, root)]
    if only is not None:
        return cases
    cases += _recipe_cases(root)
    cases += _card_cases(root)
    cases += [
        Case(
            f"generate {' '.join(o)}",
            "options",
            ["generate", "--model", str(CARD_MODEL), "-n", "2", "-o", str(root / "g.json"), *o],
        )
        for o in HOSTILE_OPTIONS
    ]
    cases += _mutant_cases(root, mutants, random.Random(seed))
    return cases


def _write(path: Path, contents) -> Path:
    path.write_bytes(contents if isinstance(contents, bytes) else contents.encode("utf-8"))
    return path


def _recipe_cases(root: Path) -> list[Case]:
    out = str(root / "runs" / "settings")
    return [
        Case(
            f"train --set {setting}",
            "recipe",
            ["train", str(TINY), "--set", f"train.out_dir={out}", "--set", setting],
        )
        for setting in HOSTILE_TRAIN_SETTINGS
    ]


def _card_cases(root: Path) -> list[Case]:
    import yaml

    cases = []
    for k, (key, value) in enumerate(HOSTILE_CARD_VALUES):
        directory = root / "cards" / f"card{k}"
        shutil.copytree(CARD_MODEL, directory, dirs_exist_ok=True)
        card = yaml.safe_load((directory / "card.yaml").read_text())
        *parents, last = key.split(".")
        node = card
        for part in parents:
            node = node[part]
        node[last] = value
        (directory / "card.yaml").write_text(yaml.safe_dump(card))
        cases.append(Case(f"card {key}={str(value)[:30]}", "card", _generate(directory, root)))
    for name, text in (
        ("laughs", _laughs()),
        ("deep", "a: " + "[" * 50_000 + "]" * 50_000),
        ("dup", "family: gdss\nfamily: gdss\n"),
    ):
        directory = root / "cards" / name
        shutil.copytree(CARD_MODEL, directory, dirs_exist_ok=True)
        (directory / "card.yaml").write_text(text)
        cases.append(Case(f"card {name}", "card", _generate(directory, root)))
    nan = root / "cards" / "nan_weights"
    shutil.copytree(CARD_MODEL, nan, dirs_exist_ok=True)
    _poison_weights(nan)
    cases.append(Case("card NaN weights", "card", _generate(nan, root)))
    return cases


def _generate(model: Path, root: Path) -> list[str]:
    return ["generate", "--model", str(model), "-n", "2", "-o", str(root / "g.json")]


def _poison_weights(directory: Path) -> None:
    """NaN weights with a checksum that matches (the card is rewritten to it)."""
    import torch
    import yaml
    from safetensors.torch import load_file, save_file

    from unigen.checkpoint import file_sha256

    weights = load_file(directory / "model.safetensors")
    name = next(k for k, v in weights.items() if v.is_floating_point())
    weights[name] = torch.full_like(weights[name], float("nan"))
    save_file(weights, directory / "model.safetensors")
    card = yaml.safe_load((directory / "card.yaml").read_text())
    card["weights_sha256"] = file_sha256(directory / "model.safetensors")
    (directory / "card.yaml").write_text(yaml.safe_dump(card))


def _mutant_cases(root: Path, mutants: int, rng: random.Random) -> list[Case]:
    cases = []
    for fixture in _fixtures():
        data = fixture.read_bytes()
        for k in range(mutants):
            name = f"{fixture.stem}_m{k}{fixture.suffix}" if fixture.suffix else f"{fixture.name}_m{k}"
            path = _write(root / "files" / name, _mutate(data, rng))
            cases += [
                Case(f"mutant {k} of {fixture.name}", "mutant", argv) for argv in commands_for(path, root)
            ]
    recipe = TINY.read_bytes()
    shutil.copy(TINY.parent / "molecules.smi", root / "files" / "molecules.smi")  # a mutant may still train
    for k in range(mutants):
        path = _write(root / "files" / f"recipe_m{k}.yaml", _mutate(recipe, rng))
        cases += [
            Case(f"mutant {k} of the tiny recipe", "recipe", argv + ["--set", "train.steps=2"])
            for argv in commands_for(path, root)
        ]
    return cases
