"""Atomic file writes: a reader never sees a half-written output file.

The new contents go to a temporary file next to the target, are flushed to disk, and are
renamed over the target only on success (then the directory is flushed too, so the rename
survives a power cut). The result looks like a plain write: an existing target keeps its
mode (a new file gets 0666 minus the umask, like ``open``), and a symlink stays a symlink,
its target rewritten. A temporary file left by a killed writer is removed by the next write
of the same target.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_write(path, mode: str = "w", encoding: str | None = "utf-8"):
    """Open a temporary file next to ``path``; rename it over ``path`` only on success.

    If the body raises, the temporary file is removed and ``path`` is left untouched.
    """
    target = Path(os.path.realpath(path))  # through symlinks: the link keeps pointing at the new file
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=target.parent)
    try:
        os.chmod(tmp, _mode_for(target))
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        fsync_path(target.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _mode_for(target: Path) -> int:
    """The target's permission bits if it exists, else what ``open`` would give a new file."""
    try:
        return target.stat().st_mode & 0o7777
    except FileNotFoundError:
        return 0o666 & ~current_umask()


def current_umask() -> int:
    """The process umask (reading it means setting it, so it is set straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _remove_stale_temporaries(target: Path) -> None:
    """Delete ``.{name}.{pid}.*.tmp`` files of ``target`` whose writing process no longer runs."""
    pattern = re.compile(rf"^\.{re.escape(target.name)}\.(\d+)\.[^.]+\.tmp$")
    with contextlib.suppress(OSError):
        for entry in os.scandir(target.parent):
            match = pattern.match(entry.name)
            if match and not _running(int(match.group(1))):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def fsync_path(path) -> None:
    """Flush a file or a directory to disk (a rename is durable once its directory is)."""
    with contextlib.suppress(IsADirectoryError, PermissionError):  # filesystems that refuse a directory
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
