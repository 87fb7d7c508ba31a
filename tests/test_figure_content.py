"""What the slice figures show (issue 15): every tumour's outline in some slice, titles that
fit, upright labels kept apart, a colour scale that follows the field, plates in view,
tissue states against each tissue's own thresholds."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from simulator.meshing.mesh import Mesh, Region                    # noqa: E402
from simulator.output import figures as plot                       # noqa: E402
from simulator.output.slice_figures import nice_ceiling, state_codes  # noqa: E402
from simulator.output.report import cold_regions_of                # noqa: E402
from simulator.output.views import slice_views                     # noqa: E402
from simulator.scenario import scenario_from_dict                  # noqa: E402
from simulator.solve.pipeline import run                           # noqa: E402
from structured import box_mesh                                    # noqa: E402

L = 0.01
TEN = [{"name": f"L{i}", "diameter_mm": 1.6, "depth_mm": 2.5 + 2.0 * (i % 3),
        "centre_mm": [-3.6 + 1.8 * (i % 5), -2.0 if i < 5 else 2.5], "margin_mm": 0.2} for i in range(10)]


def _scenario(tumours=(), voltage=1000.0, constant=False):
    d = {"name": "box-plates", "tissue": {"size_mm": [10, 10, 10], "layers": [{"material": "muscle"}]},
         "electrode": {"type": "plates", "gap_mm": 10.0, "length_mm": 10.0, "depth_mm": 10.0},
         "protocol": {"voltage_V": voltage, "pulses": 8}, "tumours": list(tumours)}
    if constant:
        d["materials"] = {"muscle": {"conductivity_model": "constant"}}
    return scenario_from_dict(d)


def _mesh(scenario, n=16) -> Mesh:
    """Structured box on the scenario's block; cells whose centroid lies in tumour i are region i + 1."""
    tumours = scenario.tumours

    def region_of(c):
        c = c - [L / 2, L / 2, 0.0]
        r = np.zeros(len(c), dtype=np.int32)
        for i, t in enumerate(tumours):
            r[t.contains(c)] = i + 1
        return r

    m = box_mesh((L, L, L), (n, n, n), region_of)
    regions = (Region("muscle", "layer", "muscle", 0),) + tuple(
        Region(t.name, "tumour", t.material, i) for i, t in enumerate(tumours))
    return Mesh(m.points - [L / 2, L / 2, 0.0], m.tets, m.cell_region, regions, m.contact_facets)


@pytest.fixture(scope="module")
def ten():
    sc = _scenario(TEN, voltage=300.0)
    result = run(sc, mesh=_mesh(sc))
    return result, plot.slice_figures(result)


def _boxes_overlap(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_every_one_of_ten_tumours_is_outlined_in_some_slice(ten):
    result, figs = ten
    drawn = {p.get_gid() for _, fig in figs for ax in fig.axes for p in ax.patches}
    assert {f"tumour:{t.name}" for t in result.scenario.tumours} <= drawn
    # and through its own centre: the slice of each tumour's depth cuts it at full size
    names = [n for n, _ in figs]
    assert "field_xz.png" in names and "field_xy.png" in names
    for t in result.scenario.tumours:
        view = next(v for v in slice_views(result) if v.axis == 2 and abs(v.value - t.centre[2]) < 1e-9)
        assert view is not None


def test_titles_fit_name_the_run_and_labels_are_upright_and_apart(ten):
    result, figs = ten
    for name, fig in figs:
        r = fig.canvas.get_renderer()
        fb = fig.bbox
        title = next(t for t in fig.texts if t.get_gid() == "title")
        tb = title.get_window_extent(r)
        assert tb.x0 >= fb.x0 - 1 and tb.x1 <= fb.x1 + 1 and tb.y1 <= fb.y1 + 1, name
        text = title.get_text()
        assert "plates" in text and "300 V" in text and "8 \u00d7 100 \u00b5s" in text and "stationary" in text
        labels = [t for ax in fig.axes for t in ax.texts if (t.get_gid() or "").startswith("contour-label")]
        assert all(t.get_rotation() == 0 for t in labels)
        boxes = [t.get_window_extent(r) for t in labels]
        assert not any(_boxes_overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:]), name


