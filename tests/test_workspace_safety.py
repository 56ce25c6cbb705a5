"""The agents' workspace is hostile too: what `execute` runs plants links and fills disks, and host code
must neither follow a link there nor lose anything to a full disk.

The first layer: `execute` works on a size-limited copy as an unprivileged uid, and only regular
files come back. The second: every host access goes through the safe-file module, so a link that got
into the workspace some other way is refused (each test here fails if that module followed links).
"""

import json
import os
from pathlib import Path

import pytest

from benchgen_dagster.agent.backend import SandboxFilesystemBackend, prepare_workspace
from benchgen_dagster.agent.configuration import SessionConfig
from benchgen_dagster.agent.session import earlier_journal
from benchgen_dagster.agent.tools import SessionContext, worker_tools
from benchgen_dagster.models.settings import SandboxLimits
from benchgen_dagster.worker import safe_files
from benchgen_dagster.worker.check import Checker, ScriptNotFound
from tests.scripted import python

AGENT_FILES = ("journal.md", "todo.md", "submitted.json", "plan.md", "script.py")
PLANT = """
import os
print("uid", os.getuid())
for name in {names!r}:
    if os.path.lexists(name):
        os.remove(name)
    os.symlink({secret!r}, name)
os.mkfifo("pipe")
for folder in ("renders", "reviews"):
    try:
        os.rename(folder, folder + ".old")
        os.symlink("/etc", folder)
    except OSError as error:
        print(folder, "refused:", error.strerror)
open("notes.txt", "w").write("mine")
"""


def workspace_with_secret(tmp_path: Path) -> tuple[Path, Path]:
    secret = tmp_path / "host-secret.txt"
    secret.write_text("HOST SECRET")
    workspace = tmp_path / "ws"
    prepare_workspace(workspace)
    for name in AGENT_FILES:
        (workspace / name).write_text(f"the agent's {name}\n")
    return workspace, secret


def links_in(folder: Path) -> list[str]:
    return [str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_symlink()]


@pytest.mark.sandbox
@pytest.mark.usefixtures("require_bubblewrap")
def test_execute_runs_unprivileged_and_no_planted_link_reaches_the_workspace(tmp_path: Path) -> None:
    workspace, secret = workspace_with_secret(tmp_path)
    backend = SandboxFilesystemBackend(workspace, tmp_path / "logs", SandboxLimits())
    response = backend.execute(python(PLANT.format(names=AGENT_FILES, secret=str(secret))))
    assert response.exit_code == 0, response.output
    # Forked from the warm builder (as root with bubblewrap): the same containment as a cold run's.
    assert backend.last_isolation.startswith("bubblewrap, warm builder"), backend.last_isolation
    uid = int(response.output.split("uid ")[1].split()[0])
    assert uid != 0 and uid != os.geteuid(), response.output
    # renders/ is the tools' (read-only to programs); reviews/ could be renamed but not replaced by a link.
    assert "renders refused" in response.output
    assert links_in(workspace) == [] and not (workspace / "pipe").exists()
    assert (workspace / "notes.txt").read_text() == "mine"
    # The links replaced the agent's files inside the sandbox; on the host those files are gone, not linked.
    assert all(not (workspace / name).exists() for name in AGENT_FILES)
    assert secret.read_text() == "HOST SECRET"


@pytest.mark.sandbox
@pytest.mark.usefixtures("require_bubblewrap")
def test_a_program_that_fills_the_disk_hits_the_quota_and_the_workspace_is_unharmed(tmp_path: Path) -> None:
    workspace, _ = workspace_with_secret(tmp_path)
    limits = SandboxLimits(workspace_mb=16, tmp_mb=16)
    backend = SandboxFilesystemBackend(workspace, tmp_path / "logs", limits)
    filler = (
        "chunk = b'x' * 2**20\nwith open('big.bin', 'wb') as f:\n    for _ in range(1000):\n        f.write(chunk)\n"
    )
    response = backend.execute(python(filler))
    assert response.exit_code != 0 and "No space left on device" in response.output, response.output
    # What the program could not finish stays in the sandbox's tmpfs; the host keeps at most the quota.
    assert sum(p.stat().st_size for p in workspace.rglob("*") if p.is_file()) < 17 * 2**20
    assert (workspace / "plan.md").read_text() == "the agent's plan.md\n"


