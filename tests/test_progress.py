"""The live view of a batch: rows from the first second, each candidate's stage and clock, the batch's ETA."""

import io

from rich.console import Console

from benchgen_dagster.models.registry import CANDIDATE_STAGES as STAGES
from benchgen_dagster.models.registry import BenchmarkRequest, Candidate, CandidateStatus
from benchgen_dagster.progress import BatchProgress, labels_for


def candidate(key: str, status: CandidateStatus, stage: str = "") -> Candidate:
    request = BenchmarkRequest(prompt="a drawer that must be pulled open")
    return Candidate(key=key, request_id="r", variant=0, request=request, model="offline", status=status, stage=stage)


def shown(board: BatchProgress) -> str:
    console = Console(file=io.StringIO(), width=160, color_system=None)
    console.print(board.progress.make_tasks_table(board.progress.tasks))
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_every_candidate_has_a_row_before_any_exists_and_then_its_stage_and_clock() -> None:
    requests = [BenchmarkRequest(prompt="a drawer that must be pulled open", count=2), BenchmarkRequest(prompt="x")]
    board = BatchProgress(Console(file=io.StringIO()), labels_for(requests))
    before = shown(board)
    assert before.count("waiting") == 3 and "a drawer that must be pulled open #2" in before and "x #1" in before
    assert "0 of 3 done" in before

    made = [candidate("a-v1", CandidateStatus.QUEUED), candidate("a-v2", CandidateStatus.QUEUED)]
    board.follow(made)  # one fewer than asked (a key already registered): the rows follow the candidates
    states = {
        "a-v1": candidate("a-v1", CandidateStatus.RUNNING, "compiled_scenes"),
        "a-v2": candidate("a-v2", CandidateStatus.PROMOTED, "promoted_benchmark"),
    }
    board.refresh(states.get)
    after = shown(board)
    assert "compiled_scenes · running" in after and "promoted_benchmark · promoted" in after
    assert "1 of 2 done" in after and "ETA" in after and "waiting" not in after
    tasks = {t.description: t for t in board.progress.tasks}
    assert tasks["a-v1"].started and tasks["a-v1"].stop_time is None  # its clock runs
    assert tasks["a-v1"].completed == STAGES.index("compiled_scenes")
    batch = next(t for t in board.progress.tasks if t.fields.get("batch"))
    assert batch.total == 2 * len(STAGES) and batch.completed == STAGES.index("compiled_scenes") + len(STAGES)
