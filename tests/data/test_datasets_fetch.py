"""Fetching: checksum verification, offline failure, unverified files refused. No network."""

import hashlib
import io
import urllib.error
import zipfile

import pytest
from conftest import data_path, requires_data

from unigen.data import fetch as fetch_module
from unigen.data.fetch import download, fetch
from unigen.data.registry import RawFile
from unigen.errors import UnigenError


class _Response(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _serve(monkeypatch, body: bytes):
    monkeypatch.setattr(fetch_module.urllib.request, "urlopen", lambda url, timeout: _Response(body))


def _offline(monkeypatch):
    def refuse(url, timeout):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(fetch_module.urllib.request, "urlopen", refuse)


def test_download_writes_file_when_checksum_prefix_matches(tmp_path, monkeypatch):
    monkeypatch.setenv("UNIGEN_DATA_DIR", str(tmp_path))
    body = b"smiles\nC\nCC\n"
    _serve(monkeypatch, body)
    raw = RawFile("x/file.csv", "https://example.invalid/file.csv", hashlib.sha256(body).hexdigest()[:16])
    download(raw)
    assert (tmp_path / "x" / "file.csv").read_bytes() == body


def test_checksum_mismatch_leaves_no_file(tmp_path, monkeypatch):
    monkeypatch.setenv("UNIGEN_DATA_DIR", str(tmp_path))
    _serve(monkeypatch, b"tampered")
    raw = RawFile("x/file.csv", "https://example.invalid/file.csv", "0123456789abcdef")
    with pytest.raises(UnigenError, match="checksum mismatch for x/file.csv"):
        download(raw)
    assert not (tmp_path / "x" / "file.csv").exists()
    assert list((tmp_path / "x").iterdir()) == []  # no temporary leftovers


def test_member_is_extracted_from_a_zip(tmp_path, monkeypatch):
    monkeypatch.setenv("UNIGEN_DATA_DIR", str(tmp_path))
    inner = b"SMILES\nCCO\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("pkg/data/test.csv", inner)
    _serve(monkeypatch, buffer.getvalue())
    raw = RawFile(
        "m/test.csv",
        "https://example.invalid/pkg.whl",
        hashlib.sha256(inner).hexdigest()[:16],
        member="pkg/data/test.csv",
    )
    download(raw)
    assert (tmp_path / "m" / "test.csv").read_bytes() == inner


def test_offline_fetch_fails_with_one_line_message(tmp_path, monkeypatch):
    monkeypatch.setenv("UNIGEN_DATA_DIR", str(tmp_path))
    _offline(monkeypatch)
    with pytest.raises(UnigenError) as err:
        fetch("tree", log=lambda _: None)
    message = str(err.value)
    assert "\n" not in message and "cannot download" in message and "offline?" in message
    assert str(tmp_path / "spectre" / "tree.pkl") in message
    assert not (tmp_path / "spectre" / "tree.pkl").exists()


def test_unverified_file_needs_explicit_permission(tmp_path, monkeypatch):
    monkeypatch.setenv("UNIGEN_DATA_DIR", str(tmp_path))
    _offline(monkeypatch)
    with pytest.raises(UnigenError, match="--allow-unverified"):
        fetch("mp_20", log=lambda _: None)
    with pytest.raises(UnigenError, match="cannot download"):  # with permission it tries the network
        fetch("mp_20", allow_unverified=True, log=lambda _: None)


def test_file_without_address_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("UNIGEN_DATA_DIR", str(tmp_path))
    with pytest.raises(UnigenError, match="no download address.*qm9pack"):
        fetch("qm9_3d", log=lambda _: None)


@requires_data("gdss_graphs", "community_small.pkl")
def test_present_files_are_not_downloaded_again(monkeypatch):
    _offline(monkeypatch)  # would raise if it tried the network
    lines = []
    assert fetch("community_small", log=lines.append) == []
    assert lines == [f"present  {data_path('gdss_graphs', 'community_small.pkl')}"]
