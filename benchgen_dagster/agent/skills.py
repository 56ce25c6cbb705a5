"""Where skills live, and their versions.

    BENCHGEN_HOME/skills/<name>/SKILL.md           the current version: what the coder is offered
    BENCHGEN_HOME/skill_history/<name>/v<N>.md     every version ever published, never rewritten
    BENCHGEN_HOME/skill_history/<name>/versions.json

A version is published only when its text is a valid skill (`models.skills.parse_skill`) and differs
from the current one; an invalid proposal is refused and the current version stays. A version's
identity is the hash of its text (the data version lineage records); `v<N>` is its name for people.
"""

import difflib
import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from filelock import FileLock
from pydantic import BaseModel

from benchgen_dagster.library import family as library_family
from benchgen_dagster.models.skills import Skill, SkillError, parse_skill
from benchgen_dagster.worker.safe_files import write_file_atomically

HAND_EDITED = "hand-edited"


class SkillVersion(BaseModel):
    version: int
    sha256: str
    created: str
    description: str
    evidence: list[str]
    source: str  # who wrote it: the learner's model, or "curator"


class Proposal(BaseModel):
    name: str
    status: Literal["new", "updated", "unchanged", "rejected"]
    version: int | None = None
    reason: str = ""


class SkillNotFound(KeyError):
    """No skill (or no such version of it); the message says which."""

    def __str__(self) -> str:
        return str(self.args[0])


def text_sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def check_against_library(skill: Skill) -> None:
    """A skill's family must be a library family and its limits that family's parameters: a typo would
    otherwise be published and silently never applied."""
    if skill.family is None:
        return
    try:
        parameters = library_family(skill.family).nominals()
    except KeyError:
        raise SkillError(f"metadata.family {skill.family!r} is not a library family") from None
    unknown = sorted(set(skill.limits) - set(parameters))
    if unknown:
        raise SkillError(f"{skill.family} has no parameters {unknown}; it has {sorted(parameters)}")


class SkillStore:
    """`lock`, when given, is the writers' lock (one that every host publishing skills shares); without
    it, a file lock beside the history, which keeps the writers of one host apart."""

    def __init__(self, home: Path, lock: Callable[[], AbstractContextManager[None]] | None = None) -> None:
        self.current_dir = home / "skills"
        self.history_dir = home / "skill_history"
        self._lock = lock

    def names(self) -> list[str]:
        current = {p.parent.name for p in self.current_dir.glob("*/SKILL.md")} if self.current_dir.is_dir() else set()
        recorded = (
            {p.parent.name for p in self.history_dir.glob("*/versions.json")} if self.history_dir.is_dir() else set()
        )
        return sorted(current | recorded)

    def versions(self, name: str) -> list[SkillVersion]:
        index = self.history_dir / name / "versions.json"
        if not index.is_file():
            return []
        return [SkillVersion.model_validate(v) for v in json.loads(index.read_text())]

    def current_text(self, name: str) -> str | None:
        path = self.current_dir / name / "SKILL.md"
        return path.read_text() if path.is_file() else None

    def label(self, name: str) -> str:
        """The current version's name for people and lineage: "v3 (1a2b3c4d5e6f)", or hand-edited / removed."""
        text = self.current_text(name)
        if text is None:
            return "removed"
        sha = text_sha(text)
        match = next((v for v in self.versions(name) if v.sha256 == sha), None)
        return f"v{match.version} ({sha[:12]})" if match else f"{HAND_EDITED} ({sha[:12]})"

    def labels(self) -> dict[str, str]:
        """Every skill the coder is offered now, with its version label."""
        return {name: self.label(name) for name in self.names() if self.current_text(name) is not None}

    def text(self, name: str, version: int | None = None) -> str:
        if version is None:
            text = self.current_text(name)
            if text is None:
                raise SkillNotFound(f"no skill named {name!r}; `benchgen skills list` shows them")
            return text
        path = self.history_dir / name / f"v{version}.md"
        if not path.is_file():
            known = ", ".join(f"v{v.version}" for v in self.versions(name)) or "none"
            raise SkillNotFound(f"skill {name!r} has no version v{version} (versions: {known})")
        return path.read_text()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """One writer at a time (a weekly run, a sensor's run and `skills learn` may overlap)."""
        if self._lock is not None:
            with self._lock():
                yield
            return
        self.history_dir.mkdir(parents=True, exist_ok=True)
        with FileLock(self.history_dir / ".lock"):
            yield

    def propose(self, name: str, text: str, source: str) -> Proposal:
        """Publish `text` as the next version of `name` if it is a valid skill and differs from the current one."""
        try:
            skill = parse_skill(text, name)
            check_against_library(skill)
        except SkillError as error:
            return Proposal(name=name, status="rejected", reason=str(error))
        sha = text_sha(text)
        with self._locked():
            current = self.current_text(name)
            current_sha = text_sha(current) if current is not None else None
            if current_sha == sha:
                recorded = next((v.version for v in self.versions(name) if v.sha256 == sha), None)
                return Proposal(name=name, status="unchanged", version=recorded)
            if current is not None and not any(v.sha256 == current_sha for v in self.versions(name)):
                # A curator's hand edit is kept as a version of its own before it is replaced.
                try:
                    edited = parse_skill(current, name)
                    description, evidence = edited.description, edited.evidence
                except SkillError:
                    description, evidence = "hand-edited (not a valid skill)", []
                self._record(name, current, description, evidence, "curator (hand-edited)")
            number = self._record(name, text, skill.description, skill.evidence, source)
            write_file_atomically(self.current_dir / name / "SKILL.md", text.encode())
        return Proposal(name=name, status="new" if current is None else "updated", version=number)

    def _record(self, name: str, text: str, description: str, evidence: list[str], source: str) -> int:
        """Add `text` to the history as the next version; history first, then the index."""
        versions = self.versions(name)
        number = (versions[-1].version if versions else 0) + 1
        entry = SkillVersion(
            version=number,
            sha256=text_sha(text),
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            description=description,
            evidence=evidence,
            source=source,
        )
        write_file_atomically(self.history_dir / name / f"v{number}.md", text.encode())
        write_file_atomically(
            self.history_dir / name / "versions.json",
            json.dumps([v.model_dump() for v in [*versions, entry]], indent=1).encode(),
        )
        return number

    def diff(self, name: str, old: int | None = None, new: int | None = None) -> str:
        """A unified diff between two versions (default: the one before the newest, and the newest)."""
        versions = self.versions(name)
        if not versions:
            raise SkillNotFound(f"no recorded versions of {name!r}; `benchgen skills list` shows the skills")
        new = new if new is not None else versions[-1].version
        old = old if old is not None else next((v.version for v in reversed(versions) if v.version < new), None)
        if old is None:
            raise SkillNotFound(f"skill {name!r} has only v{new}: nothing to compare it with")
        before, after = self.text(name, old), self.text(name, new)
        return "".join(
            difflib.unified_diff(
                before.splitlines(keepends=True), after.splitlines(keepends=True), f"{name} v{old}", f"{name} v{new}"
            )
        )
