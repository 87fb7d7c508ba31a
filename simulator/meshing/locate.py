"""Point location in a tetrahedral mesh, and P1 interpolation of vertex values there.

Each point is looked up among the ``CANDIDATES`` cells whose centroids are nearest (scipy
cKDTree) and interpolated linearly in the cell that contains it. A point outside every
candidate (outside the mesh: inside a needle hole, past a curved boundary) takes the
candidate cell it is least outside of, with its barycentric coordinates clipped to [0, 1]
and renormalised: the value of the nearest face.
"""
from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

CANDIDATES = 8       # [A] nearest cell centroids searched per point (graded meshes: 8 suffice
#                      to find the containing cell for nearly every point; misses fall back
#                      to the clipped nearest candidate, above)
_BLOCK = 1 << 16     # points per block (bounds the (K, CANDIDATES, 3, 3) temporaries)


class PointLocator:
    """Locates points in a tetrahedral mesh and interpolates vertex values there."""

    def __init__(self, mesh):
        """``mesh``: anything with ``points`` (N, 3) and ``tets`` (M, 4) (a Mesh, a SizeMap)."""
        self.points = mesh.points
        self.tets = mesh.tets
        self._tree = cKDTree(self.points[self.tets].mean(axis=1))
        p0 = self.points[self.tets[:, 0]]
        # columns p1 - p0, p2 - p0, p3 - p0 of each tet; their inverses map x to barycentrics
        T = np.stack([self.points[self.tets[:, k]] - p0 for k in (1, 2, 3)], axis=2)
        self._p0 = p0
        self._Tinv = np.linalg.inv(T)

    def weights(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For points x (K, 3) m: the cell used for each (K,) and its 4 barycentric weights (K, 4)."""
        cells = np.empty(len(x), dtype=np.int64)
        bary = np.empty((len(x), 4))
        k = min(CANDIDATES, len(self.tets))
        for a in range(0, len(x), _BLOCK):
            xb = x[a:a + _BLOCK]
            _, cand = self._tree.query(xb, k=k)
            cand = cand.reshape(len(xb), k)
            lam = np.einsum("kcij,kcj->kci", self._Tinv[cand], xb[:, None, :] - self._p0[cand])
            lam = np.concatenate([1.0 - lam.sum(axis=2, keepdims=True), lam], axis=2)   # (K, c, 4)
            best = np.argmax(lam.min(axis=2), axis=1)         # the containing cell, else least outside
            rows = np.arange(len(xb))
            chosen = lam[rows, best]
            np.clip(chosen, 0.0, 1.0, out=chosen)
            chosen /= chosen.sum(axis=1, keepdims=True)
            cells[a:a + _BLOCK] = cand[rows, best]
            bary[a:a + _BLOCK] = chosen
        return cells, bary

    def interpolate(self, values: np.ndarray, x: np.ndarray) -> np.ndarray:
        """The P1 interpolant of vertex ``values`` (N,) at points x (K, 3)."""
        cells, bary = self.weights(x)
        return np.einsum("kn,kn->k", bary, values[self.tets[cells]])
