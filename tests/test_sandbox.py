"""Hostile benchmark scripts are contained by the builder's sandbox and reported as failed checks.

Each test runs a script whose chosen seeds attack (several attacks a run, one per seed) and asserts
what a user relies on: each attack is a failed check with a message, the other seeds are
unaffected, and the parent (this test process) carries on.
"""

import os
import re
import socket
import sys
import time
from pathlib import Path

import pytest

import benchgen_dagster
from benchgen_dagster.models.reports import Check, CheckReport
from benchgen_dagster.models.settings import CheckSettings
from benchgen_dagster.worker import sandbox
from benchgen_dagster.worker.check import Checker
from benchgen_dagster.worker.sandbox import UNSANDBOXED_WARNING, SandboxUnavailable, sandbox_env
from tests.conftest import SCRIPTS

pytestmark = [pytest.mark.sandbox, pytest.mark.usefixtures("require_bubblewrap")]


def hostile_script(tmp_path: Path, attacks: dict[int, str], at_import: str = "", **constants: object) -> Path:
    source = (SCRIPTS / "hostile.py").read_text()
    source = source.replace("ATTACKS: dict[int, str] = {}", f"ATTACKS: dict[int, str] = {attacks!r}")
    source = source.replace('AT_IMPORT = ""', f"AT_IMPORT = {at_import!r}")
    for name, value in constants.items():
        source = re.sub(rf"^{name} = .*$", f"{name} = {value!r}", source, flags=re.M)
    path = tmp_path / "hostile.py"
    path.write_text(source)
    return path


def script_runs(report: CheckReport, seed: int) -> tuple[bool, str]:
    result = next(r for r in report.results if r.check == Check.SCRIPT_RUNS and r.seed == seed)
    return result.passed, result.message


