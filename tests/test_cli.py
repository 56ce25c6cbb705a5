"""`benchgen` as a user runs it: exit codes, JSON output, one-line errors, the library commands."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SCRIPTS, benchgen


def test_missing_script_is_a_usage_error_in_one_line() -> None:
    result = benchgen("check", "does/not/exist.py")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["error: no such script: does/not/exist.py"]
    assert "Traceback" not in result.stderr + result.stdout


def test_the_command_leaves_quickly_but_still_runs_its_exit_handlers_and_keeps_its_exit_code(tmp_path: Path) -> None:
    # `benchgen` skips tearing its modules down on the way out; what leaving must do still happens.
    flag = tmp_path / "flushed"
    leave = (
        "import atexit, sys\n"
        "from benchgen_dagster.cli import main\n"
        f"atexit.register(lambda: open({str(flag)!r}, 'w').write('yes'))\n"
        "sys.argv = ['benchgen', *sys.argv[1:]]\n"
        "print('before', end='')\n"
        "main()\n"
        "print('never')\n"
    )
    shown = subprocess.run(
        [sys.executable, "-c", leave, "library", "list"], capture_output=True, text=True, check=False
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("before") and "never" not in shown.stdout and "sliding_drawer" in shown.stdout
    assert flag.read_text() == "yes"
    flag.unlink()
    refused = subprocess.run(
        [sys.executable, "-c", leave, "check", "nowhere.py"], capture_output=True, text=True, check=False
    )
    assert refused.returncode == 2 and "no such script" in refused.stderr and flag.read_text() == "yes"


def test_a_bad_option_is_a_usage_error() -> None:
    assert benchgen("check", str(SCRIPTS / "good_box.py"), "--seeds", "0").returncode == 2
    assert benchgen("render", str(SCRIPTS / "good_box.py"), "--out", "x", "--size", "big").returncode == 2


@pytest.mark.sandbox
@pytest.mark.usefixtures("require_bubblewrap")
def test_check_json_passes_a_good_script() -> None:
    result = benchgen("check", str(SCRIPTS / "good_box.py"), "--json")
    report = json.loads(result.stdout)
    assert result.returncode == 0, report["failures"]
    assert report["passed"] is True and report["failures"] == []
    checks = {r["check"] for r in report["results"]}
    assert {
        "script_runs",
        "deterministic",
        "solid_valid",
        "stability",
        "non_trivial",
        "solvable",
        "randomization_coverage",
        "geometric_variety",
    } <= checks


@pytest.mark.sandbox
@pytest.mark.usefixtures("require_bubblewrap")
def test_check_exits_1_and_names_the_failing_check_and_seed(tmp_path: Path) -> None:
    # The same box, but the goal zone is put where the box already sits.
    source = (SCRIPTS / "good_box.py").read_text().replace("Zone((goal_x - 60, -60, 0)", "Zone((-290, -60, 0)")
    script = tmp_path / "self_solving.py"
    script.write_text(source)
    result = benchgen("check", str(script), "--seeds", "2", "--json")
    assert result.returncode == 1
    failures = json.loads(result.stdout)["failures"]
    assert {"check": "zones_consistent", "seed": 0} in [{"check": f["check"], "seed": f["seed"]} for f in failures]
    assert all(f["message"] for f in failures)


@pytest.mark.sandbox
@pytest.mark.usefixtures("require_bubblewrap")
def test_check_prints_a_table_of_checks_by_seed() -> None:
    # The default 8 seeds: the verdict the JSON test (and the pipeline tests) ask for, judged once a session.
    result = benchgen("check", str(SCRIPTS / "good_box.py"))
    assert result.returncode == 0
    assert "stability" in result.stdout and "PASSED 8 seeds" in result.stdout
    assert "solvability proven by its reference solution" in result.stdout


def test_library_lists_at_least_eight_families_of_both_tiers() -> None:
    result = benchgen("library", "list", "--json")
    assert result.returncode == 0
    families = json.loads(result.stdout)
    assert len(families) >= 8
    assert {f["tier"] for f in families} == {1, 2}
    assert all(set(f) == {"name", "tier", "description"} and f["description"] for f in families)


def test_library_export_writes_the_script_and_refuses_to_overwrite(tmp_path: Path) -> None:
    result = benchgen("library", "export", "ball_over_wall", str(tmp_path))
    assert result.returncode == 0
    written = tmp_path / "ball_over_wall.py"
    assert "def build(seed: int, scale: float = 1.0)" in written.read_text()
    again = benchgen("library", "export", "ball_over_wall", str(tmp_path))
    assert again.returncode == 2 and "--force" in again.stderr


def test_library_export_of_an_unknown_family_lists_the_known_ones(tmp_path: Path) -> None:
    result = benchgen("library", "export", "perpetual_motion", str(tmp_path))
    assert result.returncode == 2
    assert "known families:" in result.stderr and "ball_over_wall" in result.stderr


def test_settings_that_are_not_yaml_or_out_of_range_are_usage_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("simulation: [unclosed\n")
    result = benchgen("check", str(SCRIPTS / "good_box.py"), "--settings", str(broken))
    assert result.returncode == 2 and "not readable YAML" in result.stderr and "Traceback" not in result.stderr
    absurd = tmp_path / "absurd.yaml"
    absurd.write_text("sandbox:\n  memory_mb: -5\n")
    result = benchgen("check", str(SCRIPTS / "good_box.py"), "--settings", str(absurd))
    assert result.returncode == 2 and "sandbox.memory_mb" in result.stderr


@pytest.mark.sandbox
@pytest.mark.usefixtures("require_bubblewrap")
def test_messages_from_a_script_are_printed_verbatim(tmp_path: Path) -> None:
    script = tmp_path / "brackets.py"
    script.write_text("def build(seed, scale=1.0):\n    raise ValueError('range [low, high] is [/bold] empty')\n")
    result = benchgen("check", str(script), "--seeds", "1")
    assert result.returncode == 1
    assert "range [low, high] is [/bold] empty" in result.stdout.replace("\n", "")


def test_without_bubblewrap_check_refuses_to_run_the_script_and_says_how_to_fix_it(tmp_path: Path) -> None:
    import os

    # No bwrap on this PATH: the sandbox cannot isolate the script, so the script must not run at all.
    marker = tmp_path / "ran"
    script = tmp_path / "script.py"
    script.write_text(f"open({str(marker)!r}, 'w').write('ran')\ndef build(seed, scale=1.0):\n    raise SystemExit\n")
    env = {**os.environ, "PATH": str(tmp_path)}
    result = benchgen("check", str(script), "--seeds", "1", env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "untrusted code will not run" in line and "apt-get install bubblewrap" in line
    assert "BENCHGEN_ALLOW_UNSANDBOXED=1" in line and not marker.exists()


def test_gc_removes_old_runs_and_the_cache_made_before_the_judge(_benchgen_home: Path) -> None:
    for name in ("20260101-000000-aaaaaaaa", "20260102-000000-bbbbbbbb"):
        (_benchgen_home / "runs" / name / "logs").mkdir(parents=True)
        (_benchgen_home / "runs" / name / "logs" / "stderr.log").write_bytes(b"x" * 4096)
    legacy = _benchgen_home / "cache" / "decompositions" / "abc"
    legacy.mkdir(parents=True)
    (legacy / ("0" * 64 + ".npz")).write_bytes(b"old")
    result = benchgen("gc", "--keep", "1")
    assert result.returncode == 0, result.stderr
    assert "removed 1 run(s), 1 kept" in result.stdout
    assert [p.name for p in (_benchgen_home / "runs").iterdir()] == ["20260102-000000-bbbbbbbb"]
    assert not (_benchgen_home / "cache" / "decompositions").exists()


# A command run as `benchgen` runs it, through main(), leaving the names of the modules it imported in a
# file: main() leaves by os._exit, after the atexit handlers, so one of those writes them.
_MODULES_ON_LEAVING = (
    "import atexit, json, sys\n"
    "out = sys.argv.pop(1)\n"
    "atexit.register(lambda: open(out, 'w').write(json.dumps(sorted(sys.modules))))\n"
    "from benchgen_dagster.cli import main\n"
    "sys.argv = ['benchgen', *sys.argv[1:]]\n"
    "main()\n"
)
# What reading the registry through the resources takes of defs/ (the resource set, and what runner.py
# names of the candidates' partitions and their runs, and the table helper the candidates use); the other
# stages come only with the Definitions.
_DEFS_FOR_THE_RESOURCES = {"benchgen_dagster.defs.candidates", "benchgen_dagster.defs.requests"}
_DEFS_FOR_THE_RESOURCES |= {"benchgen_dagster.defs.resources", "benchgen_dagster.defs.metadata"}
_DEFS_FOR_THE_RESOURCES |= {"benchgen_dagster.defs.artifacts", "benchgen_dagster.defs.registry_db"}
_DEFS_FOR_THE_RESOURCES |= {"benchgen_dagster.defs.bundles"}


def _run_and_list_imports(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    modules_file = tmp_path / "modules.json"
    ran = subprocess.run(
        [sys.executable, "-c", _MODULES_ON_LEAVING, str(modules_file), *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return ran, set(json.loads(modules_file.read_text()))


@pytest.mark.usefixtures("require_bubblewrap")
def test_list_show_and_help_import_neither_pandas_nor_the_dagster_definitions(
    _benchgen_home: Path, tmp_path: Path
) -> None:
    from benchgen_dagster.defs.resources import RegistryResource
    from benchgen_dagster.models.registry import BenchmarkRequest, Candidate, CandidateStatus

    promoted = Candidate(
        key="c-0001",
        request_id="r-0001",
        variant=0,
        request=BenchmarkRequest(prompt="a ball into a bin"),
        model="offline",
        status=CandidateStatus.PROMOTED,
        stage="promoted_benchmark",
        benchmark_id="bm-0001",
    )
    RegistryResource().add([promoted])
    (_benchgen_home / "dataset" / "bm-0001").mkdir(parents=True)
    (_benchgen_home / "dataset" / "bm-0001" / "benchmark.yaml").write_text("benchmark_id: bm-0001\n")

    helped, imported = _run_and_list_imports(tmp_path, "--help")
    assert helped.returncode == 0 and "Usage: benchgen" in helped.stdout, helped.stdout + helped.stderr
    heavy = {"pandas", "dagster", "benchgen_dagster.definitions", "benchgen_dagster.runner"} & imported
    assert not heavy, sorted(heavy)
    for args, shown in ((["list"], "c-0001"), (["show", "bm-0001"], "benchmark_id: bm-0001")):
        ran, imported = _run_and_list_imports(tmp_path, *args)
        assert ran.returncode == 0 and shown in ran.stdout, ran.stdout + ran.stderr
        assert "pandas" not in imported, args
        # The Definitions import every stage (pandas, the agents): they are built on first use of
        # `definitions.defs`, which neither command makes (it reads the registry through the resources).
        stages = {m for m in imported if m.startswith("benchgen_dagster.defs.")} - _DEFS_FOR_THE_RESOURCES
        assert not stages, (args, sorted(stages))
