"""The one place where the script's units (millimetres, grams) become MuJoCo's (metres, kilograms).

Benchmark scripts and the Scene speak mm, g and g/cm³; MJCF, simulation and reports of physical
quantities speak SI. Nothing else in the code base multiplies by 1000.
"""

MM_PER_M = 1000.0
G_PER_KG = 1000.0


def mm_to_m(value_mm: float) -> float:
    return value_mm / MM_PER_M


def m_to_mm(value_m: float) -> float:
    return value_m * MM_PER_M


def g_to_kg(value_g: float) -> float:
    return value_g / G_PER_KG


def mass_g(volume_mm3: float, density_g_cm3: float) -> float:
    """Mass in grams of a solid of `volume_mm3` at `density_g_cm3` (1 cm³ = 1000 mm³)."""
    return volume_mm3 * density_g_cm3 / 1000.0


def inertia_kg_m2(unit_density_inertia_mm5: float, density_g_cm3: float) -> float:
    """An inertia tensor entry from CAD (per unit density, mm⁵) to kg·m² at the given density."""
    grams_mm2 = unit_density_inertia_mm5 * density_g_cm3 / 1000.0
    return g_to_kg(grams_mm2) / (MM_PER_M**2)
