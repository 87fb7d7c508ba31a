"""Which scenario field a gmsh failure most likely comes from, and the parts it involved.

gmsh says only that a boolean operation or a 3D mesh failed. The likeliest cause is the
thinnest feature compared with the element size that resolves it (a 1e-6 mm layer or
tumour under 1 mm elements): that feature's field is named, with its size and the element
size, instead of whichever part happened to be built last.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from simulator.units import MM

if TYPE_CHECKING:
    from simulator.meshing.inputs import MeshInput

UNRESOLVED = 0.5          # a feature thinner than half its element size is named [A]


def _features(mi: MeshInput) -> list[tuple[float, str, str]]:
    """(feature / element size, field, description) for every thin part of the model."""
    h = mi.sizes.size
    out = []
    for i, (layer, (top, bottom)) in enumerate(zip(mi.tissue.layers, mi.tissue.layer_bounds())):
        if layer.thickness is not None:
            out.append(((top - bottom) / h, f"tissue.layers[{i}].thickness_mm",
                        f"layer {layer.material!r} is {(top - bottom) / MM:.3g} mm thick"))
    tumour_sizes = mi.sizes.tumour or (h,) * len(mi.tumours)
    for i, (t, ht) in enumerate(zip(mi.tumours, tumour_sizes)):
        key = "diameter_mm" if t.shape == "sphere" else "semi_axes_mm"
        out.append((2 * min(t.semi_axes) / ht, f"tumours[{i}].{key}",
                    f"tumour {t.name!r} is {2 * min(t.semi_axes) / MM:.3g} mm across"))
    if not mi.clamped:
        for i, c in enumerate(mi.contacts):
            hc = mi.sizes.contact[c.name]
            if hasattr(c, "radius"):
                key = f"electrode.needles[{i}].diameter_mm" if mi.electrode_type == "needles" \
                    else "electrode.needle_diameter_mm"
                out.append((c.diameter / hc, key, f"needle {c.name!r} is {c.diameter / MM:.3g} mm thick"))
            else:
                out.append((c.thickness / hc, "electrode.thickness_mm",
                            f"plate {c.name!r} is {c.thickness / MM:.3g} mm thick"))
    return out


def blame(mi: MeshInput) -> str:
    """The field to name in a gmsh failure (see module docstring)."""
    thin = unresolved(mi)
    if thin:
        return thin[0][1]
    if mi.contacts and not mi.clamped:
        return "electrode"
    return "tumours[0]" if mi.tumours else "tissue"


def unresolved(mi: MeshInput) -> list[tuple[float, str, str]]:
    """Features thinner than UNRESOLVED x their element size, thinnest first."""
    return sorted(f for f in _features(mi) if f[0] < UNRESOLVED)


def cause_text(mi: MeshInput) -> str:
    """A hint naming the thinnest unresolved feature, or ''."""
    thin = unresolved(mi)
    if not thin:
        return ""
    ratio, _, what = thin[0]
    return f"; {what}, {ratio:.2g} x its element size: enlarge it or refine the mesh"


def parts_text(mi: MeshInput) -> str:
    bits = [f"tissue layers ({len(mi.tissue.layers)})"]
    bits += [f"tumours[{i}] {t.name!r}" for i, t in enumerate(mi.tumours)]
    if mi.contacts and not mi.clamped:
        bits.append(f"electrode {mi.electrode_type} ({', '.join(mi.contact_names)})")
    return ", ".join(bits)
