"""YAML front matter, the head of the markdown files the roles write (plan.md, reviews/<n>.md, SKILL.md).

Read through python-frontmatter's YAML handler: the front matter sits between a first line of `---` and
the next such line, and is loaded with YAML's safe loader.
"""

from typing import Any

from frontmatter.default_handlers import YAMLHandler

_YAML = YAMLHandler()


def split_front_matter(text: str) -> tuple[Any, str] | None:
    """(the front matter as YAML loads it, the text after it), or None where `text` does not open with front
    matter. Raises yaml.YAMLError for front matter that is not YAML."""
    if not _YAML.detect(text):
        return None
    try:
        front, body = _YAML.split(text)
    except ValueError:  # an opening line and no closing one
        return None
    return _YAML.load(front), body
