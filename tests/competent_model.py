"""A competent model, played through tool calls by the scripted provider servers (tests/provider_servers.py).

The planner writes a plan with validated front matter; the coder reads the contract, writes a script that
sinks its box into the floor (no_interpenetration fails), self-checks with a shell command through
`execute`, asks the judge (check_script), and fixes the script only once the failure's text has reached it;
the reviewer looks at the renders and approves. Every path it names is an absolute /workspace path, the
one the file tools and the sandbox share.
"""

import re

from tests.conftest import SCRIPTS
from tests.provider_servers import Reply, Request, by_role, call

GOOD = (SCRIPTS / "good_box.py").read_text()
SUNK, LIFTED = "size / 2 - 20", "size / 2 + 0.3"
BAD = GOOD.replace(LIFTED, SUNK)
PLAN = """---
family: new
tier: 1
learning_objectives:
- Push a box along the floor into a goal zone without touching the forbidden space.
randomization:
- {description: box size, spread: 0.4, unit: mm}
deviations: []
---
# Push a box into the goal

A box rests on the floor; a solver builds a pusher in the build zone that slides it into the goal.
"""
VERIFY = "from utils import validate\nprint(validate(seeds=1))\n"


def planner(request: Request) -> Reply | str:
    if not request.calls_of("write_file"):
        return call("write_file", file_path="/workspace/plan.md", content=PLAN)
    return "PLANNED: /workspace/plan.md"


def coder(request: Request) -> Reply | str:
    if not request.calls_of("read_file"):
        return call("read_file", file_path="/workspace/docs/api.md")
    if not request.calls_of("write_file"):
        return call("write_file", file_path="/workspace/script.py", content=BAD) + call(
            "write_file", file_path="/workspace/verify.py", content=VERIFY
        )
    if not request.calls_of("execute"):
        # A shell command, not Python: a pipe, and the absolute path the file tools showed.
        return call("execute", command="ls /workspace | grep -c py; python /workspace/verify.py | tail -c 400")
    checks = request.results_of("check_script")
    if not checks:
        return call("check_script")
    if len(checks) == 1:
        # The fix is the failure's: only a model that read the judge's verdict knows what to change.
        if '"passed": false' in checks[0].text and "no_interpenetration" in checks[0].text:
            if not request.calls_of("edit_file"):
                return call("edit_file", file_path="/workspace/script.py", old_string=SUNK, new_string=LIFTED)
            return call("check_script")
        return "the first check passed, which it should not have"
    if '"passed": true' not in checks[-1].text:
        return "still failing: " + checks[-1].text[:200]
    if not request.calls_of("render_views"):
        return call("render_views")
    if not request.calls_of("submit_for_review"):
        return call("submit_for_review", note="fixed the box sunk into the floor")
    return "SUBMITTED: /workspace/script.py"


def reviewer(request: Request) -> Reply | str:
    if not request.calls_of("view_renders"):
        return call("view_renders")
    found = re.search(r"ROUND:\s*(\d+)", request.task)
    review = f"/workspace/reviews/{found.group(1) if found else 1}.md"
    if not request.calls_of("write_file"):
        body = "---\ndecision: approved\ncomments:\n- the box sits clear of the floor and the goal is reachable\n---\n"
        return call("write_file", file_path=review, content=body + "# Review\n")
    return f"REVIEW WRITTEN: {review}"


def learner(request: Request) -> Reply | str:
    return "nothing to learn yet"


COMPETENT = by_role(planner=planner, coder=coder, reviewer=reviewer, skill_learner=learner)
