"""Crystal metrics on hand-built crystals: CSP matching, validity, Wasserstein, fingerprints, COV."""

import numpy as np
import pytest
from conftest import requires_data

from unigen.chem.metrics import crystals as C
from unigen.chem.metrics.csp import csp_match
from unigen.structures import Crystal

A_STO = 3.905  # cubic SrTiO3 lattice constant (Angstrom)


def srtio3(a=A_STO) -> Crystal:
    frac = [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
    return Crystal([38, 22, 8, 8, 8], frac, np.eye(3) * a)


def rock_salt(z_cation=11, z_anion=17, a=5.64) -> Crystal:
    cations = [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
    anions = [[0.5, 0, 0], [0, 0.5, 0], [0, 0, 0.5], [0.5, 0.5, 0.5]]
    return Crystal([z_cation] * 4 + [z_anion] * 4, cations + anions, np.eye(3) * a)


def displaced(crystal: Crystal, site: int, shift_angstrom: float) -> Crystal:
    """Move one site by ``shift_angstrom`` along x of a cubic cell."""
    frac = crystal.frac_coords.copy()
    frac[site, 0] += shift_angstrom / crystal.lattice[0, 0]
    return Crystal(crystal.atomic_numbers, frac, crystal.lattice)


def expected_rmse(shift, n_sites, volume):
    # one of N sites moved by d; the matcher removes the mean shift d/N, leaving an rms of
    # d * sqrt(N - 1) / N, then divides by (V / N)^(1/3).
    return shift * np.sqrt(n_sites - 1) / n_sites / (volume / n_sites) ** (1 / 3)


# ---------------------------------------------------------------------------------------
# CSP


def test_perturbed_copy_matches_with_hand_computed_rmse():
    truth = srtio3()
    result = csp_match([displaced(truth, 1, 0.05)], [truth], n_jobs=1)
    assert result["match_rate"] == 1.0
    assert result["rmse"] == pytest.approx(expected_rmse(0.05, 5, truth.volume), rel=1e-6)


def test_identical_crystal_matches_with_zero_rmse():
    result = csp_match([srtio3()], [srtio3()], n_jobs=1)
    assert result["match_rate"] == 1.0 and result["rmse"] == pytest.approx(0.0, abs=1e-8)


def test_different_crystal_does_not_match():
    result = csp_match([rock_salt()], [srtio3()], n_jobs=1)
    assert result["match_rate"] == 0.0 and result["rmse"] is None
    assert result["per_structure"][0]["matched"] is False


def test_k_candidates_take_the_best_match():
    truth = srtio3()
    candidates = [rock_salt(), displaced(truth, 1, 0.15), displaced(truth, 1, 0.03), None]
    result = csp_match([candidates], [truth], n_jobs=1)
    assert result["k"] == 4 and result["match_rate"] == 1.0
    assert result["per_structure"][0]["best_candidate"] == 2
    assert result["rmse"] == pytest.approx(expected_rmse(0.03, 5, truth.volume), rel=1e-6)


def test_match_rate_counts_missing_and_averages_rmse_over_matched_only():
    a, b = srtio3(), rock_salt()
    pred = [displaced(a, 1, 0.05), None, displaced(b, 0, 0.0), rock_salt()]
    truth = [a, b, b, a]
    result = csp_match(pred, truth, n_jobs=1)
    assert result["match_rate"] == 0.5 and result["n_matched"] == 2
    assert result["rmse"] == pytest.approx(expected_rmse(0.05, 5, a.volume) / 2, rel=1e-5)
    assert [p["matched"] for p in result["per_structure"]] == [True, False, True, False]


def test_invalid_prediction_counts_as_no_match_unless_validity_is_waived():
    crowded = Crystal([38, 22, 8, 8, 8], srtio3().frac_coords, np.eye(3) * 0.8)  # atoms 0.4 A apart
    strict = csp_match([crowded], [crowded], n_jobs=1)
    assert strict["match_rate"] == 0.0 and strict["truth_invalid"] == [0]
    assert csp_match([crowded], [crowded], require_valid=False, n_jobs=1)["match_rate"] == 1.0


def test_parallel_and_serial_matching_agree():
    truth = [srtio3(a) for a in np.linspace(3.8, 4.1, 24)]  # 3 chunks of 8: a real pool
    pred = [displaced(t, i % 5, 0.02 * (i % 3)) for i, t in enumerate(truth)]
    serial, parallel = csp_match(pred, truth, n_jobs=1), csp_match(pred, truth, n_jobs=2)
    assert serial["per_structure"] == parallel["per_structure"]


def test_prediction_count_must_equal_truth_count():
    with pytest.raises(ValueError, match="2 predictions for 1"):
        csp_match([srtio3(), srtio3()], [srtio3()], n_jobs=1)


# ---------------------------------------------------------------------------------------
# Validity, densities, Wasserstein


def test_validity_fractions_count_each_failure_and_malformed_records():
    crowded = Crystal([38, 22, 8, 8, 8], srtio3().frac_coords, np.eye(3) * 0.8)
    na_cl2 = Crystal([11, 17, 17], [[0, 0, 0], [0.5, 0.5, 0.5], [0, 0.5, 0.5]], np.eye(3) * 5.0)
    result = C.score_crystals([srtio3(), crowded, na_cl2, None], fingerprints=False, n_jobs=1)
    assert result["struct_validity"] == 0.5  # SrTiO3, NaCl2
    assert result["comp_validity"] == 0.5  # SrTiO3, crowded SrTiO3
    assert result["validity"] == 0.25
    assert result["invalid_indices"] == [1, 2, 3]
    reasons = [item["reason"] for item in result["invalid"]]
    assert (
        "structurally" in reasons[0] and "compositionally" in reasons[1] and reasons[2] == "malformed record"
    )


def test_density_is_mass_over_volume_in_g_per_cm3():
    # 4 NaCl (58.44 g/mol) in a 5.64 A cube: 4 * 58.44 / 6.022e23 / (5.64e-8 cm)^3 = 2.164 g/cm^3
    assert C.crystal_density(rock_salt()) == pytest.approx(2.164, abs=1e-3)


def test_wasserstein_of_identical_sets_is_zero_and_of_shifted_counts_is_the_shift():
    crystals = [srtio3(), rock_salt(), srtio3(4.0)]
    result = C.score_crystals(crystals, test=crystals, fingerprints=False, n_jobs=1)
    assert result["wdist_density"] == pytest.approx(0.0, abs=1e-12)
    assert result["wdist_num_elements"] == pytest.approx(0.0, abs=1e-12)
    shifted = C.score_crystals([srtio3()], test=[rock_salt()], fingerprints=False, n_jobs=1)
    assert shifted["wdist_num_elements"] == pytest.approx(1.0)  # 3 elements vs 2


def test_property_distances_use_only_valid_crystals_and_at_most_n_samples():
    records = [{"valid": True, "density": d, "n_elements": 2} for d in (1.0, 2.0, 3.0)]
    records.append({"valid": False, "density": 100.0, "n_elements": 9})
    reference = {"density": np.array([1.0, 2.0, 3.0]), "n_elements": np.array([2, 2, 2])}
    assert C.property_distances(records, reference)["wdist_density"] == pytest.approx(0.0)
    assert C.property_distances(records, reference, n_samples=2)["n_property_samples"] == 2


# ---------------------------------------------------------------------------------------
# Fingerprints and coverage


def test_composition_fingerprint_statistics_by_hand():
    number_stats = C.composition_fingerprint([38, 22, 8, 8, 8])[:6]  # Sr Ti O3, property "Number"
    # min 8, max 38, range 30, mean .2*38+.2*22+.6*8, mean |x - 16.8|, mode = O (most abundant)
    assert number_stats == pytest.approx([8, 38, 30, 16.8, 0.2 * 21.2 + 0.2 * 5.2 + 0.6 * 8.8, 8])
    tie = C.composition_fingerprint([11, 17])[:6]  # NaCl: equal fractions, mode -> the smaller value
    assert tie == pytest.approx([11, 17, 6, 14, 3, 11])
    assert C.composition_fingerprint([11, 17]).shape == (C.COMPOSITION_FP_SIZE,) == (132,)


def test_missing_magpie_data_becomes_zero_after_scaling():
    fingerprint = C.composition_fingerprint([2, 8])  # He has no Magpie melting point or electronegativity
    melting_min = C.MAGPIE_FEATURES.index("MeltingT") * 6
    assert np.isnan(fingerprint[melting_min])
    scaled = C.scale_composition_fingerprints(fingerprint[None])
    assert scaled[0, melting_min] == 0.0 and np.isfinite(scaled).all()


def test_rock_salt_sites_are_perfect_octahedra():
    fingerprint = C.structure_fingerprint(rock_salt())
    assert fingerprint.shape == (C.STRUCTURE_FP_SIZE,) == (61,)
    cn6 = 2 + 6 + 4 + 6 + 4  # the CN 1..5 blocks: one weight + one value per motif each
    assert fingerprint[cn6] == pytest.approx(1.0)  # all CrystalNN weight on CN 6
    assert fingerprint[cn6 + 2] == pytest.approx(1.0, abs=1e-6)  # octahedral order parameter
    assert fingerprint.sum() == pytest.approx(fingerprint[cn6 : cn6 + 4].sum())  # nothing outside CN 6


def test_coverage_of_identical_sets_is_complete():
    struct = np.random.default_rng(0).random((4, 61))
    comp = np.stack([C.composition_fingerprint(z) for z in ([11, 17], [38, 22, 8, 8, 8], [12, 8], [3, 9])])
    result = C.coverage(struct, comp, struct, comp, 0.2, 4.0)
    assert result["cov_recall"] == 1.0 and result["cov_precision"] == 1.0


def test_coverage_cutoffs_and_precision_denominator_by_hand():
    comp = np.tile(np.asarray(C._COMP_SCALER_MEANS), (2, 1))  # scales to 0: composition always within
    generated = np.array([[0.0, 0.0], [1.0, 0.0]])
    reference = np.array([[0.0, 0.1]])
    result = C.coverage(generated, comp, reference, comp[:1], 0.2, 4.0, n_generated=4)
    assert result["cov_recall"] == 1.0  # the reference is 0.1 from generated[0]
    assert result["cov_precision"] == 0.25  # 1 generated crystal within 0.2, out of 4 (2 had no fingerprint)


def test_score_crystals_against_itself_with_dataset_cutoffs():
    crystals = [srtio3(), rock_salt(), rock_salt(12, 8, 4.21)]
    result = C.score_crystals(crystals, test=crystals, dataset="perov_5", n_jobs=1)
    assert result["validity"] == 1.0
    assert result["cov_recall"] == 1.0 and result["cov_precision"] == 1.0
    assert result["cov_cutoffs"] == [0.2, 4.0]


def test_unphysical_records_are_invalid_not_errors():
    nan_cell = Crystal([11, 17], [[0, 0, 0], [0.5, 0.5, 0.5]], np.full((3, 3), np.nan))
    bad_element = Crystal([0, 17], [[0, 0, 0], [0.5, 0.5, 0.5]], np.eye(3) * 4)
    flat_cell = Crystal([11, 17], [[0, 0, 0], [0.5, 0.5, 0.5]], np.diag([4.0, 4.0, 0.0]))
    result = C.score_crystals([nan_cell, bad_element, flat_cell], n_jobs=1)
    assert result["validity"] == 0.0 and result["invalid_indices"] == [0, 1, 2]
    assert csp_match([nan_cell, flat_cell], [srtio3(), srtio3()], n_jobs=1)["match_rate"] == 0.0


def test_coverage_without_known_cutoffs_is_reported_as_skipped():
    result = C.score_crystals([srtio3()], test=[srtio3()], n_jobs=1)
    assert "cov_recall" not in result and result["coverage"].startswith("skipped")


@pytest.mark.data
@requires_data("perov_5", "dev_subset", "test.csv")
def test_real_perovskites_match_themselves():
    from unigen.data import load_dataset

    test = list(load_dataset("perov_5", "test", subset="dev", limit=128))
    everything = csp_match(test, test, require_valid=False)
    assert everything["match_rate"] == 1.0 and everything["rmse"] < 1e-10
    protocol = csp_match(test, test)  # CDVAE: SMACT-invalid compositions count as no match
    assert protocol["n_matched"] == len(test) - protocol["n_truth_invalid"]
