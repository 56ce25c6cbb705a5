"""The agents' filesystem: a deepagents backend over the session workspace.

The workspace is `/workspace`, in the file tools and inside the sandbox alike (a path written with
write_file is the path a command run with execute opens). `skills/`, `utils/`, `docs/` and
`library/` are read-only to the agents (the file tools refuse, and the sandbox mounts them read-only
for `execute`); `renders/` and `reports/` are written by our tools; everything else is theirs. Every
host access goes through `worker.safe_files` (no link followed, bounded, atomic). `execute` runs shell
commands only through the worker's sandbox, never in this process: as an unprivileged uid, on a
size-limited copy of the workspace whose regular files alone are synced back (a link the program
plants never reaches the host).
"""

import json
import time
import uuid
from functools import cache
from pathlib import Path, PurePosixPath

from deepagents.backends import FilesystemBackend
from deepagents.backends.protocol import (
    DeleteResult,
    EditResult,
    ExecuteResponse,
    FileUploadResponse,
    GrepResult,
    LsResult,
    ReadResult,
    SandboxBackendProtocol,
    WriteResult,
)
from deepagents.backends.utils import perform_string_replacement

from benchgen_dagster.agent.contract import DOCS_DIR, LIBRARY_DIR, contract_files
from benchgen_dagster.agent.prompts import WORKSPACE
from benchgen_dagster.models.settings import SandboxLimits
from benchgen_dagster.worker import safe_files
from benchgen_dagster.worker.commands import AGENT_PATH, python_program
from benchgen_dagster.worker.sandbox import Sandbox, SandboxJob
from benchgen_dagster.worker.warm import BUILDER, WarmSandbox

# Top-level folders of the sandbox's own (and the machine's): a path there is never the workspace's.
SANDBOX_FOLDERS = frozenset(
    [
        "bin",
        "boot",
        "dev",
        "etc",
        "home",
        "job",
        "lib",
        "lib64",
        "media",
        "mnt",
        "opt",
        "proc",
        "root",
        "run",
        "sbin",
        "srv",
        "sys",
        "tmp",
        "usr",
        "var",
    ]
)
READ_ONLY_DIRS = ("skills", "utils", DOCS_DIR, LIBRARY_DIR)
TOOL_WRITTEN_DIRS = ("renders", "reports")
MAX_AGENT_FILE = 2 * 1024 * 1024
MAX_EXECUTE_S = 600.0

UTILS_SOURCE = '''"""Worker utilities for your own Python, run with the execute tool (inside the sandbox), e.g.
`python -c "from utils import simulate; print(simulate(seeds=2))"` or a verify.py of your own.

    from utils import validate, simulate, render, submit_for_review
    print(validate(seeds=2))      # geometry checks of /workspace/script.py, per seed
    print(simulate(seeds=2))      # geometry + 2 s of physics, per seed
    print(render(seed=0))         # PNG views of one seed (the paths)
    print(submit_for_review())    # marks /workspace/script.py ready for the reviewer
"""

from benchgen_dagster.agent.workspace_utils import render, simulate, submit_for_review, validate

__all__ = ["render", "simulate", "submit_for_review", "validate"]
'''


def prepare_workspace(workspace: Path, skills_dir: Path | None = None) -> list[str]:
    """Create the folders and the read-only `utils/` package the agents rely on; copy in the skills.

    Returns the names of the skills offered."""
    workspace.mkdir(parents=True, exist_ok=True)
    for name in (*READ_ONLY_DIRS, *TOOL_WRITTEN_DIRS, "reviews"):
        safe_files.make_dirs(workspace, name)
    safe_files.write_text(workspace, "utils/__init__.py", UTILS_SOURCE)
    for relative, text in contract_files().items():
        safe_files.write_text(workspace, relative, text)
    return copy_skills(skills_dir, workspace, "skills")


def copy_skills(skills_dir: Path | None, root: Path, under: str) -> list[str]:
    """Copy each `<name>/SKILL.md` of `skills_dir` into `root/under/`; returns the names copied."""
    copied = []
    for skill in sorted(skills_dir.glob("*/SKILL.md")) if skills_dir and skills_dir.is_dir() else []:
        safe_files.write_text(root, f"{under}/{skill.parent.name}/SKILL.md", skill.read_text())
        copied.append(skill.parent.name)
    return copied


