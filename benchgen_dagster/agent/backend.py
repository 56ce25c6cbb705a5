"""The agents' filesystem: a deepagents backend over the session workspace.

`skills/` and `utils/` are read-only to the agents (the file tools refuse, and the sandbox mounts
them read-only for `execute`); `renders/` and `reports/` are written by our tools; everything else
is theirs. `execute` runs Python only through the worker's sandbox, never in this process.
"""

import sys
import uuid
from pathlib import Path

from deepagents.backends import FilesystemBackend
from deepagents.backends.protocol import (
    DeleteResult,
    EditResult,
    ExecuteResponse,
    FileUploadResponse,
    SandboxBackendProtocol,
    WriteResult,
)

from benchgen_dagster.models.settings import SandboxLimits
from benchgen_dagster.worker.sandbox import Sandbox

READ_ONLY_DIRS = ("skills", "utils")
TOOL_WRITTEN_DIRS = ("renders", "reports")

UTILS_SOURCE = '''"""Worker utilities for your own Python, run with the execute tool (inside the sandbox).

    from utils import validate, simulate, render, submit_for_review
    print(validate(seeds=2))      # geometry checks of /script.py, per seed
    print(simulate(seeds=2))      # geometry + 2 s of physics, per seed
    print(render(seed=0))         # PNG views into /renders/
    print(submit_for_review())    # marks /script.py ready for the reviewer
"""

from benchgen_dagster.agent.workspace_utils import render, simulate, submit_for_review, validate

__all__ = ["render", "simulate", "submit_for_review", "validate"]
'''


def prepare_workspace(workspace: Path, skills_dir: Path | None = None) -> list[str]:
    """Create the folders and the read-only `utils/` package the agents rely on; copy in the skills.

    Returns the names of the skills offered."""
    for name in (*READ_ONLY_DIRS, *TOOL_WRITTEN_DIRS, "reviews"):
        (workspace / name).mkdir(parents=True, exist_ok=True)
    (workspace / "utils" / "__init__.py").write_text(UTILS_SOURCE)
    return copy_skills(skills_dir, workspace / "skills")


def copy_skills(skills_dir: Path | None, dest: Path) -> list[str]:
    """Copy each `<name>/SKILL.md` of `skills_dir` into `dest`; returns the names copied."""
    copied = []
    for skill in sorted(skills_dir.glob("*/SKILL.md")) if skills_dir and skills_dir.is_dir() else []:
        folder = dest / skill.parent.name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "SKILL.md").write_text(skill.read_text())
        copied.append(skill.parent.name)
    return copied


class SandboxFilesystemBackend(FilesystemBackend, SandboxBackendProtocol):
    """deepagents' FilesystemBackend in virtual mode ("/" is the workspace), guarded, with a sandboxed execute."""

    def __init__(self, workspace: Path, logs: Path, limits: SandboxLimits) -> None:
        super().__init__(root_dir=workspace, virtual_mode=True)
        self.workspace = workspace.resolve()
        self.logs = logs
        self.limits = limits
        self._id = f"benchgen-{uuid.uuid4().hex[:8]}"
        self.executions = 0

    def _refusal(self, file_path: str, tool_dirs_too: bool = True) -> str | None:
        try:
            relative = self._resolve_path(file_path).relative_to(self.cwd)
        except (ValueError, OSError, RuntimeError) as error:
            return f"Error: invalid path {file_path!r}: {error}"
        top = relative.parts[0] if relative.parts else ""
        if top in READ_ONLY_DIRS:
            return f"Error: {file_path!r} is read-only (/{top}/ cannot be changed); write elsewhere in the workspace."
        if tool_dirs_too and top in TOOL_WRITTEN_DIRS:
            return f"Error: /{top}/ is written by the worker tools; call them instead of writing there."
        return None

    def write(self, file_path: str, content: str) -> WriteResult:
        if refusal := self._refusal(file_path):
            return WriteResult(error=refusal)
        return super().write(file_path, content)

    def edit(self, file_path: str, old_string: str, new_string: str, replace_all: bool = False) -> EditResult:
        if refusal := self._refusal(file_path):
            return EditResult(error=refusal)
        return super().edit(file_path, old_string, new_string, replace_all)

    def delete(self, file_path: str) -> DeleteResult:
        if refusal := self._refusal(file_path):
            return DeleteResult(error=refusal)
        return super().delete(file_path)

    def upload_files(self, files: list[tuple[str, bytes]]) -> list[FileUploadResponse]:
        allowed = [(path, data) for path, data in files if self._refusal(path) is None]
        done = iter(super().upload_files(allowed))
        return [
            next(done) if self._refusal(path) is None else FileUploadResponse(path=path, error="permission_denied")
            for path, _ in files
        ]

    @property
    def id(self) -> str:
        return self._id

    def execute(self, command: str, *, timeout: int | None = None) -> ExecuteResponse:
        """Run `command` as a Python program in the sandbox, the workspace its working folder."""
        self.executions += 1
        logs = self.logs / f"execute-{self.executions}"
        run = Sandbox(self.limits).run(
            [sys.executable, "-c", command],
            self.workspace,
            logs,
            wall_timeout_s=float(timeout or self.limits.seed_timeout_s),
            # reports/ too: the graph's gate writes there, and a program must not forge its verdicts.
            protected=[self.workspace / name for name in (*READ_ONLY_DIRS, "reports")],
        )
        # Only the tails come back: the program's output is as untrusted as the program.
        output = run.stdout_tail + (f"\n[stderr]\n{run.stderr_tail}" if run.stderr_tail else "")
        if run.timed_out:
            output += f"\n[killed after {run.wall_s:.0f} s]"
        return ExecuteResponse(output=output, exit_code=run.returncode, truncated=False)
