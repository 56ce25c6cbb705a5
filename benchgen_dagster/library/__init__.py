"""The built-in benchmark families: real build123d scripts, each a module with `build(seed, scale)`.

Every family module declares `FAMILY` (its name), `TIER` (1 spatial, 2 kinematic) and
`DESCRIPTION` (one line). Modules are read as source text too: `benchgen library export` writes
the script a user or an agent starts from.
"""

import importlib
import pkgutil
import re
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

LIBRARY_DIR = Path(__file__).parent
_PARAM_RE = re.compile(r"""p\.param\(\s*["'](\w+)["']\s*,\s*nominal=\s*([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)""")


@dataclass(frozen=True)
class Family:
    name: str
    tier: int
    description: str
    path: Path

    def module(self) -> ModuleType:
        return importlib.import_module(f"{__name__}.{self.name}")

    def source(self) -> str:
        return self.path.read_text()

    def nominals(self) -> dict[str, float]:
        """The family's continuous parameters and their default nominal values, in the order it draws them.

        Read from the source (`p.param("name", nominal=X`), so nothing is imported."""
        return {name: float(value) for name, value in _PARAM_RE.findall(self.source())}


def _declared(path: Path, name: str) -> str:
    # Read the constants from the source, so listing the library does not import build123d.
    for line in path.read_text().splitlines():
        if line.startswith(f"{name} = "):
            return line.split("=", 1)[1].strip().strip("\"'")
    raise ValueError(f"library module {path.name} does not declare {name}")


def families() -> list[Family]:
    """All families, ordered by tier then name."""
    found = []
    for info in pkgutil.iter_modules([str(LIBRARY_DIR)]):
        path = LIBRARY_DIR / f"{info.name}.py"
        found.append(
            Family(
                name=_declared(path, "FAMILY"),
                tier=int(_declared(path, "TIER")),
                description=_declared(path, "DESCRIPTION"),
                path=path,
            )
        )
    return sorted(found, key=lambda f: (f.tier, f.name))


def family(name: str) -> Family:
    for candidate in families():
        if candidate.name == name:
            return candidate
    known = ", ".join(f.name for f in families())
    raise KeyError(f"no benchmark family named {name!r}; known families: {known}")
