"""The offline policy is one chat model among others: outside agent/offline/, only model selection imports it."""

import ast
from pathlib import Path

import benchgen_dagster

PACKAGE = Path(benchgen_dagster.__file__).parent
OFFLINE = "benchgen_dagster.agent.offline"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
    return names


def test_only_model_selection_imports_the_offline_policy() -> None:
    importers = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if not path.is_relative_to(PACKAGE / "agent" / "offline")
        and any(name == OFFLINE or name.startswith(OFFLINE + ".") for name in _imports(path))
    }
    assert importers == {"agent/models.py"}
