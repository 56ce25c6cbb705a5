"""A plank that creeps into the goal by itself, late, and a "solution" that adds nothing.

The plank leans 10° past upright on a heavily damped hinge: left alone it is still falling, outside
the goal, at 2 s, and lies in the goal from about 3 s on. A judge that ran the unsolved scene for
less time than the solved one would call this benchmark non-trivial and the marker a proof.
"""

from build123d import Box, Pos, Rot

from benchgen_dagster.scene import Part, Scene, Zone, sampler


def build(seed: int, scale: float = 1.0) -> Scene:
    p = sampler(seed)
    length = p.param("length", nominal=200, spread=0.02)
    s = Scene(workspace=Zone((-500, -300, 0), (500, 300, 500)), scale=scale, params=p, title="a creeping plank")
    plank = Pos(0, 0, 15) * Rot(0, 10, 0) * Pos(0, 0, length / 2) * Box(20, 60, length)
    s.add(Part("plank", plank, role="hinged", axis=(0, 1, 0), anchor=(0, 0, 15), limits=(-5, 95), damping=0.3))
    s.add(Part("floor_block", Pos(-100, 0, 2) * Box(40, 40, 4), role="fixed"))
    s.objectives(
        moved="plank",
        goal=Zone((length * 0.3, -80, 0), (length * 0.8, 80, 40)),
        build=Zone((-450, -250, 0), (-200, 250, 200)),
    )
    return s


def solution(seed: int, scale: float = 1.0) -> list[Part]:
    return [Part("marker", Pos(-350, -150, 10) * Box(20, 20, 20), role="fixed")]
