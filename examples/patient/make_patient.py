"""Make the small patient-geometry files of examples/patient_geometry.toml (run from the
repository root: ``python examples/patient/make_patient.py``). Nothing is downloaded: the
"segmentation" is synthetic, a layered chest-wall block as a label image (NIfTI) and an
irregular nodule as a closed surface (binary STL), the kind of data a segmentation gives."""
from pathlib import Path

import meshio
import nibabel
import numpy as np
from scipy.spatial import ConvexHull

HERE = Path(__file__).resolve().parent


def label_image(path: Path, voxel_mm: float = 0.5) -> None:
    """30 x 30 x 12 mm: skin 1.5 mm (label 1), fat 3 mm (2), muscle (3), a rib-like bone bar (4)."""
    nx, ny, nz = (round(v / voxel_mm) for v in (30.0, 30.0, 12.0))
    x = (np.arange(nx) + 0.5) * voxel_mm - 15.0
    z = (np.arange(nz) + 0.5) * voxel_mm                 # depth below the skin
    lab = np.full((nx, ny, nz), 3, dtype=np.int16)
    lab[:, :, z < 4.5] = 2
    lab[:, :, z < 1.5] = 1
    X, Z = np.meshgrid(x, z, indexing="ij")
    bar = (X - 9.0) ** 2 + (Z - 9.0) ** 2 < 2.5 ** 2     # a rib 9 mm to the side, 9 mm deep
    lab[bar[:, None, :].repeat(ny, axis=1)] = 4
    nibabel.save(nibabel.Nifti1Image(lab, np.diag([voxel_mm, voxel_mm, voxel_mm, 1.0])), str(path))


def nodule_surface(path: Path, n: int = 500) -> None:
    """An irregular (lobulated) nodule, about 7 x 6 x 5 mm, centred 3.5 mm below the skin."""
    k = np.arange(n) + 0.5
    phi, th = np.arccos(1 - 2 * k / n), np.pi * (1 + 5 ** 0.5) * k
    u = np.stack([np.sin(phi) * np.cos(th), np.sin(phi) * np.sin(th), np.cos(phi)], axis=1)
    r = 1.0 + 0.12 * np.sin(3 * th) * np.sin(phi) ** 2            # lobes, still star-shaped
    P = u * r[:, None] * [3.5, 3.0, 2.0] + [0.0, 0.0, -3.5]
    tri = ConvexHull(u).simplices                                 # connectivity of the unit sphere
    meshio.write_points_cells(str(path), P, [("triangle", tri)], binary=True)


if __name__ == "__main__":
    label_image(HERE / "chest_labels.nii.gz")
    nodule_surface(HERE / "nodule.stl")
    print("wrote", HERE / "chest_labels.nii.gz", "and", HERE / "nodule.stl")
