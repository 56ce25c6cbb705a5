"""The real provider clients (langchain-openai, langchain-anthropic) drive benchgen end to end against
scripted provider-compatible servers on loopback, which play a competent model (tests/competent_model.py):
`benchgen agent run` and `benchgen generate` to an approved, promoted benchmark, a shell command through
`execute`, absolute /workspace paths, an injected 500 (retried as the model call alone) and an injected 400
(not retried: the session fails with the reason). Nothing in benchgen knows which provider it talks to."""

import json
import os
import re
from pathlib import Path

import pytest

from tests.competent_model import COMPETENT
from tests.conftest import benchgen
from tests.provider_servers import Request, serve

pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.usefixtures("require_bubblewrap"),
    pytest.mark.enable_socket,
    pytest.mark.allow_hosts(["127.0.0.1"]),
]
PROMPT = "push a box along the floor into a goal zone"
PACKAGE = Path(__file__).parent.parent / "benchgen_dagster"


def coder_calls(request: Request) -> bool:
    return request.role == "coder"


def test_agent_run_with_openai_fixes_a_failed_check_and_survives_a_500(tmp_path: Path) -> None:
    with serve(COMPETENT) as server:
        # The coder's third call fails once (after it wrote the script): the call is retried, nothing else.
        server.inject(500, when=lambda r: r.role == "coder" and r.turn == 2)
        done = benchgen(
            "agent", "run", PROMPT, "--workspace", str(tmp_path / "ws"), "--json",
            env={**os.environ, **server.env("openai"), "BENCHGEN_HOME": str(tmp_path / "home")},
        )  # fmt: skip
        session = json.loads(done.stdout or "{}")
        assert done.returncode == 0, done.stdout + done.stderr
        assert session["decision"] == "approved" and session["checks_passed"], session
        assert server.count("coder", status=500) == 1
        coder = [e for e in server.requests if e.role == "coder"]
        # The failed call was sent again, alone: no other call was repeated and the turn was not rerun.
        turns = [e.request.turn for e in coder]
        assert turns.count(2) == 2 and len(set(turns)) == len(turns) - 1, turns
        assert len(coder[-1].request.calls_of("write_file")) == 2  # script.py and verify.py, once
        assert session["usage"]["coder"]["calls"] == len(coder)
        assert session["usage"]["coder"]["failed_calls"] == 1
    workspace = tmp_path / "ws"
    journal = (workspace / "journal.md").read_text()
    # The judge's first verdict (the failure) and the fix are in the journal; the self-check's output is not.
    assert "no_interpenetration" in journal and "all checks pass" in journal
    shell = next(e for e in coder if e.request.results_of("execute"))
    executed = shell.request.results_of("execute")[-1].text
    assert re.search(r"^\d+$", executed, re.M) and "Traceback" not in executed, executed
    assert executed.splitlines()[-1] not in journal
    # Priced from the price table, per role; the tokens are what the server reported.
    assert session["estimated_cost_usd"] and session["estimated_cost_usd"] > 0
    reported = sum(e.input_tokens for e in server.requests if e.status == 200)
    assert sum(u["input_tokens"] for u in session["usage"].values()) == reported
    assert session["model_s"] > 0 and session["sandbox_s"] > 0
    assert session["model_s"] + session["sandbox_s"] <= session["wall_s"]


def test_a_bad_request_is_not_retried_and_ends_the_session_with_the_reason(tmp_path: Path) -> None:
    with serve(COMPETENT) as server:
        server.inject(400, message="messages: this request is malformed")
        done = benchgen(
            "agent", "run", PROMPT, "--workspace", str(tmp_path / "ws"), "--json",
            env={**os.environ, **server.env("anthropic"), "BENCHGEN_HOME": str(tmp_path / "home")},
        )  # fmt: skip
        assert done.returncode == 1, done.stdout + done.stderr
        session = json.loads(done.stdout)
        assert session["decision"] == "failed" and "malformed" in session["reason"]
        assert server.count() == 1 and server.count(status=400) == 1
    assert "malformed" in (tmp_path / "ws" / "journal.md").read_text()


def test_generate_with_anthropic_promotes_what_the_model_wrote(tmp_path: Path) -> None:
    with serve(COMPETENT) as server:
        server.inject(529, when=lambda r: r.role == "reviewer")
        done = benchgen(
            "generate", PROMPT,
            env={**os.environ, **server.env("anthropic"), "BENCHGEN_SEEDS": "2", "COLUMNS": "300"},
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        assert "1 promoted" in done.stdout, done.stdout
        assert server.count("reviewer", status=529) == 1
        roles = {e.role for e in server.requests}
        assert {"planner", "coder", "reviewer"} <= roles
        # The reviewer saw the renders, as images (a vision model by its profile) or through view_renders.
        reviewed = [e for e in server.requests if e.role == "reviewer" and e.status == 200]
        assert any(m.images for e in reviewed for m in e.request.messages) or any(
            e.request.calls_of("view_renders") for e in reviewed
        )


def test_nothing_in_benchgen_names_a_provider() -> None:
    """The provider table (data) is the one place a provider is named; the code only reads it."""
    named = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if re.search(r"\b(openai|anthropic|claude|gpt-)", path.read_text(), re.I)
    ]
    assert named == [], named
