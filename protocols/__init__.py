"""What the generator delivers: pulse groups, firing sequences and ESOPE presets."""
from .pulses import Protocol, PulseGroup

__all__ = ["Protocol", "PulseGroup"]
