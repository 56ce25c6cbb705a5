"""A ball must get over a wall and into an open bin on the far side."""

import numpy as np
from build123d import Box, Compound, Location, Plane, Pos, Sphere

from benchgen_dagster.scene import Part, Scene, Zone, sampler

FAMILY = "ball_over_wall"
TIER = 1
DESCRIPTION = "Lift a ball over a wall of random height into a bin at a random distance."


def build(seed: int, scale: float = 1.0) -> Scene:
    p = sampler(seed)
    wall_h = p.param("wall_height", nominal=120, spread=0.4)
    bin_x = p.param("bin_x", nominal=500, spread=0.4)
    radius = p.param("ball_radius", nominal=35, spread=0.4)
    s = Scene(
        workspace=Zone((-600, -300, 0), (900, 300, 600)), scale=scale, params=p, title="Ball over a wall into a bin"
    )
    s.add(Part("wall", Pos(150, 0, wall_h / 2) * Box(20, 400, wall_h), role="fixed", material="wood"))
    # The bin is concave: it is composed of convex slabs, each its own collision solid.
    s.add(Part("bin_floor", Pos(bin_x, 0, 5) * Box(160, 160, 10), role="fixed"))
    for dx in (-75, 75):
        s.add(
            Part(
                f"bin_wall_x{dx:+d}".replace("+", "p").replace("-", "m"),
                Pos(bin_x + dx, 0, 50) * Box(10, 160, 80),
                role="fixed",
            )
        )
    for dy in (-75, 75):
        s.add(
            Part(
                f"bin_wall_y{dy:+d}".replace("+", "p").replace("-", "m"),
                Pos(bin_x, dy, 50) * Box(140, 10, 80),
                role="fixed",
            )
        )
    # A faceted ball balances on a vertex and creeps away; a 1 mm flat at its foot lets it stand still.
    ball = Sphere(radius) & Pos(0, 0, 1) * Box(3 * radius, 3 * radius, 2 * radius)
    s.add(Part("ball", Pos(-300, 0, radius - 1 + 0.5) * ball, role="free", material="steel"))
    s.objectives(
        moved="ball",
        goal=Zone((bin_x - 70, -70, 10), (bin_x + 70, 70, 90)),
        build=Zone((-450, -250, 0), (100, 250, 400)),
        forbid=[Zone((135, -205, 0), (165, 205, wall_h + 5))],
    )
    s.constraints(max_unit_cost=40.0, max_weight=1500.0, target_quantity=100)
    return s


# The launcher's incline (degrees): steep enough that a cup touching the ball only from behind can hold it.
_LAUNCH_DEG = 60.0
# How far the cup runs on past its end stop (mm along the slide) before the stop holds it: measured up
# to 21 mm at 2.7 m/s, the fastest throw.
_STOP_GIVE = 30.0


def _lands_in_bin(x0: float, z0: float, vx: float, vz: float, bin_x: float, r: float, wall_h: float) -> int:
    """-1 if the ball's centre path falls short (clips the wall or near bin wall), +1 if long, 0 if it drops in."""
    g = 9810.0
    near = (bin_x - 80.0, bin_x - 70.0)  # the near bin wall's faces; its top is at z = 90
    far = bin_x + 70.0 - r  # where the centre is when the ball touches the far wall's inner face
    t, dt = 0.0, 0.0005
    while True:
        t += dt
        x, z = x0 + vx * t, z0 + vz * t - g * t * t / 2
        if 150 - 10 - r < x < 150 + 10 + r and z < wall_h + r:
            return -1
        # Distance from the centre to the near wall's top (a box corner region) must stay over the radius.
        dx = max(near[0] - x, 0.0, x - near[1])
        dz = max(z - 90.0, 0.0)
        if z < 90.0 + r and (dx * dx + dz * dz) ** 0.5 < r and x < near[1] + r:
            return -1
        if x >= far:
            return 0 if z < 90.0 else 1
        if z <= 10.0 + r:
            return 0 if x > near[1] else -1


def _pad(center: np.ndarray, normal: np.ndarray, size: float, thickness: float) -> Box:
    """A square pad whose face, centred on `center`, faces back along `normal` (it lies beyond `center`)."""
    normal = normal / np.linalg.norm(normal)
    side = np.cross(normal, (0.0, 0.0, 1.0))
    plane = Plane(
        origin=tuple(center + normal * thickness / 2), x_dir=tuple(side / np.linalg.norm(side)), z_dir=tuple(normal)
    )
    return Location(plane) * Box(size, size, thickness)


