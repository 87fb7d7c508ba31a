"""Unit conversions at the scenario edge. Inside epsim everything is SI (m, V, V/m, S/m, s)."""
MM = 1e-3            # m per mm
V_PER_CM = 100.0     # (V/m) per (V/cm)
US = 1e-6            # s per us


def mm(value: float) -> float:
    """mm -> m."""
    return value * MM


def to_mm(value: float) -> float:
    """m -> mm."""
    return value / MM


def v_per_cm(value: float) -> float:
    """V/cm -> V/m."""
    return value * V_PER_CM


def to_v_per_cm(value: float) -> float:
    """V/m -> V/cm."""
    return value / V_PER_CM
