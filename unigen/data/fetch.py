"""Download a dataset's raw files from their canonical public addresses, with checksums.

Files go to ``data_dir()`` (never the processed cache). A file is written only after its
sha256 matches the recorded prefix, through an atomic rename, so a failed or interrupted
download leaves nothing behind. Files without a recorded checksum are refused unless the
caller passes ``allow_unverified=True``. Offline, the error names the URL and where to put
the file by hand.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from unigen.atomic import atomic_write
from unigen.data.registry import RawFile, get_dataset
from unigen.errors import UnigenError

TIMEOUT_S = 60


def fetch(name: str, force: bool = False, allow_unverified: bool = False, log=print) -> list[Path]:
    """Download the missing raw files that dataset ``name`` needs with its default options
    (every split); returns the paths written."""
    written = []
    for raw in default_files(name):
        if raw.local.exists() and not force:
            log(f"present  {raw.local}")
            continue
        if raw.url is None:
            raise UnigenError(
                f"{name}: no download address for {raw.path} ({raw.note or 'see data/README.md'})"
            )
        if raw.sha256 is None and not allow_unverified:
            raise UnigenError(
                f"{name}: no checksum is recorded for {raw.url}; rerun with --allow-unverified to download it anyway"
            )
        download(raw)
        log(f"fetched  {raw.local}")
        written.append(raw.local)
    return written


def default_files(name: str) -> list[RawFile]:
    dataset = get_dataset(name)
    options = dataset.resolve_options({})
    files = [raw for split in dataset.splits for raw in dataset.files_for(split, options)]
    return list(dict.fromkeys(files))  # unique, in order


def download(raw: RawFile) -> None:
    """Fetch ``raw.url`` (and ``raw.member`` from it when it is a zip), verify, then write."""
    with tempfile.TemporaryFile() as spool:
        _get(raw.url, spool, raw.local)
        spool.seek(0)
        payload = _member(spool, raw) if raw.member else spool
        digest = hashlib.sha256()
        try:
            with atomic_write(raw.local, "wb") as out:
                for chunk in iter(lambda: payload.read(1 << 20), b""):
                    digest.update(chunk)
                    out.write(chunk)
                _verify(raw, digest.hexdigest())
        except PermissionError:
            raise UnigenError(
                f"cannot write {raw.local}: permission denied (set UNIGEN_DATA_DIR to a writable folder)"
            ) from None


def _get(url: str, spool, dest: Path) -> None:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            shutil.copyfileobj(response, spool)
    except urllib.error.HTTPError as err:
        raise UnigenError(f"cannot download {url}: HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", None) or err
        raise UnigenError(
            f"cannot download {url} ({reason}); offline? put the file at {dest} by hand"
        ) from None


def _member(spool, raw: RawFile):
    try:
        archive = zipfile.ZipFile(spool)
        return io.BytesIO(archive.read(raw.member))
    except (zipfile.BadZipFile, KeyError) as err:
        raise UnigenError(f"{raw.url}: cannot extract {raw.member} ({err})") from None


def _verify(raw: RawFile, hexdigest: str) -> None:
    if raw.sha256 is not None and not hexdigest.startswith(raw.sha256):
        raise UnigenError(
            f"checksum mismatch for {raw.path} from {raw.url}: expected sha256 {raw.sha256}..., got {hexdigest[:16]}..."
        )