def solution(seed: int, scale: float = 1.0) -> list[Part]:
    """A launcher: a driven cup on a 60° slide scoops the ball off the floor and throws it into the bin.

    The cup is a stiff velocity servo, so the ball leaves at the cup's speed when the slide hits its
    end stop. The speed is chosen in the middle of the band of speeds whose flight clears the wall and
    the near bin wall and still drops in before the far bin wall, then raised for what the servo loses
    to the ball's weight and inertia.
    """
    s = build(seed, scale)
    r, bin_x, wall_h = s.value("ball_radius"), s.value("bin_x"), s.value("wall_height")
    theta = np.radians(_LAUNCH_DEG)
    u = np.array([np.cos(theta), 0.0, np.sin(theta)])
    start = np.array([-300.0, 0.0, r - 0.5])  # the ball's centre as it rests on its flat
    # The cup holds the ball on five pads, each touching it where the unit vector `d` from its centre points.
    # Every contact lies within 60° of straight behind the launch direction: when the cup stops, the ball
    # then slides off each pad faster than friction can act (cot 60° > mu 0.5), so it leaves clean; a pad
    # square under a moving ball would drag on it for a step and rob it of a tenth of its speed. All touch
    # the ball at least 0.3 r above the floor, so the cup can scoop it from where it lies, and together
    # they bracket straight down, so the ball sits in them under gravity alone.
    contacts = [(0.15, 0.7, -0.7), (0.15, -0.7, -0.7), (-0.55, 0.55, -0.63), (-0.55, -0.55, -0.63), (-0.976, 0, -0.217)]
    size, thickness = 0.25 * r, 3.0
    pads = []
    for contact in contacts:
        d = np.array(contact) / np.linalg.norm(contact)
        pads.append(_pad(start + r * d, d, size, thickness))
    # Steel ballast behind the ball, on the back pad, brings the cup over 1 kg: the end stop (a soft joint
    # limit whose stiffness scales with the moving mass) then holds against the servo within millimetres.
    ballast_l, ballast_w, ballast_h = 40.0, 100.0, 35.0
    back = start[0] - r - thickness
    pads.append(Pos(back - ballast_l / 2, 0, 2 + ballast_h / 2) * Box(ballast_l, ballast_w, ballast_h))
    cup = Compound(pads)
    box = cup.bounding_box()
    # The stroke ends with the cup inside the build zone (x <= 100, z <= 400), less the end stop's give.
    stroke = min((99.0 - box.max.X) / u[0], (399.0 - box.max.Z) / u[2]) - _STOP_GIVE
    release = start + stroke * u

    # Bisect for the speeds at the short and long edges of the band that drops the ball in.
    def edge(side: int) -> float:
        lo, hi = 300.0, 6000.0
        for _ in range(40):
            mid = (lo + hi) / 2
            verdict = _lands_in_bin(release[0], release[2], mid * u[0], mid * u[2], bin_x, r, wall_h)
            if (verdict < 0) if side < 0 else (verdict <= 0):
                lo = mid
            else:
                hi = mid
        return (lo + hi) / 2

    # The ball leaves at the cup's speed (measured within 0.05 %), and ±2 % either way still lands in.
    speed = (edge(-1) + edge(1)) / 2  # mm/s
    # The servo (gain = moving mass / 10 ms, at least 1 kg's worth) sags by the load's weight along the
    # slide and lags with the time constant load / gain; solve for the command that gives `speed` at the stop.
    ball = next(p for p in s.parts if p.name == "ball")
    m_cup = cup.volume * 7.85e-6
    gain = max(m_cup, 1.0) / 0.01
    load = m_cup + ball.shape.volume * 7.85e-6
    tau = load / gain
    sag = 1000 * load * 9.81 * np.sin(theta) / gain
    command = speed + sag
    for _ in range(50):
        v_ss = command - sag
        # Time to cover the stroke from rest with a first-order lag: x(t) = v_ss (t - tau (1 - e^(-t/tau))).
        t = stroke / v_ss + tau
        for _ in range(30):
            t = stroke / v_ss + tau * (1 - np.exp(-t / tau))
        command += speed - v_ss * (1 - np.exp(-t / tau))
    return [Part("launcher", cup, role="sliding", axis=tuple(u), limits=(0, stroke), drive=command, material="steel")]
