"""Hostile benchmark scripts are contained by the sandbox and reported as failed checks.

Each test runs a script that behaves for seed 0 and attacks for seed 1 (or at import time), and
asserts three things a user relies on: the attack is a failed check with a message, the other
seed is unaffected, and the parent (this test process) carries on.
"""

import os
import re
from pathlib import Path

import pytest

import benchgen_dagster
from benchgen_dagster.models.reports import Check, CheckReport
from benchgen_dagster.worker.check import Checker
from benchgen_dagster.worker.sandbox import sandbox_env
from tests.conftest import SCRIPTS

pytestmark = [pytest.mark.sandbox, pytest.mark.usefixtures("require_bubblewrap")]


def hostile_script(tmp_path: Path, action: str, *, at_import: bool = False, **constants: object) -> Path:
    source = (SCRIPTS / "hostile.py").read_text()
    source = source.replace('HOSTILE_ACTION = "none"', f"HOSTILE_ACTION = {action!r}")
    if at_import:
        source = source.replace("AT_IMPORT = False", "AT_IMPORT = True")
    for name, value in constants.items():
        source = re.sub(rf"^{name} = .*$", f"{name} = {value!r}", source, flags=re.M)
    path = tmp_path / f"hostile_{action}.py"
    path.write_text(source)
    return path


def script_runs(report: CheckReport, seed: int) -> tuple[bool, str]:
    result = next(r for r in report.results if r.check == Check.SCRIPT_RUNS and r.seed == seed)
    return result.passed, result.message


def assert_contained(report: CheckReport, message_pattern: str) -> None:
    assert not report.passed
    ok0, message0 = script_runs(report, 0)
    assert ok0, f"seed 0 should be unaffected, got: {message0}"
    ok1, message1 = script_runs(report, 1)
    assert not ok1
    assert re.search(message_pattern, message1, re.I), message1
    assert any(f.check == "script_runs" and f.seed == 1 for f in report.failures)


def test_network_connection_is_refused(checker: Checker, tmp_path: Path) -> None:
    report = checker.check(hostile_script(tmp_path, "network"), [0, 1])
    assert_contained(report, r"ConnectionRefused|Network is unreachable|OSError")


def test_writing_outside_the_workspace_fails(checker: Checker, tmp_path: Path) -> None:
    # Our own package is visible to the child (it imports it) and must not be writable by it.
    target = Path(benchgen_dagster.__file__).parent / "escape.txt"
    report = checker.check(hostile_script(tmp_path, "write_outside", OUTSIDE_PATH=str(target)), [0, 1])
    assert_contained(report, r"Read-only file system|No such file|Permission")
    assert not target.exists()


def test_secrets_never_reach_the_script(checker: Checker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-test-0123456789"
    for name in (
        "BENCHGEN_TEST_API_KEY",
        "OPENAI_API_KEY",
        "AWS_SECRET_ACCESS_KEY",
        "LANGFUSE_SECRET_KEY",
        "GITHUB_TOKEN",
    ):
        monkeypatch.setenv(name, secret)
    assert not any(secret in value for value in sandbox_env().values())
    report = checker.check(hostile_script(tmp_path, "secret"), [0, 1])
    assert_contained(report, r"KeyError.*BENCHGEN_TEST_API_KEY")
    assert secret not in report.model_dump_json()


def test_fork_bomb_is_capped(checker: Checker, tmp_path: Path) -> None:
    report = checker.check(hostile_script(tmp_path, "fork_bomb"), [0, 1])
    assert_contained(report, r"Resource temporarily unavailable|BlockingIOError|did not finish|died")
    assert report.sandbox["process_limit"] in ("pids cgroup", "RLIMIT_NPROC")


def test_memory_hog_is_stopped(checker: Checker, tmp_path: Path) -> None:
    report = checker.check(hostile_script(tmp_path, "memory"), [0, 1])
    assert_contained(report, r"MemoryError|memory")


def test_infinite_loop_times_out(checker: Checker, tmp_path: Path) -> None:
    checker.settings.sandbox.seed_timeout_s = 5
    report = checker.check(hostile_script(tmp_path, "infinite_loop"), [0, 1])
    assert_contained(report, r"did not finish within 5 s")


def test_printing_gigabytes_hits_the_file_size_limit(checker: Checker, tmp_path: Path) -> None:
    report = checker.check(hostile_script(tmp_path, "print_gigabytes"), [0, 1])
    assert_contained(report, r"SIGXFSZ|file-size|File too large")
    log = Path(report.sandbox["run_dir"]) / "workspace" / "seeds" / "1" / "log.txt"
    assert log.stat().st_size <= checker.settings.sandbox.file_size_mb * 1024 * 1024


def test_os_exit_is_a_failed_check(checker: Checker, tmp_path: Path) -> None:
    report = checker.check(hostile_script(tmp_path, "os_exit"), [0, 1])
    assert_contained(report, r"exited with status 3")


def test_killing_the_runner_costs_only_that_seed(checker: Checker, tmp_path: Path) -> None:
    report = checker.check(hostile_script(tmp_path, "kill_parent", HOSTILE_SEED=0), [0, 1, 2])
    ok0, message0 = script_runs(report, 0)
    assert not ok0 and "took down the sandbox runner" in message0
    assert script_runs(report, 1)[0] and script_runs(report, 2)[0]
    assert report.sandbox["runners"] == 2


def test_killing_every_process_in_reach_is_contained(checker: Checker, tmp_path: Path) -> None:
    report = checker.check(hostile_script(tmp_path, "kill_all"), [0, 1, 2])
    assert_contained(report, r"took down the sandbox runner|died")
    assert script_runs(report, 2)[0]
    assert os.getpid() > 0  # still here


def test_hostile_code_at_import_time_fails_every_seed(checker: Checker, tmp_path: Path) -> None:
    report = checker.check(hostile_script(tmp_path, "os_exit", at_import=True), [0, 1])
    assert not report.passed
    assert all(not script_runs(report, s)[0] for s in (0, 1))


def test_a_script_that_raises_names_the_error_and_line(checker: Checker, tmp_path: Path) -> None:
    path = tmp_path / "raises.py"
    path.write_text("def build(seed, scale=1.0):\n    raise ValueError('wall too tall')\n")
    report = checker.check(path, [0])
    passed, message = script_runs(report, 0)
    assert not passed
    assert "ValueError: wall too tall (line 2 of script.py)" in message


def test_without_bubblewrap_the_limits_still_apply_and_it_says_so(fast_settings, tmp_path: Path) -> None:
    fast_settings.sandbox.seed_timeout_s = 5
    checker = Checker(fast_settings, home=tmp_path / "home", bubblewrap=False)
    report = checker.check(hostile_script(tmp_path, "infinite_loop"), [0, 1])
    assert_contained(report, r"did not finish within 5 s")
    assert any("bubblewrap is not installed" in note for note in report.notes)


def test_a_seed_that_leaves_its_process_group_still_times_out(checker: Checker, tmp_path: Path) -> None:
    checker.settings.sandbox.seed_timeout_s = 5
    report = checker.check(hostile_script(tmp_path, "escape_group"), [0, 1, 2])
    assert_contained(report, r"did not finish within 5 s")
    assert script_runs(report, 2)[0]


@pytest.mark.parametrize("action", ["plant_fifo", "plant_symlink"])
def test_a_planted_verdict_cannot_hang_or_leak_into_the_parent(checker: Checker, tmp_path: Path, action: str) -> None:
    report = checker.check(hostile_script(tmp_path, action), [0, 1])
    assert_contained(report, r"outcome file is not usable")
    assert "root:" not in report.model_dump_json()
