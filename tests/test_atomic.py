"""atomic_write: no half-written files, and otherwise the same result as a plain write."""

import os
import subprocess
import sys

import numpy as np
import pytest

from unigen.atomic import atomic_write
from unigen.data.cache import cached


def test_an_existing_file_keeps_its_mode_and_a_new_one_follows_the_umask(tmp_path):
    old = tmp_path / "old.txt"
    old.write_text("x")
    old.chmod(0o640)
    with atomic_write(old) as handle:
        handle.write("y")
    assert old.read_text() == "y" and (old.stat().st_mode & 0o777) == 0o640
    mask = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "new.txt") as handle:
            handle.write("z")
    finally:
        os.umask(mask)
    assert ((tmp_path / "new.txt").stat().st_mode & 0o777) == 0o644  # not mkstemp's 0600


def test_a_symlinked_output_stays_a_symlink(tmp_path):
    target = tmp_path / "real" / "out.smi"
    target.parent.mkdir()
    target.write_text("old\n")
    link = tmp_path / "link.smi"
    link.symlink_to(target)
    with atomic_write(link) as handle:
        handle.write("new\n")
    assert link.is_symlink() and target.read_text() == "new\n"


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(path) as handle:
        handle.write("half")
        raise RuntimeError
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["out.txt"]


def test_a_killed_writers_temporary_is_removed_by_the_next_write(tmp_path):
    path = tmp_path / "out.txt"
    code = (
        "import os, sys; from unigen.atomic import atomic_write\n"
        f"with atomic_write({str(path)!r}) as h:\n    h.write('half'); h.flush(); os._exit(9)\n"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 9
    assert len([name for name in os.listdir(tmp_path) if name.endswith(".tmp")]) == 1
    live = tmp_path / f".out.txt.{os.getpid()}.abcdefgh.tmp"  # a write in progress in this process
    live.write_text("")
    with atomic_write(path) as handle:
        handle.write("whole")
    assert sorted(os.listdir(tmp_path)) == [live.name, "out.txt"] and path.read_text() == "whole"


@pytest.mark.parametrize("damage", [b"", b"not a zip", b"PK\x03\x04" + b"\x00" * 40])
def test_a_corrupt_processed_cache_is_rebuilt(tmp_path, capsys, damage):
    path = tmp_path / "cache.npz"
    cached(path, lambda: {"a": np.arange(5)})
    data = path.read_bytes()
    path.write_bytes(damage or data[: len(data) // 2])
    rebuilt = cached(path, lambda: {"a": np.arange(3)})
    assert rebuilt["a"].tolist() == [0, 1, 2] and "rebuilding it" in capsys.readouterr().err
    assert cached(path, lambda: pytest.fail("the rebuilt cache was not saved"))["a"].tolist() == [0, 1, 2]
