"""The live view of `benchgen generate`: every candidate from the first second, its stage and the time it
has taken, and the batch as one bar with an ETA.

Rows exist before any candidate does (one per candidate the requests ask for, "waiting"), so the view
is never empty while the Dagster definitions load; once the candidates are submitted, each row follows
its candidate's stage and status in the registry. A candidate's clock starts when its run starts and
stops when it ends; the batch's bar counts stages done, so its ETA moves as soon as a stage ends.
"""

from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from benchgen_dagster.models.registry import CANDIDATE_STAGES, BenchmarkRequest, Candidate, CandidateStatus

FINISHED = {
    CandidateStatus.PROMOTED,
    CandidateStatus.AWAITING_APPROVAL,
    CandidateStatus.REJECTED,
    CandidateStatus.FAILED,
}
# How a status is shown, here and in the tables `benchgen list` and `generate` print.
STATUS_COLOURS = {
    "promoted": "green",
    "awaiting_approval": "yellow",
    "running": "cyan",
    "revising": "cyan",
    "queued": "dim",
}


class _BatchRemaining(ProgressColumn):
    """The ETA, on the batch's row only (a candidate's own ETA would only guess at its physics)."""

    def __init__(self) -> None:
        super().__init__()
        self._column = TimeRemainingColumn()

    def render(self, task: Task) -> Text:
        if not task.fields.get("batch"):
            return Text("")
        return Text.assemble("ETA ", self._column.render(task))


def labels_for(requests: Sequence[BenchmarkRequest]) -> list[str]:
    """One row label per candidate the requests will make, in the order they are submitted."""
    labels = []
    for request in requests:
        prompt = request.prompt if len(request.prompt) <= 40 else request.prompt[:39] + "…"
        labels += [f"{prompt} #{variant + 1}" for variant in range(request.count)]
    return labels


class BatchProgress:
    """The live rows; `follow(candidates)` maps them to the submitted candidates, `refresh(lookup)` reads
    their state (`lookup(key)` gives a candidate, or None)."""

    def __init__(self, console: Console, labels: list[str]) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            TextColumn("{task.fields[state]}"),
            BarColumn(bar_width=24),
            TextColumn("{task.completed:.0f}/{task.total:.0f}"),
            TimeElapsedColumn(),
            _BatchRemaining(),
            console=console,
            transient=True,
            refresh_per_second=4,
        )
        self.batch = self.progress.add_task(
            "[bold]batch[/]", total=len(labels) * len(CANDIDATE_STAGES), state=f"0 of {len(labels)} done", batch=True
        )
        self.rows: list[TaskID] = [
            self.progress.add_task(label, total=len(CANDIDATE_STAGES), state="[dim]waiting[/]", start=False)
            for label in labels
        ]
        self.keys: list[str] = []

    def __enter__(self) -> "BatchProgress":
        self.progress.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.progress.stop()

    def follow(self, candidates: Sequence[Candidate]) -> None:
        """The submitted candidates, in the rows' order (rows are added or dropped if the count differs)."""
        while len(self.rows) < len(candidates):
            self.rows.append(self.progress.add_task("", total=len(CANDIDATE_STAGES), state="", start=False))
        for extra in self.rows[len(candidates) :]:
            self.progress.remove_task(extra)
        self.rows = self.rows[: len(candidates)]
        self.keys = [c.key for c in candidates]
        self.progress.update(self.batch, total=len(candidates) * len(CANDIDATE_STAGES))
        for row, candidate in zip(self.rows, candidates, strict=True):
            self.progress.update(row, description=candidate.key)

    def refresh(self, lookup: Callable[[str], Candidate | None]) -> None:
        done = steps = 0
        for row, key in zip(self.rows, self.keys, strict=True):
            candidate = lookup(key)
            if candidate is None:
                continue
            finished = candidate.status in FINISHED
            reached = CANDIDATE_STAGES.index(candidate.stage) if candidate.stage in CANDIDATE_STAGES else 0
            step = len(CANDIDATE_STAGES) if finished else reached
            task = self.progress.tasks[self.progress.task_ids.index(row)]
            if candidate.status == CandidateStatus.RUNNING and not task.started:
                self.progress.start_task(row)
            if finished and task.started and task.stop_time is None:
                self.progress.stop_task(row)
            colour = STATUS_COLOURS.get(candidate.status.value, "red")
            status = f"[{colour}]{candidate.status.value}[/]"
            state = f"{candidate.stage} · {status}" if candidate.stage else status
            self.progress.update(row, completed=step, state=state)
            done += finished
            steps += step
        self.progress.update(self.batch, completed=steps, state=f"{done} of {len(self.rows)} done")
