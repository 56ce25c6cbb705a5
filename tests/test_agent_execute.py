"""`execute` takes shell commands, and the workspace has one path: /workspace, in the file tools and in
the sandbox alike (issue 15: a model that sent `python verify.py` got a Python syntax error, and
`/script.py` written with write_file was not where execute looked)."""

from pathlib import Path

import pytest

from benchgen_dagster.agent.backend import SandboxFilesystemBackend, prepare_workspace
from benchgen_dagster.models.settings import SandboxLimits
from benchgen_dagster.worker.commands import python_program
from tests.scripted import python

VERIFY = "import sys\nfrom utils import validate\nprint('argv', sys.argv[1:])\nopen('made.txt', 'w').write('x')\n"


@pytest.fixture
def backend(tmp_path: Path) -> SandboxFilesystemBackend:
    workspace = tmp_path / "ws"
    prepare_workspace(workspace)
    return SandboxFilesystemBackend(workspace, tmp_path / "logs", SandboxLimits())


def test_the_file_tools_name_the_workspace_as_the_sandbox_does(backend: SandboxFilesystemBackend) -> None:
    assert backend.write("/workspace/verify.py", VERIFY).error is None
    assert (backend.workspace / "verify.py").read_text() == VERIFY
    listed = [entry["path"] for entry in backend.ls("/workspace").entries or []]
    assert "/workspace/verify.py" in listed and "/workspace/utils/" in listed
    globbed = [m["path"] for m in backend.glob("*.py", "/workspace").matches or []]
    assert {"/workspace/utils/__init__.py", "/workspace/verify.py", "/workspace/library/crank.py"} <= set(globbed)
    assert [m["path"] for m in backend.grep("argv", "/workspace").matches or []] == ["/workspace/verify.py"]
    # `/x` stays a short name for `/workspace/x`, but a path into the sandbox's own folders is refused:
    # in execute it would be somewhere else.
    assert backend.read("/verify.py").error is None
    refused = backend.write("/tmp/notes.txt", "x").error or ""
    assert "sandbox's own folder" in refused and "/workspace" in refused
    assert not (backend.workspace / "tmp").exists()
    # Listed or searched, such a path is an answer to the model, not an error that ends its session.
    assert "sandbox's own folder" in (backend.ls("/tmp").error or "")
    assert "sandbox's own folder" in (backend.grep("x", "/usr").error or "")


@pytest.mark.sandbox
@pytest.mark.usefixtures("require_bubblewrap")
def test_execute_runs_shell_commands_in_the_workspace(backend: SandboxFilesystemBackend) -> None:
    backend.write("/workspace/verify.py", VERIFY)
    response = backend.execute("pwd && ls | sort | head -3 && python verify.py one two")
    assert response.exit_code == 0, response.output
    lines = response.output.splitlines()
    assert lines[:4] == ["/workspace", "docs", "library", "renders"]
    assert "argv ['one', 'two']" in response.output
    assert (backend.workspace / "made.txt").read_text() == "x"
    # The absolute path the file tools showed is the path the program sees.
    response = backend.execute("python /workspace/verify.py three && cat /workspace/made.txt")
    assert response.exit_code == 0 and "argv ['three']" in response.output, response.output
    response = backend.execute("exit 3")
    assert response.exit_code == 3
    response = backend.execute("no-such-program")
    assert response.exit_code == 127 and "not found" in response.output


@pytest.mark.sandbox
@pytest.mark.usefixtures("require_bubblewrap")
def test_plain_python_runs_in_the_warm_sandbox_with_the_same_paths(backend: SandboxFilesystemBackend) -> None:
    backend.write("/workspace/verify.py", VERIFY)
    response = backend.execute("python verify.py warm")
    assert response.exit_code == 0 and "argv ['warm']" in response.output, response.output
    assert "warm builder" in backend.last_isolation
    response = backend.execute(python("import os; print(os.getcwd()); raise SystemExit(4)"))
    assert response.exit_code == 4 and response.output.startswith("/workspace"), response.output
    assert "warm builder" in backend.last_isolation


@pytest.mark.parametrize(
    ("command", "program"),
    [
        ("python verify.py a b", {"script": "verify.py", "argv": ["a", "b"]}),
        ("python3 -c 'print(\"$x\")'", {"code": 'print("$x")', "argv": []}),
        ('python -c "print(1)"', {"code": "print(1)", "argv": []}),
        ("python verify.py | head", None),
        ('python -c "print($HOME)"', None),
        ("python *.py", None),
        ("python -u verify.py", None),
        ("python verify.py; ls", None),
        ("ls", None),
        ("python 'unbalanced", None),
        # The shell and shlex read backslashes differently: the shell runs those.
        ("python -c \"print('\\$HOME')\"", None),
        ("python x.py \\\narg", None),
    ],
)
def test_only_plain_python_takes_the_fast_path(command: str, program: dict[str, object] | None) -> None:
    assert python_program(command) == program
