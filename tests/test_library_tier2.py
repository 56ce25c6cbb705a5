"""Every tier-2 (kinematic) family passes the full check over 16 seeds, its reference solution included."""

from pathlib import Path

import pytest

from benchgen_dagster.library import Family, families
from tests.test_library import check_family

pytestmark = [pytest.mark.sandbox, pytest.mark.slow, pytest.mark.usefixtures("require_bubblewrap")]


@pytest.mark.parametrize("family", [f for f in families() if f.tier == 2], ids=lambda f: f.name)
def test_tier_2_family_passes_every_check_over_16_seeds(family: Family, tmp_path: Path) -> None:
    check_family(family, tmp_path)
