"""The environment is read in definitions.py only: one deployment switch, and every service (tracing
included) reached through a resource."""

from pathlib import Path

import dagster as dg
import pytest

from benchgen_dagster import definitions
from benchgen_dagster.defs.resources import AgentsResource

PACKAGE = Path(definitions.__file__).resolve().parent


def test_local_is_the_default_deployment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BENCHGEN_DEPLOYMENT", raising=False)
    assert definitions.deployment() == "local"


def test_production_names_every_service_it_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCHGEN_DEPLOYMENT", "production")
    monkeypatch.setenv("BENCHGEN_REGISTRY_URL", "postgresql+psycopg2://postgres@127.0.0.1/benchgen")
    for name in ("BENCHGEN_S3_BUCKET", "DAGSTER_HOME"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(definitions.DeploymentError, match=r"BENCHGEN_S3_BUCKET .*; DAGSTER_HOME") as error:
        definitions.resources(resolved=True)
    assert "BENCHGEN_REGISTRY_URL" not in str(error.value)
    monkeypatch.setenv("BENCHGEN_S3_BUCKET", "benchgen")
    monkeypatch.setenv("DAGSTER_HOME", "/srv/dagster")
    assert definitions.deployment() == "production"


def test_an_unknown_deployment_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCHGEN_DEPLOYMENT", "staging")
    with pytest.raises(definitions.DeploymentError, match="must be one of local, production, got 'staging'"):
        definitions.deployment()


def test_tracing_reaches_the_agents_through_their_resource(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", "pk-lf-1")
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", "sk-lf-1")
    agents = definitions.resources(resolved=True)["agents"]
    assert isinstance(agents, AgentsResource) and agents.tracing is not None
    settings = agents.tracing.settings()
    assert settings.enabled and settings.public_key == "pk-lf-1"
    assert "tracing" not in definitions.resources(), "no resource that no asset requires"


@pytest.mark.parametrize("variable", ["LANGFUSE_", "BENCHGEN_DEPLOYMENT", "BENCHGEN_REGISTRY_URL", "BENCHGEN_S3_"])
def test_only_definitions_reads_the_services_environment(variable: str) -> None:
    readers = sorted(
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if variable in path.read_text() and path.name != "definitions.py"
    )
    assert readers == [], f"{variable}* is read outside definitions.py, in {readers}"


def test_production_steps_go_to_celery_and_are_handed_on_within_a_fifth_of_a_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dagster_celery import core_execution_loop

    monkeypatch.setattr(core_execution_loop, "TICK_SECONDS", 1)  # dagster-celery's own, put back after
    local = definitions._step_executor(False, dg.in_process_executor)
    assert local is dg.in_process_executor and core_execution_loop.TICK_SECONDS == 1
    executor = definitions._step_executor(True, dg.in_process_executor)
    assert executor.name == "benchgen_celery_executor"
    # The run's process polls its steps' results at this tick (dagster-celery reads the module's global).
    assert core_execution_loop.TICK_SECONDS == definitions.CELERY_TICK_S == 0.2
