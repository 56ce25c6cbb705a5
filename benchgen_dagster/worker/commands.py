"""What an agent's `execute` command is: a shell command, or plain Python the warm sandbox can run itself.

`execute` takes a shell command, as deepagents describes the tool (`ls`, `python verify.py`,
`python -c "..."`, pipes). Every command runs in the sandbox with the workspace at `/workspace`, its
working folder. A command that is nothing but `python -c CODE [ARGS]` or `python FILE.py [ARGS]`
(no shell operators, no interpreter options) is run by the warm sandbox's interpreter, whose imports
(build123d, MuJoCo) are paid, instead of a fresh one: same semantics, seconds faster. Anything else
goes to `/bin/sh -c`.
"""

import shlex
import sys
from pathlib import Path
from typing import Any

# Where an agent's workspace is inside the sandbox: the path its file tools name too.
AGENT_WORKSPACE = "/workspace"
# `python` in a command is the interpreter benchgen runs on, with build123d and MuJoCo.
AGENT_PATH = f"{Path(sys.executable).parent}:/usr/bin:/bin"
PYTHONS = ("python", "python3")
# Outside quotes these make the shell do something (operators, globs, a home folder, a new command).
_SHELL_ANYWHERE = frozenset(";&|<>()*?[~\n#")
# Expanded even inside double quotes; only single quotes keep them literal.
_EXPANSIONS = frozenset("$`")


def _needs_shell(command: str) -> bool:
    """Whether the shell would do more with `command` than split it into words. A backslash or a carriage
    return anywhere counts: the shell and shlex read some escapes differently, and the fast path must
    give exactly what the shell would."""
    if "\\" in command or "\r" in command:
        return True
    quote = ""
    for char in command:
        if quote == "'":
            quote = "" if char == "'" else quote
        elif quote == '"':
            if char in _EXPANSIONS:
                return True
            quote = "" if char == '"' else quote
        elif char in "'\"":
            quote = char
        elif char in _SHELL_ANYWHERE or char in _EXPANSIONS:
            return True
    return bool(quote)


def python_program(command: str) -> dict[str, Any] | None:
    """The program the warm sandbox runs in-process for `command` ({"code"|"script", "argv"}), or None
    when only a shell can run it as written."""
    if _needs_shell(command):
        return None
    tokens = shlex.split(command)
    if len(tokens) >= 3 and tokens[0] in PYTHONS and tokens[1] == "-c":
        return {"code": tokens[2], "argv": tokens[3:]}
    if len(tokens) >= 2 and tokens[0] in PYTHONS and tokens[1].endswith(".py") and not tokens[1].startswith("-"):
        return {"script": tokens[1], "argv": tokens[2:]}
    return None
