"""What a real model needs to write a passing script, put where it can read it: `/workspace/docs/` and
`/workspace/library/`, read-only.

- `docs/benchmark-script.md`: the script contract as people read it (the package's own page).
- `docs/api.md`: the signatures and docstrings of `benchgen_dagster.scene` (Scene, Part, Zone, the
  sampler), the materials table and the checks, generated from the code, so they never drift.
- `library/README.md`: the built-in families (tier, what each is, its parameters with their units and
  the range a plan may move them in); `library/<family>.py`: each family's script, a worked example
  with `build()` and `solution()` that passes every check.

The planner's task lists the same families (`library_summary`), and may plan a new mechanism instead.
"""

import inspect
from functools import cache
from importlib import resources

from benchgen_dagster.library import families, format_scale
from benchgen_dagster.library.parameters import format_nominal

DOCS_DIR = "docs"
LIBRARY_DIR = "library"


@cache
def contract_files() -> dict[str, str]:
    """The files, by workspace-relative path."""
    files = {
        f"{DOCS_DIR}/benchmark-script.md": resources.files("benchgen_dagster.docs")
        .joinpath("benchmark-script.md")
        .read_text(),
        f"{DOCS_DIR}/api.md": api_reference(),
        f"{LIBRARY_DIR}/README.md": "# The built-in families\n\n" + library_summary() + "\n",
    }
    for family in families():
        files[f"{LIBRARY_DIR}/{family.name}.py"] = family.source()
    return files


def library_summary() -> str:
    """The families as a markdown list: name, tier, description, how far its layout grows, parameters (nominal,
    unit, planning range)."""
    lines = [
        "Tier 1: spatial (get an object somewhere); tier 2: kinematic (a joint must move). A plan builds on one "
        "(`family: <name>`, moving its nominal values within the ranges below through `overrides`) or plans a "
        "new mechanism (`family: new`). Each family's script is in /workspace/library/<name>.py. A request larger "
        "than a family's layout reaches grows the layout (`scale`) before any value is clamped.",
        "",
    ]
    for family in families():
        grows = (
            f" Its layout grows up to {format_scale(family.max_scale)}× (`scale`)."
            if family.max_scale > 1
            else " Its layout does not grow."
        )
        lines.append(f"- **{family.name}** (tier {family.tier}): {family.description}{grows}")
        for parameter in family.parameters():
            low, high = (format_nominal(parameter.nominal * f) for f in parameter.safe)
            lines.append(
                f"  - `{parameter.name}`: {format_nominal(parameter.nominal)} {parameter.unit} ({parameter.kind}; "
                f"a plan may set {low}–{high}; each seed draws ±{parameter.spread:.0%} around it)"
            )
    return "\n".join(lines)


def api_reference() -> str:
    """`benchgen_dagster.scene`'s public API, the materials and the checks, from the code itself."""
    from benchgen_dagster import scene
    from benchgen_dagster.models.materials import ACTUATOR_UNIT_COST, MATERIALS
    from benchgen_dagster.models.reports import Check

    out = [
        "# API reference (generated from benchgen_dagster.scene)",
        "",
        "Import with `from benchgen_dagster.scene import Part, Scene, Zone, sampler`; units are mm, g, g/cm³, "
        "degrees (hinges) and mm (slides).",
        "",
    ]
    for name in ("sampler", "ParamSampler", "Zone", "Part", "Scene"):
        obj = getattr(scene, name)
        out += _describe(name, obj)
    out += ["## Materials", "", "| name | density g/cm³ | friction | price per kg |", "|---|---|---|---|"]
    for material in MATERIALS.values():
        out.append(f"| {material.name} | {material.density_g_cm3} | {material.friction} | {material.price_per_kg} |")
    out += [
        "",
        f"A driven joint (`drive=`) adds {ACTUATOR_UNIT_COST} to a solution's cost (its motor); in a layout grown "
        f"S× (`Scene(scale=...)`) a motor costs {ACTUATOR_UNIT_COST}·S³, as the cost limit grows by S³.",
        "",
    ]
    out += ["## Checks the judge runs", "", ", ".join(f"`{c.value}`" for c in Check), ""]
    return "\n".join(out)


def _describe(name: str, obj: object) -> list[str]:
    lines = [f"## `{name}{_signature(obj)}`", "", inspect.getdoc(obj) or "", ""]
    if inspect.isclass(obj):
        for member, value in vars(obj).items():
            function = value.__func__ if isinstance(value, classmethod | staticmethod) else value
            if member.startswith("_") or not inspect.isfunction(function) or member == "spec":
                continue
            lines += [f"### `{name}.{member}{_signature(function)}`", "", inspect.getdoc(function) or "", ""]
    return lines


def _signature(obj: object) -> str:
    try:
        return str(inspect.signature(obj))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