def not_run(report: CheckReport, seed: int) -> bool:
    return any(r.not_run for r in report.results if r.seed == seed)


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_each_attack_fails_its_own_seed_only(checker: Checker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-test-0123456789"
    for name in ("BENCHGEN_TEST_API_KEY", "OPENAI_API_KEY", "AWS_SECRET_ACCESS_KEY", "LANGFUSE_SECRET_KEY"):
        monkeypatch.setenv(name, secret)
    assert not any(secret in value for value in sandbox_env().values())
    # Our own package is visible to the builder (it imports it) and must not be writable by it.
    outside = Path(benchgen_dagster.__file__).parent / "escape.txt"
    expected = {
        1: ("network", r"ConnectionRefused|Network is unreachable"),
        2: ("write_outside", r"Read-only file system|Permission denied"),
        3: ("secret", r"KeyError.*BENCHGEN_TEST_API_KEY"),
        4: ("memory", r"MemoryError|memory"),
        5: ("print_gigabytes", r"SIGXFSZ|file-size|File too large"),
        6: ("os_exit", r"exited with status 3"),
        7: ("raise", r"ValueError: wall too tall \(line \d+ of script.py\)"),
        8: ("fork_bomb", r"forked \d+ processes, then"),
    }
    # A listener of our own on loopback: the attack must not reach it, whatever else listens here.
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(0.5)
        port = listener.getsockname()[1]
        script = hostile_script(
            tmp_path, {s: a for s, (a, _) in expected.items()}, OUTSIDE_PATH=str(outside), LISTENER_PORT=port
        )
        report = checker.check(script, list(range(10)))
        with pytest.raises(TimeoutError):
            listener.accept()
    assert not report.passed
    problems = []
    for seed in (0, 9):
        ok, message = script_runs(report, seed)
        problems += [] if ok else [f"seed {seed} should be unaffected: {message}"]
    for seed, (action, pattern) in expected.items():
        ok, message = script_runs(report, seed)
        if ok or not re.search(pattern, message, re.I):
            problems.append(f"seed {seed} ({action}): {message}")
    assert not problems, "\n".join(problems)
    assert not outside.exists()
    assert secret not in report.model_dump_json()
    log = Path(report.sandbox["run_dir"]) / "build" / "seeds" / "5" / "log.txt"
    assert log.stat().st_size <= checker.settings.sandbox.file_size_mb * 1024 * 1024
    # The fork bomb got fewer processes than the run's cap (the runner and its threads count too).
    forked = re.search(r"forked (\d+) processes", script_runs(report, 8)[1])
    assert forked and int(forked.group(1)) < checker.settings.sandbox.max_processes
    cap = checker.settings.sandbox.max_processes
    assert report.sandbox["processes"] in (
        f"pids cgroup ({cap})",
        f"RLIMIT_NPROC ({cap} tasks of {report.sandbox['user']})",
    )


@pytest.mark.parametrize("warm", [True, False], ids=["warm-builder", "cold-builder"])
def test_a_fork_bomb_stays_under_the_process_cap_as_root_without_a_cgroup(
    fast_settings: CheckSettings, tmp_path: Path, warm: bool
) -> None:
    fast_settings.sandbox.cgroups = False
    fast_settings.sandbox.warm_builder = warm
    fast_settings.sandbox.max_processes = 24
    script = hostile_script(tmp_path, {1: "fork_bomb"})
    # How it is built is no part of a verdict's key: a script of its own, so each mode is judged now.
    script.write_text(script.read_text() + f"\n# built {'warm' if warm else 'cold'}\n")
    report = Checker(fast_settings, home=tmp_path / "home").check(script, [0, 1])
    assert not report.cached
    ok, message = script_runs(report, 1)
    match = re.search(r"forked (\d+) processes, then", message)
    assert not ok and match, message
    # The builder's runner and its threads count too: the bomb gets fewer than the cap.
    assert int(match.group(1)) < 24
    assert script_runs(report, 0)[0]
    # As root with no cgroup the code runs as a uid of its own, so RLIMIT_NPROC binds, and the report says so.
    claimed = report.sandbox["processes"]
    assert claimed.startswith("RLIMIT_NPROC") and "uid 0" not in claimed, claimed
    assert report.sandbox["cgroups"] == "none"
    assert report.sandbox["isolation"].startswith("bubblewrap, warm builder") == warm


def test_a_hung_seed_costs_seconds_and_ends_the_check(checker: Checker, tmp_path: Path) -> None:
    checker.settings.sandbox.seed_cpu_seconds = 2
    report = checker.check(hostile_script(tmp_path, {1: "infinite_loop"}), list(range(8)))
    ok, message = script_runs(report, 1)
    assert not ok and "more than its 2 CPU seconds" in message, message
    assert script_runs(report, 0)[0]
    assert all(not_run(report, seed) for seed in range(2, 8))
    assert all(f.not_run for f in report.failures if f.seed in range(2, 8))
    # Eight seeds, one endless: the imports, two CPU seconds and the judging of seed 0.
    assert report.wall_s < 60


def test_a_disk_filler_hits_the_quota_and_ends_the_check(checker: Checker, tmp_path: Path) -> None:
    checker.settings.sandbox.workspace_mb = 32
    report = checker.check(hostile_script(tmp_path, {1: "fill_disk"}), [0, 1, 2])
    ok, message = script_runs(report, 1)
    assert not ok and "filled the sandbox's disk quota (32 MB workspace)" in message, message
    assert script_runs(report, 0)[0] and not_run(report, 2)
    build = Path(report.sandbox["run_dir"]) / "build"
    on_disk = sum(p.stat().st_size for p in build.rglob("*") if p.is_file())
    assert on_disk < 8 * 1024 * 1024, "the filler's files came back to the host"


def test_taking_the_runner_down_costs_only_that_seed(checker: Checker, tmp_path: Path) -> None:
    # Each kills the builder's runner; the planted ones leave a FIFO or a link where their record goes.
    attacks = {1: "kill_all", 2: "plant_fifo", 3: "plant_symlink"}
    # Last, a seed that leaves its process group and spins: its own CPU limit still stops it.
    report = checker.check(hostile_script(tmp_path, {**attacks, 5: "escape_group"}), list(range(6)))
    for seed in attacks:
        ok, message = script_runs(report, seed)
        assert not ok and "took down the sandbox's builder" in message, message
    assert script_runs(report, 0)[0] and script_runs(report, 4)[0]
    ok, message = script_runs(report, 5)
    assert not ok and f"more than its {checker.settings.sandbox.seed_cpu_seconds} CPU seconds" in message, message
    assert report.sandbox["runners"] == 4
    assert "root:" not in report.model_dump_json()


def test_hostile_code_at_import_time_fails_every_seed(checker: Checker, tmp_path: Path) -> None:
    report = checker.check(hostile_script(tmp_path, {}, at_import="os_exit"), [0, 1])
    assert not report.passed
    assert all(not script_runs(report, s)[0] for s in (0, 1))


def test_without_a_working_bubblewrap_untrusted_code_does_not_run(
    fast_settings: CheckSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        sandbox, "bubblewrap_problem", lambda: "bubblewrap is not installed (apt-get install bubblewrap)"
    )
    with pytest.raises(
        SandboxUnavailable, match=r"will not run.*apt-get install bubblewrap.*BENCHGEN_ALLOW_UNSANDBOXED"
    ):
        Checker(fast_settings, home=tmp_path / "home")
    # Asked for explicitly, the weaker mode runs, and every report says so loudly.
    fast_settings.sandbox.allow_unsandboxed = True
    report = Checker(fast_settings, home=tmp_path / "home").check(hostile_script(tmp_path, {}), [0])
    assert script_runs(report, 0)[0]
    assert UNSANDBOXED_WARNING in report.notes
    assert report.sandbox["isolation"] == "none (unsandboxed)"
    assert report.sandbox["disk"].startswith("none"), report.sandbox["disk"]
    assert os.environ.get("BENCHGEN_ALLOW_UNSANDBOXED") is None


def test_retention_prunes_old_runs_but_never_one_in_use(tmp_path: Path) -> None:
    import time as clock

    from benchgen_dagster.models.settings import RetentionSettings
    from benchgen_dagster.worker.runs import RunDirectory, prune_runs

    home = tmp_path / "home"
    made = []
    for _ in range(4):
        with RunDirectory.create(home, b"def build(seed, scale=1.0): ...\n") as run:
            made.append(run.root)
        clock.sleep(1.05)  # run folders are named by the second they start
    with RunDirectory.create(home, b"") as busy:
        # The oldest and the newest beyond the count go, the one in use stays, whatever its age.
        os.utime(busy.root, (0, 0))
        removed = prune_runs(home, RetentionSettings(runs_kept=2, runs_max_age_days=7))
        assert sorted(removed) == sorted(made[:3])
        assert busy.root.is_dir() and made[3].is_dir()
    assert prune_runs(home, RetentionSettings(runs_kept=2, runs_max_age_days=7)) == [busy.root]
    assert [p.name for p in (home / "runs").iterdir()] == [made[3].name]


def test_the_warm_sandbox_lets_in_root_only_and_is_one_for_every_process(
    fast_settings: CheckSettings, tmp_path: Path
) -> None:
    import subprocess

    from benchgen_dagster.worker.warm import WarmSandbox

    warm = WarmSandbox.shared(fast_settings.sandbox)
    assert warm is not None, "the warm builder runs as root with bubblewrap"
    # Another process asking for the same warm builder joins this one instead of starting its own.
    joined = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from benchgen_dagster.worker.warm import WarmSandbox; from benchgen_dagster.models"
            ".settings import SandboxLimits; limits = SandboxLimits.model_validate_json(sys.argv[1]);"
            "print(WarmSandbox.shared(limits).pid)",
            fast_settings.sandbox.model_dump_json(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert int(joined.stdout) == warm.pid, joined.stderr
    # A process that is not root is turned away before it can send a job.
    pid = os.fork()
    if pid == 0:
        code = 3
        try:
            os.setgid(65534)
            os.setuid(65534)
            client = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            client.settimeout(30)
            client.connect("\0" + warm.name)
            code = 0 if client.recv(1 << 16) == b"" else 1
        except OSError:
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "a non-root process was let into the warm builder"


def test_a_run_warms_its_sandboxes_up_in_the_background(_benchgen_home: Path) -> None:
    from benchgen_dagster.defs.resources import SandboxResource
    from benchgen_dagster.paths import cache_dir
    from benchgen_dagster.worker.warm import JUDGE_CACHE, WarmSandbox, service_name

    resource = SandboxResource()
    limits = resource.check_settings().sandbox
    judge_cache = cache_dir(_benchgen_home) / JUDGE_CACHE
    names = [service_name(limits, "builder", None), service_name(limits, "judge", judge_cache)]
    started = time.monotonic()
    resource.prewarm()
    assert time.monotonic() - started < 1, "the planner does not wait for the sandboxes"
    deadline = time.monotonic() + 120
    while not all(n in WarmSandbox._shared and WarmSandbox._shared[n].running for n in names):
        assert time.monotonic() < deadline, "the warm sandboxes did not start"
        time.sleep(0.1)


def test_jobs_in_the_warm_builder_cannot_reach_each_other_or_the_builder(
    fast_settings: CheckSettings, tmp_path: Path
) -> None:
    import json
    import threading

    from benchgen_dagster.worker.warm import WarmSandbox

    assert WarmSandbox.shared(fast_settings.sandbox) is not None, "the warm builder runs as root with bubblewrap"
    victim_settings = fast_settings.model_copy(deep=True)
    victim_settings.sandbox.seed_cpu_seconds = 6  # a key of its own: judged now, not taken from the cache
    victim_source = (SCRIPTS / "good_box.py").read_text() + "\n# the victim\n"
    (tmp_path / "victim.py").write_text(victim_source)
    reports = {}

    def check(name: str, script: Path, settings: CheckSettings) -> None:
        reports[name] = Checker(settings, home=tmp_path / name).check(script, [0, 1, 2])

    threads = [
        threading.Thread(target=check, args=("victim", tmp_path / "victim.py", victim_settings)),
        threading.Thread(target=check, args=("snoop", SCRIPTS / "snoop.py", fast_settings)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _, message = script_runs(reports["snoop"], 0)
    found = json.loads(message.split("SNOOP ", 1)[1].split(" (line")[0])
    # It saw the warm builder (root) at least, reached nothing, and its /job holds its own folders only.
    assert 0 in found["uids_seen"] and found["reached"] == [], found
    assert found["job"] == ["input", "tmp", "work"]
    assert reports["victim"].passed, reports["victim"].failures
    assert reports["victim"].sandbox["isolation"].startswith("bubblewrap, warm builder")


@pytest.mark.parametrize("role", ["builder", "judge"])
def test_a_warm_sandbox_that_dies_is_started_again(fast_settings: CheckSettings, tmp_path: Path, role: str) -> None:
    from benchgen_dagster.worker.warm import WarmSandbox

    # A warm sandbox of its own (other tests share the one their settings name), killed under this test.
    settings = fast_settings.model_copy(deep=True)
    settings.sandbox.tmp_mb += 1
    checker = Checker(settings, home=tmp_path / "home")
    cache = checker.cache_root if role == "judge" else None
    first = WarmSandbox.shared(checker.settings.sandbox, role, cache)
    assert first is not None
    os.kill(first.pid, 9)
    deadline = time.monotonic() + 30
    while first.running and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not first.running
    # Seeds no other test builds: built and judged now, not taken from the verdicts.
    seeds = [7001, 7002] if role == "builder" else [8001, 8002]
    report = checker.check(hostile_script(tmp_path, {}), seeds)
    assert not report.cached and script_runs(report, seeds[0])[0] and script_runs(report, seeds[1])[0]
    again = WarmSandbox.shared(checker.settings.sandbox, role, cache)
    assert again is not None and again is not first and again.alive
    assert report.sandbox["judge"].startswith("bubblewrap, warm judge")
