"""Cell formulas -> atomic numbers, and the one-line errors on malformed ones."""

import pytest

from unigen.chem.formula import formula_counts, formula_of, parse_formula
from unigen.errors import UsageError


@pytest.mark.parametrize(
    "text, counts",
    [
        ("SrTiO3", {38: 1, 22: 1, 8: 3}),
        ("C8", {6: 8}),
        ("Ba2(CuO2)3", {56: 2, 29: 3, 8: 6}),
        ("Ca(OH)2", {20: 1, 8: 2, 1: 2}),
        (" H2 O ", {1: 2, 8: 1}),
        ("OTiO2Sr", {8: 3, 22: 1, 38: 1}),  # repeated elements add up, order of first appearance
    ],
)
def test_counts(text, counts):
    assert formula_counts(text) == counts
    assert list(formula_counts(text)) == list(counts)


def test_parse_repeats_each_element_by_its_count_and_formula_of_inverts_it():
    z = parse_formula("SrTiO3")
    assert z.tolist() == [38, 22, 8, 8, 8]
    assert formula_of(z) == "SrTiO3"


@pytest.mark.parametrize(
    "text, message",
    [
        ("Xx2O3", "'Xx' is not an element"),
        ("sr", "unexpected 's'"),
        ("Sr(TiO3", "unmatched '('"),
        ("SrTi)O3", "unmatched ')'"),
        ("Fe2.5O3", "whole numbers"),
        ("3O", "a count must follow"),
        ("", "empty formula"),
        ("O0", "has no atoms"),
        ("C2000", "at most 1000"),
    ],
)
def test_malformed_formulas_are_one_line_usage_errors(text, message):
    with pytest.raises(UsageError, match=message.replace("(", "\\(").replace(")", "\\)")) as err:
        parse_formula(text)
    assert "\n" not in str(err.value)
