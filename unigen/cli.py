"""The ``unigen`` command line: a thin click group over the Python API.

Each subcommand lives in ``unigen/commands/<name>.py`` and exposes a click command named
``command``; modules are imported only when their command runs, so ``unigen --help`` stays
fast (importing torch + RDKit + pymatgen costs seconds). Every ``UnigenError`` becomes a
one-line ``error: ...`` on stderr with its exit code; no traceback reaches the user. Ctrl-C
exits with 130 (the shell's code for SIGINT) and, since every writer is atomic, leaves no
half-written file.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

# command name -> (module under unigen.commands, one-line help)
COMMANDS = {
    "data": ("data", "List, fetch and inspect benchmark datasets."),
    "draw": ("draw", "Draw the structures of a file (molecule grid, cells, graphs) to a PNG."),
    "env": ("env", "Print versions, devices, data directory and optional accelerators."),
    "finetune": ("finetune", "Fine-tune a checkpoint on your own data."),
    "generate": ("generate", "Generate molecules or graphs with a trained model."),
    "predict-structure": ("predict_structure", "Predict crystal structures from a formula (UniGenX)."),
    "recipes": ("recipes", "List and show the training recipes shipped with unigen."),
    "score": ("score", "Score generated structures with the field's standard metrics."),
    "tokenize": ("tokenize", "Tokenize 3D structures with the octree tokenizer."),
    "train": ("train", "Train a model from a recipe."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx):
        return sorted(name for name, (module, _) in COMMANDS.items() if _module_exists(module))

    def get_command(self, ctx, name):
        if name not in COMMANDS or not _module_exists(COMMANDS[name][0]):
            return None
        module = importlib.import_module(f"unigen.commands.{COMMANDS[name][0]}")
        return module.command

    def format_commands(self, ctx, formatter):
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _module_exists(module: str) -> bool:
    return importlib.util.find_spec(f"unigen.commands.{module}") is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="unigen")
def cli():
    """unigen: generate and score molecules, 3D molecules, crystals and graphs."""


def main(argv=None) -> int:
    """Console-script entry point: run the CLI, turning errors into one-line messages."""
    from unigen.errors import UnigenError

    # torch backs CPU tensors of >= 2 MiB with transparent huge pages when this is set before its
    # first allocation (no torch import happens before this line): a GDSS grid training step (8
    # graphs of 361 nodes) took 4.6 s instead of 6.5 s on the development VM, with a third of the
    # system time (page faults of fresh large tensors). A user's own setting wins.
    os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")

    try:
        cli.main(args=argv, standalone_mode=False)
    except UnigenError as err:
        click.echo(f"error: {err}", err=True)
        return err.exit_code
    except click.exceptions.Abort as err:  # click turns Ctrl-C into Abort (from KeyboardInterrupt)
        if isinstance(err.__cause__, KeyboardInterrupt):
            click.echo("error: interrupted", err=True)
            return 130
        click.echo("error: aborted", err=True)
        return 1
    except click.ClickException as err:
        click.echo(f"error: {err.format_message()}", err=True)
        return err.exit_code
    except (FileNotFoundError, PermissionError, IsADirectoryError) as err:
        click.echo(f"error: {err.strerror}: {err.filename}", err=True)
        return 1
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