def test_host_code_never_reads_or_writes_through_a_link_in_the_workspace(tmp_path: Path) -> None:
    workspace, secret = workspace_with_secret(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for name in AGENT_FILES:
        (workspace / name).unlink()
        (workspace / name).symlink_to(secret)
    os.rename(workspace / "renders", workspace / "renders.old")
    (workspace / "renders").symlink_to(elsewhere, target_is_directory=True)
    context = SessionContext(
        config=SessionConfig(prompt="p", workspace=workspace), workspace=workspace, home=tmp_path / "home"
    )
    # Written by the host: each replaces the link with a file of its own, never writes the target.
    context.note("coder", "intent", "result", "reflection")
    context.write_todos("coder", [{"content": "plan", "status": "pending"}])
    submit = next(t for t in worker_tools(context) if t.name == "submit_for_review")
    submit.invoke({"note": "done"})
    assert secret.read_text() == "HOST SECRET"
    for name in ("journal.md", "todo.md", "submitted.json"):
        assert not (workspace / name).is_symlink() and "SECRET" not in (workspace / name).read_text()
    # Read by the host: a link is no file at all, so nothing of the target reaches a model or a report.
    assert context.read_text("plan.md") == ""
    assert context.script_digest() is None
    with pytest.raises(ScriptNotFound, match="cannot be read safely"):
        Checker(home=tmp_path / "home").check(workspace / "script.py", [0])
    (workspace / "journal.md").unlink()
    (workspace / "journal.md").symlink_to(secret)
    assert earlier_journal(workspace) == []
    # A folder replaced by a link: nothing is listed, written or read through it.
    (elsewhere / "view_az000_el35.png").write_bytes(b"\x89PNG host file")
    assert context.rendered() == []
    with pytest.raises(safe_files.UnsafeFileError, match="link"):
        safe_files.write_bytes(workspace, "renders/view_az000_el15.png", b"x")
    assert [p.name for p in elsewhere.iterdir()] == ["view_az000_el35.png"]
    from benchgen_dagster.agent.reviewer import reviewer_task

    task = reviewer_task({"prompt": "p", "round": 1}, context, with_images=True)  # type: ignore[typeddict-item]
    assert isinstance(task, list) and len(task) == 1  # the text only: no image came through the link


def test_the_agents_file_tools_refuse_links_too(tmp_path: Path) -> None:
    workspace, secret = workspace_with_secret(tmp_path)
    (workspace / "plan.md").unlink()
    (workspace / "plan.md").symlink_to(secret)
    backend = SandboxFilesystemBackend(workspace, tmp_path / "logs", SandboxLimits())
    assert backend.read("/plan.md").error is not None
    assert backend.edit("/plan.md", "HOST", "AGENT").error is not None
    assert backend.write("/plan.md", "# my plan\n").error is not None
    assert secret.read_text() == "HOST SECRET"
    (workspace / "plan.md").unlink()
    assert backend.write("/plan.md", "# my plan\n").error is None
    assert json.loads(json.dumps(backend.read("/plan.md").file_data))["content"] == "# my plan\n"


@pytest.mark.sandbox
@pytest.mark.usefixtures("require_bubblewrap")
def test_what_a_program_prints_is_kept_only_up_to_the_log_bound(tmp_path: Path) -> None:
    workspace, _ = workspace_with_secret(tmp_path)
    backend = SandboxFilesystemBackend(workspace, tmp_path / "logs", SandboxLimits(log_mb=1))
    response = backend.execute(
        python("import sys\nfor _ in range(64):\n    sys.stdout.write('x' * 2**20)\nprint('end')\n")
    )
    assert response.exit_code == 0, response.output
    (log,) = (tmp_path / "logs").rglob("stdout.log")
    assert 2**20 <= log.stat().st_size < 2**20 + 100 and log.read_text().endswith("[log cut at 1 MB]\n")
