"""README.md: the commands it shows run as written, and .ci/run finds its three commands.

A fenced block right after a ``<!-- runnable -->`` line is run in an empty directory: bash
blocks line by line through the CLI's ``main`` (in-process; a ``# comment`` ends a line), python
blocks with ``exec``. Blocks after ``<!-- install -->``, ``<!-- main -->`` and ``<!-- test -->``
hold exactly one command each (``.ci/run`` reads the first line).
"""

import re
import shlex
from pathlib import Path

import pytest

from unigen.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"


def blocks_after(marker: str) -> list[tuple[str, list[str]]]:
    """(language, lines) of each fenced block that follows a ``<!-- marker -->`` line."""
    lines, found = README.read_text().splitlines(), []
    for index, line in enumerate(lines):
        if line.strip() != f"<!-- {marker} -->":
            continue
        start = next(k for k in range(index + 1, len(lines)) if lines[k].startswith("```"))
        end = next(k for k in range(start + 1, len(lines)) if lines[k].startswith("```"))
        found.append((lines[start][3:].strip(), lines[start + 1 : end]))
    return found


def commands(lines: list[str]) -> list[str]:
    stripped = [re.sub(r"\s+#.*$", "", line).strip() for line in lines]
    return [line for line in stripped if line and not line.startswith("#")]


@pytest.mark.parametrize("marker", ["install", "main", "test"])
def test_ci_markers_hold_exactly_one_command(marker):
    (block,) = blocks_after(marker)
    assert len(commands(block[1])) == 1


def test_there_are_runnable_blocks_in_bash_and_python():
    assert {language for language, _ in blocks_after("runnable")} == {"bash", "python"}


def runnable(language: str):
    return [lines for lang, lines in blocks_after("runnable") if lang == language]


@pytest.mark.slow  # every command of the README (generate, predict-structure, train, ...): ~15 s
def test_runnable_bash_commands_run_as_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for block in runnable("bash"):
        for command in commands(block):
            words = shlex.split(command)
            assert words[0] == "unigen", f"README command does not start with unigen: {command}"
            code = main(words[1:])
            err = capsys.readouterr().err
            assert code == 0, f"`{command}` exited {code}: {err}"


def test_runnable_python_blocks_run_as_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for block in runnable("python"):
        exec(compile("\n".join(block), "README.md", "exec"), {"__name__": "__readme__"})
    out = capsys.readouterr().out
    assert "'smiles': 'c1ccccc1O'" in out and "draw_file" in out  # the props, then help(unigen)
