"""The built-in benchmark families: real build123d scripts, each a module with `build(seed, scale)`.

Every family module declares `FAMILY` (its name), `TIER` (1 spatial, 2 kinematic) and
`DESCRIPTION` (one line); its parameters are declared as data in `parameters.py`. Modules are read
as source text too, never imported by the host to learn about them: `benchgen library export` writes
the script a user or an agent starts from, and `Family.script` writes it with other nominal values.
"""

import ast
import functools
import importlib
import math
import pkgutil
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from benchgen_dagster.library.parameters import LAYOUT_SCALES, PARAMETERS, Parameter

LIBRARY_DIR = Path(__file__).parent
# The package's modules that are not families.
_NOT_FAMILIES = frozenset({"parameters"})
# How a family's build() passes its caller's scale on to its Scene: the one place a layout grows.
_SCENE_SCALE = "scale=scale"
_TITLE_RE = re.compile(r"""title=["']([^"']+)["']""")


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

    def title(self) -> str | None:
        """The title the family's scene declares (`title="..."`), if its source names one."""
        found = _TITLE_RE.search(self.source())
        return found.group(1) if found else None

    def parameters(self) -> tuple[Parameter, ...]:
        """The family's declared parameters, in the order it draws them."""
        if self.name not in PARAMETERS:
            raise KeyError(f"family {self.name!r} declares no parameters in {__name__}.parameters")
        return PARAMETERS[self.name]

    def nominals(self) -> dict[str, float]:
        """Each declared parameter's default nominal value, by name, in the order the family draws them."""
        return {parameter.name: float(parameter.nominal) for parameter in self.parameters()}

    @property
    def max_scale(self) -> float:
        """The largest layout scale the family is measured to hold (`parameters.LAYOUT_SCALES`); 1: it does
        not grow."""
        return LAYOUT_SCALES.get(self.name, 1.0)

    def script(self, nominals: Mapping[str, float], scale: float = 1.0) -> str:
        """The family's script, drawing each parameter named in `nominals` around that nominal instead, and
        with its layout grown by `scale`.

        Each changed draw is written from the parameter's declaration, in place of the draw as declared
        (`Parameter.draw`); a scale other than 1 multiplies the scale its `Scene` is built at
        (`scale=scale * 1.6`), so every solid, zone and joint grows and the judge scales the limits and
        times with it. Everything else is the family's source. Raises ValueError for a parameter the
        family does not declare, a value that is not finite, a declared draw the source does not make
        exactly once, or a scale outside (0, max_scale]."""
        declared = {parameter.name: parameter for parameter in self.parameters()}
        unknown = sorted(set(nominals) - set(declared))
        if unknown:
            raise ValueError(f"family {self.name!r} has no parameters {unknown}; it has {sorted(declared)}")
        source = self.source()
        for name, value in sorted(nominals.items()):
            if not math.isfinite(value):
                raise ValueError(f"nominal {name}={value} is not a finite number")
            as_declared = declared[name].draw()
            if (count := source.count(as_declared)) != 1:
                raise ValueError(f"{self.path.name} makes the draw {as_declared} {count} times, not once")
            source = source.replace(as_declared, declared[name].draw(value))
        if scale != 1.0:
            if not 0 < scale <= self.max_scale:
                raise ValueError(f"family {self.name!r} grows its layout up to {self.max_scale:g}×, not {scale:g}×")
            if (count := source.count(_SCENE_SCALE)) != 1:
                raise ValueError(f"{self.path.name} passes {_SCENE_SCALE} {count} times, not once")
            source = source.replace(_SCENE_SCALE, f"{_SCENE_SCALE} * {format_scale(scale)}")
        return source


def format_scale(scale: float) -> str:
    """A layout scale as a script and a plan write it: 1.6, 1.25."""
    return f"{round(scale, 3):g}"


def _declared(path: Path, name: str) -> str:
    constants = _constants(path)
    if name not in constants:
        raise ValueError(f"library module {path.name} does not declare {name}")
    return constants[name]


@functools.cache
def _constants(path: Path) -> dict[str, str]:
    # Read the constants from the source (parsed, never run), so listing the library does not import
    # build123d; a constant may span lines (a parenthesised string). Once per module and process: the
    # library is package data.
    found = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id.isupper():
                    found[target.id] = str(node.value.value)
    return found


def families() -> list[Family]:
    """All families, ordered by tier then name."""
    found = []
    for info in pkgutil.iter_modules([str(LIBRARY_DIR)]):
        if info.name in _NOT_FAMILIES:
            continue
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


def layout_scales() -> dict[str, float]:
    """Each family's largest layout scale (`Family.max_scale`): what a plan's `scale` is checked against."""
    return {f.name: f.max_scale for f in families()}


def catalogue() -> dict[str, frozenset[str]]:
    """Each family's name and its declared parameters' names: what a plan's `family` and `overrides` are
    checked against (`models.plans.read_plan`)."""
    return {f.name: frozenset(p.name for p in f.parameters()) for f in families()}