def workspace_relative(file_path: str) -> PurePosixPath:
    """An agent's path relative to the workspace: `/workspace/x`, or `/x` for short, is `x`. Raises
    ValueError for a path into the sandbox's own folders (/tmp, /usr, …), which is not the workspace's."""
    path = PurePosixPath("/" + file_path.lstrip("/"))
    if path.parts[1:2] == (WORKSPACE.strip("/"),):
        return PurePosixPath(*path.parts[2:]) if len(path.parts) > 2 else PurePosixPath(".")
    if path.parts[1:2] and path.parts[1] in SANDBOX_FOLDERS:
        raise ValueError(f"{file_path} is the sandbox's own folder, not the workspace: use {WORKSPACE}/…")
    return PurePosixPath(*path.parts[1:]) if len(path.parts) > 1 else PurePosixPath(".")


@cache
def workspace_mountable() -> bool:
    """Whether the sandbox can show the workspace at /workspace: not where the interpreter or benchgen
    itself lives (a checkout or virtualenv under /workspace, a common container WORKDIR), which the
    workspace's tmpfs would hide. Where it cannot, execute sees the workspace at its host path instead,
    and the file tools' paths no longer name it there."""
    from benchgen_dagster.worker.bubblewrap import read_only_binds

    mount = Path(WORKSPACE)
    return not any(path == mount or mount in path.parents for path in read_only_binds())


