"""``unigen env``: what a bug report needs: versions, devices, data locations, accelerators."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import platform
import sys

import click

# distribution name -> shown label; versions come from package metadata (no heavy imports)
LIBRARIES = [
    "torch",
    "torch-geometric",
    "rdkit",
    "pymatgen",
    "ase",
    "e3nn",
    "smact",
    "spglib",
    "networkx",
    "numpy",
    "scipy",
    "safetensors",
    "fcd",
    "click",
    "pyyaml",
    "tqdm",
]
OPTIONAL = {
    "torch-scatter": "torch_scatter",
    "flash-attn": "flash_attn",
    "triton": "triton",
    "tensorboard": "tensorboard",
}


@click.command("env")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
def command(as_json):
    """Print versions, devices, data directory and optional accelerators."""
    report = collect()
    if as_json:
        import json

        click.echo(json.dumps(report, indent=1))
        return
    for section, values in report.items():
        click.echo(f"{section}:")
        for key, value in values.items():
            click.echo(f"  {key}: {value}")


def collect() -> dict:
    """The environment report as nested dicts of strings."""
    from unigen._version import __version__
    from unigen.checkpoint import git_commit
    from unigen.paths import cache_dir, data_dir

    return {
        "unigen": {
            "version": __version__,
            "git_commit": git_commit(),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
        },
        "libraries": {name: _version(name) for name in LIBRARIES},
        "devices": _devices(),
        "data": {"data_dir": _described(data_dir()), "cache_dir": _described(cache_dir())},
        "optional accelerators": {
            name: _version(name) if importlib.util.find_spec(module) else "not installed"
            for name, module in OPTIONAL.items()
        },
    }


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _devices() -> dict:
    import torch

    out = {
        "cpu_threads": str(torch.get_num_threads()),
        "cuda": "available" if torch.cuda.is_available() else "not available",
    }
    if torch.cuda.is_available():
        out["cuda_version"] = str(torch.version.cuda)
        out["bf16"] = str(torch.cuda.is_bf16_supported())
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            out[f"cuda:{i}"] = f"{props.name}, {props.total_memory / 2**30:.1f} GiB"
    mps = getattr(torch.backends, "mps", None)
    out["mps"] = "available" if mps is not None and mps.is_available() else "not available"
    return out


def _described(path) -> str:
    return f"{path} ({'exists' if path.exists() else 'missing'})"
