"""How far each family's layout grows: the largest of 2, 1.6 and 1.3 at which the family passes every
check, its reference solution included, over 16 seeds (`LAYOUT_SCALES`), both at its declared nominals
and at the corner the offline planner builds when it grows a layout: the travel's or rise's parameters at
the top of their measured safe ranges (a request beyond the layout's reach).

`make bench-layout-scales` prints each family's measured scale (the largest where both pass) beside the
declared one, the first failure at each larger scale, and exits 1 where a declared scale is more than was
measured (nominals and corner both passing)."""

import argparse
import sys
import tempfile
import time
from pathlib import Path

from benchgen_dagster.library import families
from benchgen_dagster.models.settings import CheckSettings
from benchgen_dagster.worker.check import Checker

SCALES = (2.0, 1.6, 1.3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("families", nargs="*", help="only these families (default: all)")
    args = parser.parse_args()
    overclaimed = []
    with tempfile.TemporaryDirectory(prefix="benchgen-layouts-") as folder:
        checker = Checker(CheckSettings(), home=Path(folder) / "home")
        for family in families():
            if args.families and family.name not in args.families:
                continue
            measured, failures, started = 1.0, [], time.perf_counter()
            corner = _corner(family)
            for scale in SCALES:
                problem = None
                for label, nominals in (("nominals", {}), ("corner", corner)):
                    if label == "corner" and not corner:
                        continue
                    script = Path(folder) / f"{family.name}-{label}-{scale:g}.py"
                    script.write_text(_grown(family, nominals, scale))
                    report = checker.check(script, list(range(args.seeds)))
                    if not report.passed:
                        first = next(r for r in report.results if not r.passed)
                        shown = ", ".join(f"{k} {v:g}" for k, v in nominals.items()) or "declared"
                        problem = f"{scale:g}× ({label}: {shown}): {first.check}: {first.message[:110]}"
                        break
                if problem is None:
                    measured = scale
                    break
                failures.append(problem)
            wall = time.perf_counter() - started
            flag = "" if family.max_scale <= measured else "  OVERCLAIMED"
            print(f"{family.name:22} declared {family.max_scale:g}× measured {measured:g}× ({wall:.0f} s){flag}")
            for failure in failures:
                print(f"    {failure}")
            if flag:
                overclaimed.append(family.name)
    if overclaimed:
        print(f"declared beyond what was measured: {', '.join(overclaimed)}", file=sys.stderr)
    return 1 if overclaimed else 0


def _corner(family) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """The motion's parameters at the top of their safe ranges, as the planner sets them in a grown layout:
    a travel's parameters by one shared factor (the narrowest range bounds it), a rise's on its own; {} for
    a family whose profile has no travel or rise."""
    from benchgen_dagster.agent.offline.profiles import PROFILES

    profile = PROFILES.get(family.name)
    declared = {p.name: p for p in family.parameters()}
    corner: dict[str, float] = {}
    if profile is not None and profile.travel:
        names = profile.travel[0]
        factor = min(declared[n].safe[1] for n in names)
        corner |= {n: round(declared[n].nominal * factor, 1) for n in names}
    if profile is not None and profile.rise is not None:
        name = profile.rise[0]
        corner[name] = round(declared[name].nominal * declared[name].safe[1], 1)
    return corner


def _grown(family, nominals: dict[str, float], scale: float) -> str:  # type: ignore[no-untyped-def]
    # Family.script refuses a scale beyond the declared one: grow its output the same way to measure it anyway.
    return family.script(nominals).replace("scale=scale", f"scale=scale * {scale:g}", 1)


if __name__ == "__main__":
    raise SystemExit(main())
