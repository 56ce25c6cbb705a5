"""A class-1 lever: a beam pivots on a fulcrum at a random position; a heavy load rests on its short end.

Left alone the load end stays down against the beam's stop. Lifting the load directly is forbidden, and
so is propping the beam up from below: the load rises only when something pushes the effort end down.
"""

import math

from build123d import Box, Plane, Polygon, Pos, extrude

from benchgen_dagster.scene import Part, Scene, Zone, sampler

FAMILY = "lever_moving_fulcrum"
TIER = 2
DESCRIPTION = "Raise a heavy load into a goal zone with a lever whose fulcrum sits at a random position."


def build(seed: int, scale: float = 1.0) -> Scene:
    p = sampler(seed)
    load_arm = p.param("fulcrum_x", nominal=200, spread=0.4)  # fulcrum distance from the load end
    effort_arm = p.param("effort_arm", nominal=300, spread=0.4)
    beam_w = p.param("beam_width", nominal=40, spread=0.4)
    swing = 30.0  # degrees the beam may turn, load end up
    beam_t = 15.0
    load_x, load_y, load_h = 40.0, 60.0, 40.0
    x0 = -350.0  # the beam's load end
    xf = x0 + load_arm
    # High enough that the stop, not the floor, ends the effort end's travel.
    pivot_h = effort_arm * math.sin(math.radians(swing)) + 30
    beam_top = pivot_h + beam_t / 2
    s = Scene(
        workspace=Zone((-450, -250, 0), (500, 250, 550)), scale=scale, params=p, title="Lever with a moving fulcrum"
    )
    # A wedge whose narrow top sits just under the beam, so the beam can rock on it through its full swing.
    wedge_h = pivot_h - beam_t / 2 - 3
    wedge = Plane.XZ * Polygon((-45, 0), (45, 0), (2, wedge_h), (-2, wedge_h), align=None)
    s.add(Part("fulcrum", Pos(xf, 0, 0) * extrude(wedge, amount=40, both=True), role="fixed", material="steel"))
    beam = Pos(x0 + (load_arm + effort_arm) / 2, 0, pivot_h) * Box(load_arm + effort_arm, beam_w, beam_t)
    # Positive angles lift the load end; the load's weight holds the beam on its lower stop at 0.
    s.add(
        Part(
            "beam",
            beam,
            role="hinged",
            material="wood",
            axis=(0, 1, 0),
            anchor=(xf, 0, pivot_h),
            limits=(0, swing),
            damping=0.05,
        )
    )
    s.add(
        Part(
            "load",
            Pos(x0 + load_x / 2, 0, beam_top + 0.5 + load_h / 2) * Box(load_x, load_y, load_h),
            role="free",
            material="steel",
        )
    )
    arm = load_arm - load_x / 2
    load_top = beam_top + 0.5 + load_h
    gx0, gx1 = x0 + load_x / 2 - 30, x0 + load_x / 2 + arm * (1 - math.cos(math.radians(swing))) + 45
    goal_top = load_top + arm * math.sin(math.radians(swing)) + 20
    s.objectives(
        moved="load",
        # Raised clear of where it starts: the load's centre above its starting top face.
        goal=Zone((gx0, -50, load_top + 1), (gx1, 50, goal_top)),
        build=Zone((xf + 20, -200, 0), (490, 200, 530)),
        forbid=[
            # No propping the load end up from below ...
            Zone((x0 - 10, -80, 0), (xf - 50, 80, pivot_h - beam_t / 2 - 1)),
            # ... and no lifting the load from above.
            Zone((gx0, -80, goal_top), (gx1, 80, 550)),
        ],
    )
    s.constraints(max_unit_cost=30.0, max_weight=1000.0, target_quantity=100)
    return s


def solution(seed: int, scale: float = 1.0) -> list[Part]:
    """A driven plunger above the effort end presses the beam down to a set angle and holds it there."""
    s = build(seed, scale)
    load_arm, effort_arm, beam_w = s.value("fulcrum_x"), s.value("effort_arm"), s.value("beam_width")
    beam_t = 15.0
    xf = -350.0 + load_arm
    pivot_h = effort_arm * math.sin(math.radians(30.0)) + 30
    # Short of the beam's 30° stop: steel on wood grips (μ 0.6) only up to about 31°, so at the stop the load
    # would be on the point of sliding back down; at 22° it sits firmly and is still lifted well into the goal.
    tilt = math.radians(22.0)
    foot, gap = 20.0, 2.0
    # Press well in from the effort end, so the foot stays on the beam as its end swings in towards the fulcrum.
    press = effort_arm - 50
    corner = press - foot / 2  # the foot's edge nearest the fulcrum is what touches the tilted beam
    bottom = pivot_h + beam_t / 2 + gap
    # The foot's travel that leaves the beam's top face under that edge at the chosen tilt.
    stroke = bottom - (pivot_h + beam_t / 2 / math.cos(tilt) - corner * math.tan(tilt))
    height = 40.0
    plunger = Pos(xf + press, 0, bottom + height / 2) * Box(foot, beam_w + 20, height)
    return [
        Part(
            "plunger",
            plunger,
            role="sliding",
            material="aluminium",
            axis=(0, 0, -1),
            limits=(0, stroke),
            # The servo slips under the load's reaction (~10 N at most), so ask for twice the pace it needs.
            drive=150.0,
        )
    ]
