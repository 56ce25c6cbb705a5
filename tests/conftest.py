import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchgen_dagster.models.settings import CheckSettings
from benchgen_dagster.worker.check import Checker

SCRIPTS = Path(__file__).parent / "scripts"


def benchgen(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the `benchgen` CLI as a user would, in a fresh process."""
    return subprocess.run(
        [sys.executable, "-m", "benchgen_dagster.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=env,
    )


# What would point a test at real services or a paid model if the developer's shell has it set.
OUTSIDE_CONFIGURATION = (
    "DAGSTER_HOME",
    "BENCHGEN_MODEL",
    "BENCHGEN_REGISTRY_URL",
    "BENCHGEN_S3_BUCKET",
    "BENCHGEN_S3_ENDPOINT_URL",
    "BENCHGEN_S3_PREFIX",
    "BENCHGEN_SEEDS",
    "BENCHGEN_ALLOW_UNSANDBOXED",
    "LANGFUSE_PUBLIC_KEY",
    "LANGFUSE_SECRET_KEY",
    "LANGFUSE_BASE_URL",
    "LANGFUSE_HOST",
)


@pytest.fixture(autouse=True, scope="session")
def _shared_verdicts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One cache of the judge's verdicts and decompositions for the whole session (both test workers):
    they are keyed by the script, the settings and the code that judged them, so a test that checks a
    script another test already checked gets the same verdict without judging it again."""
    shared = tmp_path_factory.getbasetemp().parent / "shared-cache"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BENCHGEN_CACHE_DIR", str(shared))
        yield shared


@pytest.fixture(autouse=True)
def _benchgen_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("benchgen_home")
    monkeypatch.setenv("BENCHGEN_HOME", str(home))
    for name in OUTSIDE_CONFIGURATION:
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def require_bubblewrap() -> None:
    # The sandbox tests are about bubblewrap's containment: without it they must fail, not skip.
    assert shutil.which("bwrap"), "bubblewrap is not installed: run `make system-deps` (apt-get install bubblewrap)"


@pytest.fixture
def fast_settings() -> CheckSettings:
    """Short timeouts and small limits so hostile scripts are caught quickly."""
    settings = CheckSettings()
    settings.sandbox.seed_timeout_s = 20
    settings.sandbox.seed_cpu_seconds = 5
    settings.sandbox.file_size_mb = 32
    settings.sandbox.memory_mb = 3072
    settings.simulation.duration_s = 1.0
    return settings


@pytest.fixture
def checker(fast_settings: CheckSettings, tmp_path: Path) -> Checker:
    return Checker(fast_settings, home=tmp_path / "home")
