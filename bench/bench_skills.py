"""Skills benchmark: does what the learner writes make the next generation better?

Run with `make bench-skills`. In one run, in a fresh BENCHGEN_HOME, with the offline policy and the
same fixed check seeds throughout:

1. without skills: every request below runs as a generation session (planner → coder ⇄ worker →
   reviewer) with no skills offered;
2. learn: those sessions' journals are compressed and the learner agent writes skills from them
   (validated and versioned as `learned_skills` would);
3. with skills: the same requests run again in fresh workspaces, the learned skills offered.

It prints, for both, the first-attempt pass rate (the coder's first script passed every check), the
mean coder rounds, how many were approved and the wall time. The requests ask for nominal values the
families cannot always take (the 1 m of travel, the 300 mm gap, the 400 mm drawer); one asks for
nothing unusual, as a control.
"""

import argparse
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from rich.console import Console
from rich.table import Table

REQUESTS = [
    "a steel ball of radius 40 mm must be moved 1 m sideways",
    "a ball must cross a 300 mm gap",
    "a drawer 400 mm deep must be pulled open",
    "a box must pass under a low bar",
]


def session(prompt: str, workspace: str, skills: str | None, seeds: int) -> dict:
    from benchgen_dagster.agent.configuration import SessionConfig
    from benchgen_dagster.agent.journals import compress
    from benchgen_dagster.agent.session import run_session

    config = SessionConfig(
        prompt=prompt,
        workspace=Path(workspace),
        model="offline",
        check_seeds=seeds,
        skills_dir=Path(skills) if skills else None,
        model_retries=0,
    )
    result = run_session(config)
    ws = Path(workspace)
    digest = compress(ws.name, (ws / "journal.md").read_text(), (ws / "plan.md").read_text())
    return {
        "prompt": prompt,
        "decision": result.decision,
        "rounds": len(digest.rounds),
        "first_attempt": digest.first_attempt_passed,
        "skills_read": result.skills_read,
        "wall_s": result.wall_s,
        "digest": digest.model_dump(),
    }


def phase(home: Path, name: str, skills: Path | None, seeds: int) -> list[dict]:
    with ProcessPoolExecutor(max_workers=2) as pool:
        futures = [
            pool.submit(session, prompt, str(home / name / f"r{i}"), str(skills) if skills else None, seeds)
            for i, prompt in enumerate(REQUESTS)
        ]
        return [f.result() for f in futures]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="benchgen-bench-skills-") as tmp:
        home = Path(tmp)
        os.environ["BENCHGEN_HOME"] = str(home)
        from benchgen_dagster.agent.learner import run_learner
        from benchgen_dagster.agent.skills import SkillStore
        from benchgen_dagster.models.skills import SessionDigest

        started = time.perf_counter()
        without = phase(home, "without", None, args.seeds)
        store = SkillStore(home)
        learned = run_learner(
            [SessionDigest.model_validate(r["digest"]) for r in without],
            store.current_dir,
            home / "learner",
            "offline",
            home,
        )
        proposals = [store.propose(name, text, "offline") for name, text in sorted(learned.proposals.items())]
        with_skills = phase(home, "with", store.current_dir, args.seeds)
        total = time.perf_counter() - started

    console = Console(width=140)
    per_request = Table(title=f"bench-skills: {len(REQUESTS)} requests, {args.seeds} seeds, offline policy")
    for column in ("request", "without: rounds", "decision", "with skills: rounds", "decision", "skills read"):
        per_request.add_column(column, overflow="fold")
    for before, after in zip(without, with_skills, strict=True):
        per_request.add_row(
            before["prompt"],
            str(before["rounds"]),
            before["decision"],
            str(after["rounds"]),
            after["decision"],
            ", ".join(after["skills_read"]) or "none",
        )
    console.print(per_request)
    console.print(
        "skills learned: "
        + (
            ", ".join(f"{p.name} ({p.status}{', v' + str(p.version) if p.version else ''})" for p in proposals)
            or "none"
        )
        + (f"; refused: {learned.unreadable}" if learned.unreadable else ""),
        highlight=False,
    )
    summary = Table(title="first attempt and rounds")
    for column in ("", "first-attempt pass rate", "mean rounds", "approved", "session wall s (sum)"):
        summary.add_column(column)
    for label, rows in (("without skills", without), ("with learned skills", with_skills)):
        summary.add_row(
            label,
            f"{sum(r['first_attempt'] for r in rows) / len(rows):.2f}",
            f"{sum(r['rounds'] for r in rows) / len(rows):.2f}",
            f"{sum(r['decision'] == 'approved' for r in rows)}/{len(rows)}",
            f"{sum(r['wall_s'] for r in rows):.0f}",
        )
    console.print(summary)
    console.print(f"total {total:.0f} s", highlight=False)


if __name__ == "__main__":
    main()
