"""The offline engineer: reads its first seed's task, ranks its designs for the task (`offline/designs`), and writes
and checks them one by one until one solves every seed or the attempts run out, then leaves the best.

It designs from the task alone: what it reads is tasks/<seed>.json and what check_design answered. The designs
it knows are a pusher, a lever press and a ramp; a benchmark none of them fits (a throw over a wall, a
crank, two pushes round a corner) it fails, and the judge says where.
"""

import json

from langchain_core.messages import AIMessage

from benchgen_dagster.agent.offline.designs import DESIGNS, design_source
from benchgen_dagster.agent.offline.messages import call, section, shown_file
from benchgen_dagster.agent.prompts import SEEDS_MARKER, SOLUTION_PATH, TASKS_DIR, WORKSPACE
from benchgen_dagster.models.evaluation import Task

MIN_RISE_MM = 10.0


def design_order(task: Task) -> list[str]:
    """The designs that fit the task, best first: a lever where the object rests on a horizontal hinge, a
    ramp where the goal is above the object, and a pusher where the goal is off to one side."""
    (lo, hi) = task.part(task.moved_object).bounds_mm
    goal = task.goal_zone
    fits = []
    for part in task.parts:
        joint = part.spec.joint
        level = joint is not None and joint.kind == "hinge" and abs(joint.axis[2]) < 0.2
        if level and abs(part.bounds_mm[1][2] - lo[2]) < MIN_RISE_MM:  # the object rests on it
            fits.append("lever")
            break
    if goal.lo[2] - lo[2] >= MIN_RISE_MM:
        fits.append("ramp")
    centre = [(a + b) / 2 for a, b in zip(lo, hi, strict=True)]
    inside = all(g_lo <= c <= g_hi for g_lo, c, g_hi in zip(goal.lo[:2], centre[:2], goal.hi[:2], strict=True))
    if not inside:
        fits.append("pusher")
    return fits or list(DESIGNS)


def _results(results_in_order: list[tuple[str, str]], name: str) -> list[str]:
    return [text for called, text in results_in_order if called == name]


def engineer_step(
    task: str, called: list[str], results: list[tuple[str, str]], reads: dict[str, str], n: int
) -> AIMessage:
    """The engineer's next message, given its task, the tools called so far (in order), every tool result
    in order (name, text) and what each file read showed."""
    first = int(section(task, SEEDS_MARKER).split(",")[0])
    path = f"{WORKSPACE}/{TASKS_DIR}/{first}.json"
    if path not in reads:
        return call("read_file", {"file_path": path, "limit": 5000}, n)
    order = design_order(Task.model_validate_json(shown_file(reads[path])[0]))
    checks = [json.loads(text) for text in _results(results, "check_design")]
    written = called.count("write_file")
    if written == 0:
        return call("write_file", {"file_path": SOLUTION_PATH, "content": design_source(order[0])}, n)
    last = checks[-1] if checks else None
    solved_all = last is not None and "error" not in last and last["solved"] == last["seeds"]
    out = last is not None and ("error" in last or last["attempts_left"] <= 0 or len(checks) >= len(order))
    if written > len(checks) and not out and not solved_all:
        return call("check_design", {}, n)
    if solved_all:
        return AIMessage(content=f"SOLVED: {order[len(checks) - 1]} solves every seed, in {len(checks)} attempt(s)")
    if not out:
        return call("write_file", {"file_path": SOLUTION_PATH, "content": design_source(order[len(checks)])}, n)
    # Out of designs or attempts: leave the design that solved most (judged again, it costs no attempt).
    judged = [c for c in checks if "error" not in c]
    if not judged:
        return AIMessage(content="GAVE UP: no design could be checked")
    best = max(range(len(judged)), key=lambda i: (judged[i]["solved"], judged[i]["score"], -i))
    if best != len(judged) - 1 and written == len(checks):
        return call("write_file", {"file_path": SOLUTION_PATH, "content": design_source(order[best])}, n)
    summary = ", ".join(f"{order[i]} {c['solved']}/{c['seeds']}" for i, c in enumerate(judged))
    return AIMessage(content=f"BEST EFFORT: {order[best]} ({summary})")
