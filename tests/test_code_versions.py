"""Code versions are hashes of the code each stage runs, and a new one alone re-runs nothing."""

import shutil
from pathlib import Path

import dagster as dg
import pytest

from benchgen_dagster.definitions import defs
from benchgen_dagster.defs import candidates, dataset_index
from benchgen_dagster.worker import versions


def test_every_asset_has_a_code_version_naming_its_code() -> None:
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        assert len(graph.get(key).code_version or "") == 12, key
    assert graph.get(dg.AssetKey("cad_script")).code_version == candidates.code_version(
        "benchgen_dagster.defs.cad", *candidates.AGENT_CODE
    )


def test_a_prompt_change_versions_the_model_stages_and_not_the_sandbox_stages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "benchgen_dagster"
    shutil.copytree(versions._PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(versions, "_PACKAGE", package)
    versions.source_digest.cache_clear()
    model_stage = candidates.code_version("benchgen_dagster.defs.cad", *candidates.AGENT_CODE)
    sandbox_stage = candidates.code_version("benchgen_dagster.defs.simulation", *candidates.SANDBOX_CODE)
    prompts = package / "agent" / "prompts.py"
    prompts.write_text(prompts.read_text() + "\n# a reworded prompt\n")
    versions.source_digest.cache_clear()
    try:
        assert candidates.code_version("benchgen_dagster.defs.cad", *candidates.AGENT_CODE) != model_stage
        assert candidates.code_version("benchgen_dagster.defs.simulation", *candidates.SANDBOX_CODE) == sandbox_stage
    finally:
        monkeypatch.undo()
        versions.source_digest.cache_clear()


def _pair(version: str, condition: dg.AutomationCondition) -> list[dg.AssetsDefinition]:
    @dg.asset(code_version=version)
    def upstream() -> int:
        return 1

    @dg.asset(code_version=version, deps=[upstream], automation_condition=condition)
    def downstream() -> int:
        return 2

    return [upstream, downstream]


# Dagster's own evaluation selects with a beta parameter; nothing of ours uses it.
@pytest.mark.filterwarnings("ignore:.*include_sources.*:dagster.BetaWarning")
@pytest.mark.parametrize(
    "condition", [candidates.REFRESH_WHEN_STALE, dataset_index.AFTER_PROMOTIONS], ids=["stale", "after"]
)
def test_an_upgrade_that_changes_code_versions_requests_no_runs(condition: dg.AutomationCondition) -> None:
    """What an upgrade does to an existing dataset: every stage's code version changes at once, and the
    automation sensor must not re-run the whole dataset because of that. New data upstream still does."""
    with dg.instance_for_test() as instance:
        before = _pair("old", condition)
        assert dg.materialize(before, instance=instance).success
        cursor = dg.evaluate_automation_conditions(defs=before, instance=instance).cursor
        upgraded = _pair("new", condition)
        after_upgrade = dg.evaluate_automation_conditions(defs=upgraded, instance=instance, cursor=cursor)
        assert after_upgrade.total_requested == 0
        # The control: an updated upstream is still followed downstream.
        assert dg.materialize(upgraded[:1], instance=instance).success
        updated = dg.evaluate_automation_conditions(defs=upgraded, instance=instance, cursor=after_upgrade.cursor)
        assert updated.total_requested == 1
