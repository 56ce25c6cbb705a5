"""How far each family's layout grows: the largest of 2, 1.6 and 1.3 at which the family at its declared
nominals passes every check, its reference solution included, over 16 seeds (`LAYOUT_SCALES`).

`make bench-layout-scales` prints each family's measured scale beside the declared one and the first
failure at each larger scale, and exits 1 where a declared scale is more than was measured."""

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
            for scale in SCALES:
                script = Path(folder) / f"{family.name}-{scale:g}.py"
                script.write_text(
                    family.script({}, scale=scale) if scale <= family.max_scale else _grown(family, scale)
                )
                report = checker.check(script, list(range(args.seeds)))
                if report.passed:
                    measured = scale
                    break
                first = next(r for r in report.results if not r.passed)
                failures.append(f"{scale:g}×: {first.check}: {first.message[:110]}")
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


def _grown(family, scale: float) -> str:  # type: ignore[no-untyped-def]
    # Beyond the declared scale Family.script refuses: write it the same way to measure it anyway.
    return family.source().replace("scale=scale", f"scale=scale * {scale:g}", 1)


if __name__ == "__main__":
    raise SystemExit(main())
