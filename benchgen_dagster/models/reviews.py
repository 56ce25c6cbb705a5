"""reviews/<round>.md as code reads it: YAML front matter with the reviewer's `decision` and its `comments`."""

import yaml

from benchgen_dagster.models.front_matter import split_front_matter

DECISIONS = ("approved", "rejected")


class ReviewError(ValueError):
    pass


def read_review(text: str) -> tuple[str, list[str]]:
    """(decision, comments) from a review's YAML front matter; raises ReviewError if it has none."""
    try:
        found = split_front_matter(text.lstrip())
    except yaml.YAMLError as error:
        raise ReviewError(f"the review's front matter is not valid YAML: {str(error).splitlines()[0]}") from None
    data = found[0] if found is not None else None
    if not isinstance(data, dict) or data.get("decision") not in DECISIONS:
        raise ReviewError("the review has no front matter with decision: approved|rejected")
    comments = data.get("comments") or []
    return str(data["decision"]), [str(c) for c in (comments if isinstance(comments, list) else [comments])]
