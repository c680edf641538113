"""``unigen data`` in-process: list, info, fetch errors and exit codes."""

from click.testing import CliRunner

from unigen.cli import cli, main
from unigen.data import list_datasets


def test_data_list_mentions_every_dataset():
    result = CliRunner().invoke(cli, ["data", "list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1].split()[:4] == ["name", "kind", "splits", "available"]
    names = [line.split()[0] for line in lines[2:]]
    assert names == list_datasets()


def test_data_list_marks_missing_files(tmp_path, monkeypatch):
    monkeypatch.setenv("UNIGEN_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(cli, ["data", "list"])
    assert result.exit_code == 0
    qm9 = next(line for line in result.output.splitlines() if line.startswith("qm9 "))
    assert qm9.endswith("no (missing qm9/qm9.csv +1 more)")


def test_data_info_prints_stats():
    result = CliRunner().invoke(cli, ["data", "info", "qm9"])
    assert result.exit_code == 0
    assert "STATS" in result.output and "13,082" in result.output and "valid_idx_qm9.json" in result.output


def test_unknown_dataset_exits_2_with_one_line(capsys):
    assert main(["data", "info", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown dataset 'nope'; available: ") and err.count("\n") == 1


def test_fetch_without_address_exits_1(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("UNIGEN_DATA_DIR", str(tmp_path))
    assert main(["data", "fetch", "qm9_3d"]) == 1
    assert "no download address" in capsys.readouterr().err
