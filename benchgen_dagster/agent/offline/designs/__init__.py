"""The offline engineer's designs: solver modules (`solve(task, seed) -> list[Part]`), each placed from the
task alone (the moved object's bounds, the zones, the scene's joints), never from a reference solution.

- `pusher`: a driven plate pushes the moved object along the floor towards the goal;
- `lever`: a driven plunger presses down the far arm of a hinged part the moved object rests on;
- `ramp`: a fixed ramp up to the goal's height and a driven finger that pushes the object up it.

The offline engineer (`agent/offline/engineer.py`) writes one of them to /workspace/solution.py as it
is, so what is judged is exactly this text. They are also modules for `benchgen evaluate` in their own
right (`benchgen evaluate benchgen_dagster/agent/offline/designs/pusher.py`).
"""

from importlib import resources

DESIGNS = ("pusher", "lever", "ramp")


def design_source(name: str) -> str:
    """The text of design `name`, as the offline engineer writes it to solution.py."""
    if name not in DESIGNS:
        raise KeyError(f"no design {name!r}: one of {', '.join(DESIGNS)}")
    return resources.files(__name__).joinpath(f"{name}.py").read_text()