@pytest.fixture(scope="module")
def labelled():
    """A well-conducting tumour between plates at 850 V: both the E_irr (800 V/cm) contour
    around it and the E_rev (400 V/cm) contour inside it are drawn, so both get a label (the
    ten-tumour run's field stays between the tumour's thresholds: no label to test there)."""
    sc = scenario_from_dict({
        "name": "box-plates", "tissue": {"size_mm": [10, 10, 10], "layers": [{"material": "muscle"}]},
        "tumours": [{"name": "T1", "diameter_mm": 5.0, "depth_mm": 5.0, "margin_mm": 0.5}],
        "materials": {"tumour": {"sigma0_S_per_m": 5.0, "sigma1_S_per_m": 5.0}},
        "electrode": {"type": "plates", "gap_mm": 10.0, "length_mm": 10.0, "depth_mm": 10.0},
        "protocol": {"voltage_V": 850.0, "pulses": 8}})
    return plot.slice_figures(run(sc, mesh=_mesh(sc, n=10)))


def test_contour_labels_read_their_level_upright_and_apart(labelled):
    fields = [(n, f) for n, f in labelled if n.startswith("field_")]
    assert len(fields) >= 2
    for name, fig in fields:
        r = fig.canvas.get_renderer()
        ax = fig.axes[0]
        labels = [t for t in ax.texts if (t.get_gid() or "").startswith("contour-label")]
        assert sorted(t.get_text().strip() for t in labels) == ["400", "800"], name   # one per level, "400" not "004"
        assert all(t.get_rotation() == 0 for t in labels), name                        # upright
        boxes = [t.get_window_extent(r) for t in labels]
        assert not _boxes_overlap(*boxes), name                                        # apart
        inside = ax.get_window_extent(r)
        assert all(inside.x0 <= b.x0 and b.x1 <= inside.x1 and inside.y0 <= b.y0 and b.y1 <= inside.y1
                   for b in boxes), name


def test_plates_figure_spans_the_plates_and_is_centred(ten):
    result, figs = ten
    fig = dict(figs)["field_xz.png"]
    ax = fig.axes[0]
    x0, x1 = ax.get_xlim()
    plates = result.scenario.electrode.plates
    outer = max(abs(p.centre[0]) + p.thickness / 2 for p in plates) / 1e-3
    assert x0 <= -outer and x1 >= outer and x1 - x0 < 1.5 * 2 * outer       # the plates, not empty space
    assert {"electrode:A", "electrode:B"} <= {p.get_gid() for p in ax.patches}
    # the axes + colour bar block sits in the middle of the canvas (no empty half)
    left = ax.get_position().x0
    right = fig.axes[1].get_position().x1
    assert abs(0.5 * (left + right) - 0.5) < 0.08
    # layer names sit inside the tissue, not on a plate
    for t in ax.texts:
        if (t.get_gid() or "").startswith("layer:"):
            assert -5.0 <= t.get_position()[0] <= 5.0


@pytest.mark.parametrize("voltage, top", [(1000.0, 1000.0), (3000.0, 3000.0)])
def test_colour_scale_follows_the_field(voltage, top):
    # constant conductivity between plates: the field is V/d everywhere (1000 V/cm per 1000 V)
    sc = _scenario(voltage=voltage, constant=True)
    result = run(sc, mesh=_mesh(sc, n=6))
    E = result.train.E_max.max(axis=1) / 1e2
    assert np.allclose(E, voltage / 1.0, rtol=1e-6)
    figs = dict(plot.slice_figures(result))
    cax = figs["field_xz.png"].axes[1]
    assert cax.get_ylim()[1] == pytest.approx(top)
    img = figs["field_xz.png"].axes[0].images[0]
    assert img.norm.vmax == pytest.approx(top) and float(img.get_array().max()) <= top * (1 + 1e-9)
    # uniform 1000 V/cm >= muscle E_irr (450): all healthy irreversible; 3000 V the same
    assert (state_codes(result) == 3).all()


