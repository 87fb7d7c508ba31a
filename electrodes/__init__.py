"""What touches the tissue: needles and plates, their layouts and placement."""
from .contacts import Contact, Electrode, Needle, Plate
from .needles import custom_needles, hexagonal, hexagonal_pairs, needle_pair, needle_rows
from .plates import plates

__all__ = ["Contact", "Electrode", "Needle", "Plate", "custom_needles", "hexagonal",
           "hexagonal_pairs", "needle_pair", "needle_rows", "plates"]
