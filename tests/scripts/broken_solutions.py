"""good_box.py with a reference solution that breaks one rule of the `solvable` check per seed.

One sandbox run judges every case: seed N's solution (or scene) breaks rule BROKEN[N], and the last
seed's is sound. The test reads each seed's verdict and the message that must name the rule.
"""

from build123d import Box, Pos

from benchgen_dagster.models.materials import Material
from benchgen_dagster.scene import Part, Scene, Zone, sampler

BROKEN = {
    0: "too_short",
    1: "outside_build_zone",
    2: "over_cost",
    3: "name_clash",
    4: "raises",
    5: "empty",
    6: "built_into_the_box",
    7: "enters_forbid_zone",
    8: "still_moving",
    9: "own_material",
    10: "adds_nothing",
}


def build(seed: int, scale: float = 1.0) -> Scene:
    case = BROKEN.get(seed, "sound")
    p = sampler(seed)
    size = p.param("box_size", nominal=60, spread=0.4)
    goal_x = p.param("goal_x", nominal=85, spread=0.4)
    s = Scene(workspace=Zone((-400, -300, 0), (800, 300, 400)), scale=scale, params=p, title="push a box")
    s.add(Part("box", Pos(-200, 0, size / 2 + 0.3) * Box(size, size, size), role="free", material="wood"))
    curb_width = 390 if case == "enters_forbid_zone" else 80
    s.add(Part("curb", Pos(0, 250, 10) * Box(600, 20, 20), role="fixed"))
    goal_lo, goal_hi = (-100, 700) if case == "still_moving" else (goal_x - 60, goal_x + 60)
    build_hi = 700 if case == "still_moving" else 100
    forbid = [Zone((-100, 150, 0), (-50, 200, 20))] if case == "enters_forbid_zone" else []
    s.objectives(
        moved="box",
        goal=Zone((goal_lo, -60, 0), (goal_hi, 60, 150)),
        build=Zone((-380, -200, 0), (build_hi, 200, 300)),
        forbid=forbid,
    )
    s.constraints(max_unit_cost=5.0 if case == "over_cost" else 10.0, max_weight=500.0, target_quantity=1000)
    s.title = f"push a box ({case}, curb {curb_width})"
    return s


def solution(seed: int, scale: float = 1.0) -> list[Part]:
    case = BROKEN.get(seed, "sound")
    s = build(seed, scale)
    size, goal_x = s.value("box_size"), s.value("goal_x")
    face = -200 - size / 2 - 1
    stroke = min(goal_x - size / 2, 95.0) - face
    height = size / 3
    x, z, width, speed = face - 10, 2 + height / 2, 80.0, 150.0
    name, material = "pusher", "abs"
    if case == "raises":
        raise ZeroDivisionError("division by zero in the solution")
    if case == "empty":
        return []
    if case == "too_short":
        stroke = 40.0
    elif case == "outside_build_zone":
        z += 350
    elif case == "name_clash":
        name = "curb"
    elif case == "built_into_the_box":
        x = face + 30
    elif case == "enters_forbid_zone":
        width = 390.0
    elif case == "still_moving":
        # Slow and long: at the time limit the box is inside the (long) goal but still being pushed.
        stroke, speed = 800.0, 150.0
    elif case == "own_material":
        material = Material(name="abs", density_g_cm3=1.05, friction=0.4, price_per_kg=0.0)
    if case == "adds_nothing":
        return [Part("marker", Pos(-350, -150, 10) * Box(20, 20, 20), role="fixed")]
    pusher = Pos(x, 0, z) * Box(20, width, height)
    return [Part(name, pusher, role="sliding", axis=(1, 0, 0), limits=(0, stroke), drive=speed, material=material)]