def test_state_map_uses_each_tissues_own_thresholds(ten):
    result, figs = ten
    codes = state_codes(result)
    E = result.train.E_max.max(axis=1)
    tumour = result.mesh.cell_region > 0
    # 300 V over 10 mm: ~300 V/cm; muscle (E_rev 200) reversible, tumour (E_rev 400) mostly not
    assert np.array_equal(codes[~tumour], (E[~tumour] >= 200e2).astype(int) + 2 * (E[~tumour] >= 450e2))
    assert np.array_equal(codes[tumour], (E[tumour] >= 400e2).astype(int) + (E[tumour] >= 800e2))
    assert (codes[~tumour] == 1).mean() > 0.9
    assert "state_xz.png" in dict(figs)
    note = next(t for t in dict(figs)["state_xz.png"].texts if t.get_gid() == "thresholds").get_text()
    assert "muscle 200 / 450" in note and "tumour 400 / 800" in note


def test_cold_region_slice(ten):
    result, figs = ten
    cold = cold_regions_of(result)
    assert cold and cold[0].volume > 0
    t = next(t for t in result.scenario.tumours if t.name == cold[0].tumour)
    assert t.contains(np.array([cold[0].centroid]), grow=t.margin + 1.5e-3)[0]
    views = slice_views(result, cold[0])
    assert any(v.axis == 1 and abs(v.value - cold[0].centroid[1]) < 1e-7 for v in views)
    assert any(v.axis == 2 and abs(v.value - cold[0].centroid[2]) < 1e-7 for v in views)


@pytest.mark.xdist_group("example-needle_pair")       # the shared needle_pair run (one per session)
def test_cold_regions_marked_where_the_diagnosis_says(example_run):
    """needle_pair at 730 V: the report's largest cold region (low field between the needles)
    is marked in the figures of the slices through it, at its centroid, with its cause; the
    terminal line says the same."""
    run_ = example_run("needle_pair")
    result, first = run_.result, run_.report["diagnosis"]["cold_regions"][0]
    assert first["cause"] == "low_field_between_needles"
    assert f"cold low field between the needles (at x {first['centroid_mm'][0]:.1f}" in run_.out
    regions = cold_regions_of(result)
    assert [round(x * 1e3, 3) for x in regions[0].centroid] == first["centroid_mm"]
    views = (("field_xz_cold.png", (0, 2)), ("state_xy_cold.png", (0, 1)))
    figs = dict(plot.slice_figures(result, only={name for name, _ in views}))
    assert set(figs) == {name for name, _ in views}
    for name, (a, b) in views:
        ax = figs[name].axes[0]
        marks = {ln.get_gid(): ln for ln in ax.lines if (ln.get_gid() or "").startswith("cold-region:")}
        assert "cold-region:1" in marks, name
        assert np.allclose(marks["cold-region:1"].get_xydata()[0],
                           [first["centroid_mm"][a], first["centroid_mm"][b]], atol=1e-3), name   # report: 0.001 mm
        legend = [t.get_text() for t in figs[name].legends[0].get_texts()]
        assert any(t.startswith("cold 1:") and "low field between the needles" in t for t in legend), name
    # a slice that misses every cold region carries no mark: the xz slice at the far block edge
    from simulator.output.sampling import sample_plane
    from simulator.output.slice_figures import draw_cold
    import matplotlib.figure
    ax = matplotlib.figure.Figure().add_subplot()
    y_edge = 0.49 * result.scenario.tissue.size[1]
    sample = sample_plane(result.mesh, 1, y_edge, (-5e-3, 5e-3), (-10e-3, 0.0), pixels=60)
    assert draw_cold(ax, sample, regions, len(result.mesh.cell_region)) == ([], [])


def test_nice_ceiling():
    assert [nice_ceiling(x) for x in (1.0, 1.01, 950.0, 1000.0, 1001.0, 3900.0, 0.07)] == \
        [1.0, 1.2, 1000.0, 1000.0, 1200.0, 4000.0, 0.08]
