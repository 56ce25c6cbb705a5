"""The offline reviewer: reads the worker's summary, looks at the renders, and writes reviews/<round>.md.

It approves only a benchmark whose checks all passed and whose goal zone shows in at least one render.
"""

import json

import yaml
from langchain_core.messages import AIMessage

from benchgen_dagster.agent.offline.messages import call, section
from benchgen_dagster.agent.prompts import ROUND_MARKER


def reviewer_step(task: str, called: list[str], results: dict[str, str], n: int) -> AIMessage:
    """The reviewer's next message, given the task, the tools called so far and what each last returned."""
    review_round = (section(task, ROUND_MARKER).splitlines() or ["1"])[0].strip()
    if "read_file" not in called:
        return call("read_file", {"file_path": "/workspace/reports/summary.json"}, n)
    if "view_renders" not in called:
        return call("view_renders", {}, n)
    if "write_file" not in called:
        passed = '"passed": true' in results.get("read_file", "")
        views = json.loads(results.get("view_renders") or "[]")
        goal_visible = any(v.get("goal_zone_share", 0) > 0 for v in views)
        comments = []
        if not passed:
            comments.append("the worker's checks did not all pass (see /reports/summary.json)")
        if not views:
            comments.append("there are no renders to look at")
        elif not goal_visible:
            comments.append("the goal zone is not visible in any of the renders")
        decision = "approved" if not comments else "rejected"
        if not comments:
            comments.append(
                f"all checks pass; the goal zone shows in {sum(v['goal_zone_share'] > 0 for v in views)} "
                f"of {len(views)} views"
            )
            proven = '"solvability": "proven"' in results.get("read_file", "")
            comments.append(
                "its reference solution solves every checked seed"
                if proven
                else "solvability is unproven: the script has no reference solution()"
            )
        body = yaml.safe_dump({"decision": decision, "comments": comments}, sort_keys=False)
        review = f"---\n{body}---\n# Review, round {review_round}\n\n" + "\n".join(f"- {c}" for c in comments) + "\n"
        return call("write_file", {"file_path": f"/workspace/reviews/{review_round}.md", "content": review}, n)
    return AIMessage(content=f"REVIEW WRITTEN: /workspace/reviews/{review_round}.md")
