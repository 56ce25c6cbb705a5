"""Every built-in family passes the full check over 16 seeds in the sandbox (`benchgen check --seeds 16`),
its reference solution included: every family is proven solvable."""

from pathlib import Path

import pytest

from benchgen_dagster.library import Family, families
from benchgen_dagster.models.settings import CheckSettings
from benchgen_dagster.worker.check import Checker

pytestmark = [pytest.mark.sandbox, pytest.mark.slow, pytest.mark.usefixtures("require_bubblewrap")]


def check_family(family: Family, tmp_path: Path) -> None:
    report = Checker(CheckSettings(), home=tmp_path).check(family.path, list(range(16)))
    assert report.passed, "\n".join(f"seed {f.seed} {f.check}: {f.message}" for f in report.failures)
    variety = next(r for r in report.results if r.check == "geometric_variety")
    assert variety.details["distinct_variants"] >= 5
    assert report.solvability == "proven"
    for outcome in report.outcomes:
        solution = outcome.solution
        assert solution is not None and solution.in_goal_at_end and not solution.problems


# Tier 2 runs from test_library_tier2.py: a file per tier lets the two test workers share the work.
@pytest.mark.parametrize("family", [f for f in families() if f.tier == 1], ids=lambda f: f.name)
def test_tier_1_family_passes_every_check_over_16_seeds(family: Family, tmp_path: Path) -> None:
    check_family(family, tmp_path)


def test_library_covers_both_tiers_with_at_least_eight_families() -> None:
    found = families()
    assert len(found) >= 8
    assert sum(f.tier == 1 for f in found) >= 4 and sum(f.tier == 2 for f in found) >= 4
