"""sigma(E) models: end values, monotonicity, derivative, continuity (design.md section 3)."""
import numpy as np
import pytest

from simulator.physics.conductivity import MODELS, CellConductivity, get_model

S0, S1, ER, EI = 0.2, 0.8, 4e4, 8e4


@pytest.mark.parametrize("name", ["linear", "smoothstep", "sigmoid"])
def test_end_values_and_monotone(name):
    m = get_model(name)
    E = np.linspace(0, 2e5, 20001)
    s = m.sigma(E, S0, S1, ER, EI)
    assert np.all(np.diff(s) >= -1e-15), "sigma(E) must be non-decreasing (convex energy)"
    tol = 1e-12 if name != "sigmoid" else 0.01 * (S1 - S0)   # the sigmoid only tends to its limits
    assert abs(s[0] - S0) <= tol and abs(s[-1] - S1) <= tol
    mid = m.sigma(np.array([0.5 * (ER + EI)]), S0, S1, ER, EI)[0]
    expected = {"linear": 0.5, "smoothstep": 0.5, "sigmoid": 1 / 11}[name]   # sigmoid: 1/(1+D) at A
    assert mid == pytest.approx(S0 + (S1 - S0) * expected, rel=1e-12)


@pytest.mark.parametrize("name", list(MODELS))
def test_derivative_matches_finite_difference(name):
    m = get_model(name)
    E = np.linspace(1e3, 1.2e5, 997)          # avoids the linear model's kinks exactly
    h = 1e-3
    fd = (m.sigma(E + h, S0, S1, ER, EI) - m.sigma(E - h, S0, S1, ER, EI)) / (2 * h)
    assert np.allclose(m.dsigma(E, S0, S1, ER, EI), fd, rtol=1e-5, atol=1e-12)


def test_smoothstep_is_c1_at_thresholds():
    m = get_model("smoothstep")
    for e in (ER, EI):
        d = m.dsigma(np.array([e - 1e-6, e + 1e-6]), S0, S1, ER, EI)
        assert np.all(np.abs(d) < 1e-12)


def test_energy_is_convex_sigma_E_increasing():
    for name in MODELS:
        m = get_model(name)
        E = np.linspace(0, 3e5, 5001)
        assert np.all(m.sigma(E, S0, S1, ER, EI) + m.dsigma(E, S0, S1, ER, EI) * E > 0)


def test_cell_law_mixes_models_per_cell_and_scales():
    law = CellConductivity(np.array([0.2, 0.2]), np.array([0.8, 0.8]), np.array([ER, ER]), np.array([EI, EI]),
                           np.array([0, 1]), ("constant", "linear"))
    s = law.sigma(np.array([6e4, 6e4]))
    assert s[0] == pytest.approx(0.2) and s[1] == pytest.approx(0.5)
    assert np.allclose(law.with_scale(np.array([2.0, 1.0])).sigma(np.array([6e4, 6e4])), [0.4, 0.5])


def test_unknown_model_lists_valid_names():
    with pytest.raises(KeyError, match="constant, linear, smoothstep, sigmoid"):
        get_model("tanh")


@pytest.mark.parametrize("shape", [(1000,), (1000, 4)])
def test_cell_law_in_blocks_gives_the_whole_array_values(monkeypatch, shape):
    """The law is evaluated per block of cells (memory): the same bits as in one piece, for
    every model, a model on a subset of the cells, per-cell parameters and a scale."""
    import simulator.physics.conductivity as C
    rng = np.random.default_rng(3)
    M = shape[0]
    law = CellConductivity(rng.uniform(0.1, 0.3, M), rng.uniform(0.6, 0.9, M), np.full(M, ER), np.full(M, EI),
                           rng.integers(0, len(MODELS), M), tuple(MODELS), scale=rng.uniform(0.9, 1.1, M))
    E = rng.uniform(0.0, 1.5 * EI, shape)
    whole = {k: getattr(law, k)(E) for k in ("sigma", "dsigma")}
    monkeypatch.setattr(C, "LAW_CHUNK", 7)
    blocks = CellConductivity(law.sigma0, law.sigma1, law.E_rev, law.E_irr, law.model_index, law.models,
                              scale=law.scale)
    for k, v in whole.items():
        assert np.array_equal(getattr(blocks, k)(E), v)
    one = CellConductivity(law.sigma0, law.sigma1, law.E_rev, law.E_irr, np.zeros(M, dtype=int), ("sigmoid",))
    ref = get_model("sigmoid").sigma(E, *(a.reshape((M,) + (1,) * (E.ndim - 1))
                                          for a in (law.sigma0, law.sigma1, law.E_rev, law.E_irr)))
    assert np.array_equal(one.sigma(E), ref)
