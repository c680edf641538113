"""Hostile and oversized inputs to every command: 0 tracebacks, 0 crashes, 0 hangs.

The corpus is generated at test time (``fuzz.corpus``). Cheap cases run in-process; the ones
that used to crash (SIGSEGV), hang or exhaust memory run in a worker process under a time
limit and an address-space cap (``fuzz.runner``). ``benchmarks/fuzz_corpus.py`` runs the full
corpus with mutants and prints the counts.
"""

import pytest
from fuzz import corpus, runner

from unigen.cli import main

# the cases that once killed the process, hung past 120 s or asked for gigabytes
DANGEROUS = {
    "smiles_20000_atoms.smi",
    "smiles_10MB_line.smi",
    "smiles_5KB.smi",
    "smiles_bomb.smi.gz",
    "xyz_100000_lines.xyz",
    "cif_100000_p1.cif",
    "cif_3000_sites_sym.cif",
    "graphs_deep.json",
    "recipe_laughs.yaml",
    "recipe_deep.yaml",
}
SLOW_TO_BUILD = {"cif_5000_blocks.cif"}  # ~15 s of honest parsing: the slow run covers it


@pytest.fixture(scope="module")
def cheap_cases(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    cases = corpus.build(root, mutants=0)
    return [c for c in cases if c.name not in DANGEROUS | SLOW_TO_BUILD]


def test_cheap_hostile_inputs_end_in_one_line_in_process(cheap_cases, capsys):
    assert len(cheap_cases) > 100
    bad = []
    for case in cheap_cases:
        try:
            code, escaped = main(case.argv), None
        except BaseException as err:  # noqa: BLE001  (anything escaping main is the finding)
            code, escaped = None, f"{type(err).__name__}: {err}"
        verdict, message = runner._verdict(code, escaped, capsys.readouterr().err)
        if verdict != "clean":
            bad.append(f"{case.name} {case.argv[0]}: {message}")
    assert bad == []


def test_inputs_that_crashed_or_hung_are_clean_in_a_capped_worker(tmp_path):
    cases = corpus.build(tmp_path, only=DANGEROUS)
    outcomes = runner.run(cases, tmp_path, timeout=60, memory_gb=4)
    assert runner.counts(outcomes) == {"clean": len(cases), "traceback": 0, "crash": 0, "hang": 0}, [
        (o.name, o.verdict, o.message) for o in outcomes if o.verdict != "clean"
    ]
    assert max(o.peak_mb for o in outcomes) < 2048


@pytest.mark.slow
def test_the_full_corpus_with_mutants_is_clean(tmp_path):
    cases = corpus.build(tmp_path, mutants=4, seed=1)
    outcomes = runner.run(cases, tmp_path, timeout=120, memory_gb=6)
    bad = [(o.name, o.argv[0], o.verdict, o.message) for o in outcomes if o.verdict != "clean"]
    assert bad == [] and max(o.peak_mb for o in outcomes) < 2048