class SandboxFilesystemBackend(FilesystemBackend, SandboxBackendProtocol):
    """deepagents' FilesystemBackend in virtual mode (the workspace is /workspace), guarded, with a sandboxed
    execute."""

    def __init__(self, workspace: Path, logs: Path, limits: SandboxLimits, hidden: tuple[Path, ...] = ()) -> None:
        super().__init__(root_dir=workspace, virtual_mode=True)
        self.workspace = workspace.resolve()
        self.logs = logs
        self.limits = limits
        # Folders execute's programs must not read (an engineer's: the library's families and their
        # solutions): only a cold bubblewrap sandbox can hide them, so execute runs there or not at all.
        self.hidden = hidden
        self._id = f"benchgen-{uuid.uuid4().hex[:8]}"
        self.executions = 0
        self.last_isolation = ""
        # Seconds the programs run with execute took, sandbox start and workspace copies included.
        self.sandbox_s = 0.0

    def _resolve_path(self, key: str) -> Path:
        """The host path of a workspace path: `/workspace/x` (what the sandbox has too), or `/x` for short.
        A path that names one of the sandbox's own folders (/tmp, /usr, …) is not the workspace's."""
        return super()._resolve_path(str(self._relative(key)))

    def ls(self, path: str) -> LsResult:
        try:
            self._relative(path)
        except ValueError as error:  # deepagents' ls lets it through and the session would end
            return LsResult(error=f"Error: {error}")
        return super().ls(path)

    def grep(
        self,
        pattern: str,
        path: str | None = None,
        glob: str | None = None,
        *,
        max_count: int | None = None,
        context_lines: int = 0,
    ) -> GrepResult:
        try:
            self._relative(path or "/")
        except ValueError as error:
            return GrepResult(error=f"Error: {error}")
        return super().grep(pattern, path, glob, max_count=max_count, context_lines=context_lines)

    def _to_virtual_path(self, path: Path) -> str:
        return WORKSPACE + super()._to_virtual_path(path).rstrip("/")

    def _refusal(self, file_path: str, tool_dirs_too: bool = True) -> str | None:
        try:
            relative = self._resolve_path(file_path).relative_to(self.cwd)
        except (ValueError, OSError, RuntimeError) as error:
            return f"Error: invalid path {file_path!r}: {error}"
        top = relative.parts[0] if relative.parts else ""
        if top in READ_ONLY_DIRS:
            return f"Error: {file_path!r} is read-only ({WORKSPACE}/{top}/ cannot be changed); write elsewhere."
        if tool_dirs_too and top in TOOL_WRITTEN_DIRS:
            return f"Error: {WORKSPACE}/{top}/ is written by the worker tools; call them instead of writing there."
        return None

    def _relative(self, file_path: str) -> PurePosixPath:
        return workspace_relative(file_path)

    def read(self, file_path: str, offset: int = 0, limit: int = 2000) -> ReadResult:
        # Only what the safe-file module reaches (no link on the way); deepagents then pages it.
        try:
            relative = self._relative(file_path)
        except ValueError as error:
            return ReadResult(error=f"Error: {error}")
        if not safe_files.is_file(self.workspace, relative):
            return ReadResult(error=f"File '{file_path}' not found (or not a regular file)")
        return super().read(file_path, offset, limit)

    def write(self, file_path: str, content: str) -> WriteResult:
        if refusal := self._refusal(file_path):
            return WriteResult(error=refusal)
        try:
            safe_files.write_text(self.workspace, self._relative(file_path), content)
        except (safe_files.UnsafeFileError, OSError) as error:
            return WriteResult(error=f"Error writing file '{file_path}': {error}")
        return WriteResult(path=file_path)

    def edit(self, file_path: str, old_string: str, new_string: str, replace_all: bool = False) -> EditResult:
        if refusal := self._refusal(file_path):
            return EditResult(error=refusal)
        relative = self._relative(file_path)
        try:
            content = safe_files.read_text(self.workspace, relative, MAX_AGENT_FILE)
        except safe_files.UnsafeFileError as error:
            return EditResult(error=f"Error: {error}")
        old = old_string.replace("\r\n", "\n").replace("\r", "\n")
        new = new_string.replace("\r\n", "\n").replace("\r", "\n")
        result = perform_string_replacement(content, old, new, replace_all)
        if isinstance(result, str):
            return EditResult(error=result)
        try:
            safe_files.write_text(self.workspace, relative, result[0])
        except (safe_files.UnsafeFileError, OSError) as error:
            return EditResult(error=f"Error editing file '{file_path}': {error}")
        return EditResult(path=file_path, occurrences=int(result[1]))

    def delete(self, file_path: str) -> DeleteResult:
        if refusal := self._refusal(file_path):
            return DeleteResult(error=refusal)
        if not safe_files.is_file(self.workspace, self._relative(file_path)) and not safe_files.is_dir(
            self.workspace, self._relative(file_path)
        ):
            return DeleteResult(error=f"File '{file_path}' not found")
        safe_files.remove(self.workspace, self._relative(file_path))
        return DeleteResult(path=file_path)

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
        """Run the shell command `command` in the sandbox, in /workspace (a copy of the workspace, synced
        back after). Plain `python -c`/`python FILE.py` forks from the warm builder where it runs (its
        imports paid); anything else, and everything where no warm builder runs, starts fresh."""
        started = time.perf_counter()
        try:
            return self._execute(command, timeout)
        finally:
            self.sandbox_s += time.perf_counter() - started

    def _execute(self, command: str, timeout: int | None) -> ExecuteResponse:
        self.executions += 1
        logs = self.logs / f"execute-{self.executions}"
        # A model may ask for up to an hour (deepagents' bound); a command gets ten minutes at most.
        wall = min(float(timeout or self.limits.seed_timeout_s), MAX_EXECUTE_S)
        # The tools' folders too: the graph's gate writes reports/ and renders/, and a program must not
        # forge them.
        protected = [*READ_ONLY_DIRS, *TOOL_WRITTEN_DIRS]
        sandbox = Sandbox(self.limits)
        if self.hidden and not sandbox.use_bubblewrap:
            return ExecuteResponse(
                output="execute needs the bubblewrap sandbox here, which is not available", exit_code=1
            )
        program = python_program(command)
        mountable = workspace_mountable()
        warm_fits = sandbox.use_bubblewrap and program and mountable and not self.hidden
        warm = WarmSandbox.shared(self.limits, BUILDER) if warm_fits else None
        run = None
        if warm is not None and program is not None:
            try:
                run = warm.start(
                    self.limits, json.dumps(program), self.workspace, self.workspace, logs, wall, protected
                ).wait()
            except (safe_files.UnsafeFileError, OSError, ValueError):
                # The workspace could not be copied for it (too many files, a file over the quota, a link
                # swapped in): the cold sandbox copies it its own way.
                run = None
            if run is not None and run.builder_died:  # the warm builder's doing, not the program's: cold
                run = None
        if run is None:
            run = sandbox.run(
                SandboxJob(
                    command=["/bin/sh", "-c", command],
                    workspace=self.workspace,
                    logs=logs,
                    wall_timeout_s=wall,
                    seeded=True,
                    protected=protected,
                    env={"PATH": AGENT_PATH},
                    mount_at=WORKSPACE if mountable else None,
                    hidden=list(self.hidden),
                )
            )
        self.last_isolation = run.isolation
        # Only the tails come back: the program's output is as untrusted as the program.
        output = run.stdout_tail + (f"\n[stderr]\n{run.stderr_tail}" if run.stderr_tail else "")
        if run.timed_out:
            output += f"\n[killed after {run.wall_s:.0f} s]"
        if run.export_problem:
            output += f"\n[the workspace was not updated: {run.export_problem}]"
        return ExecuteResponse(output=output, exit_code=run.returncode, truncated=False)
