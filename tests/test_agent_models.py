"""What every model call goes through: retries of transient errors only, per-role budgets, no subagents,
prices from a maintained table (unknown, not $0), and the provider table as data."""

import tomllib
from pathlib import Path

import httpx
import pytest
from langchain_core.exceptions import ModelAPIError, ModelInvalidRequestError, ModelRateLimitError
from langchain_core.messages import AIMessage, ToolMessage

from benchgen_dagster.agent.configuration import CallBudget, RoleBudgets, SessionConfig
from benchgen_dagster.agent.model_calls import is_transient
from benchgen_dagster.agent.models import provider_table
from benchgen_dagster.agent.prices import call_cost, format_cost
from benchgen_dagster.agent.session import estimated_cost, run_session
from tests.scripted import ScriptedChatModel, call, write

ROOT = Path(__file__).parent.parent
PLAN = "---\nfamily: new\n---\n# Plan\nPush a box into the goal.\n"


def _status_error(status: int) -> Exception:
    import openai

    response = httpx.Response(status, request=httpx.Request("POST", "http://127.0.0.1/v1/chat/completions"))
    return openai.APIStatusError("scripted", response=response, body=None)


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (ModelRateLimitError("429"), True),
        (ModelAPIError("503"), True),
        (ModelInvalidRequestError("400"), False),
        (_status_error(500), True),
        (_status_error(429), True),
        (_status_error(400), False),
        (_status_error(401), False),
        (TimeoutError("read timed out"), True),
        (ConnectionResetError("reset"), True),
        (ValueError("a bug of ours"), False),
    ],
)
def test_only_errors_a_second_try_may_cure_are_retried(error: Exception, transient: bool) -> None:
    assert is_transient(error) is transient


def _session(tmp_path: Path, coder: list, **config: object):  # type: ignore[no-untyped-def]
    models = {
        "planner": ScriptedChatModel(script=[write("/workspace/plan.md", PLAN), "planned"]),
        "coder": ScriptedChatModel(script=coder),
        "reviewer": ScriptedChatModel(script=[]),
    }
    settings = SessionConfig(prompt="push a box", workspace=tmp_path / "ws", model_retries=0).model_copy(update=config)
    return run_session(settings, models=models, home=tmp_path / "home"), models


def test_a_role_that_runs_out_of_its_budget_ends_the_session_with_the_reason(tmp_path: Path) -> None:
    budgets = RoleBudgets(coder=CallBudget(tool_calls=3, model_calls=50))
    result, _ = _session(tmp_path, [call("ls", path="/workspace")] * 10, budgets=budgets)
    assert result.decision == "failed" and result.model_failed
    assert "coder: ran out of its budget of 3 tool calls" in result.reason
    assert "ran out of its budget" in (tmp_path / "ws" / "journal.md").read_text()
    # What the role's calls cost before it ran out is counted.
    assert result.usage["coder"]["calls"] >= 3


def test_no_model_is_offered_subagents_and_a_call_to_one_is_refused(tmp_path: Path) -> None:
    seen: list[str] = []

    def after_task(messages: list) -> str:  # type: ignore[type-arg]
        seen.extend(str(m.content) for m in messages if isinstance(m, ToolMessage))
        return "gave up"

    result, models = _session(
        tmp_path, [call("task", description="write it", subagent_type="general-purpose"), after_task], max_rounds=1
    )
    offered = {name for names in models["coder"].tools_offered for name in names}
    assert "task" not in offered and {"write_file", "execute", "check_script"} <= offered
    assert any("subagents are off" in text for text in seen), seen
    assert result.usage["coder"]["calls"] == 2


def test_prices_come_from_the_price_table_and_an_unknown_model_costs_unknown() -> None:
    reply = AIMessage(
        content="x", usage_metadata={"input_tokens": 1_000_000, "output_tokens": 1_000_000, "total_tokens": 2_000_000}
    )
    mini, full = call_cost("openai:gpt-4.1-mini", reply), call_cost("openai:gpt-4.1", reply)
    assert mini is not None and full is not None and 0 < mini < full / 4
    assert call_cost("anthropic:claude-sonnet-4-5", reply) not in (None, 0.0)
    assert call_cost("offline", reply) == 0.0
    assert call_cost("openai:my-local-llama", reply) is None
    assert estimated_cost({"planner": {"cost_usd": 0.5}, "coder": {"cost_usd": None}}) is None
    assert format_cost(None) == "unknown" and format_cost(0.25) == "$0.2500"


def test_the_provider_table_is_data_and_the_docs_name_every_variable_in_it() -> None:
    table = tomllib.loads((ROOT / "benchgen_dagster" / "agent" / "providers.toml").read_text())
    assert table == provider_table()
    docs = (ROOT / "docs" / "agents.md").read_text()
    variables = {entry[field] for entry in table.values() for field in ("key", "base_url") if field in entry}
    assert variables and not {v for v in variables if v not in docs}


def test_a_skill_read_is_known_by_its_workspace_path_or_the_short_one() -> None:
    from benchgen_dagster.agent.roles import skill_read

    assert skill_read("/workspace/skills/sliding-drawer-limits/SKILL.md") == "sliding-drawer-limits"
    assert skill_read("/skills/sliding-drawer-limits/SKILL.md") == "sliding-drawer-limits"
    assert skill_read("/workspace/plan.md") is None and skill_read("/workspace/skills/x/notes.md") is None
