"""Pulses that the generator delivers (SI units: V, s, Hz)."""
from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class PulseGroup:
    """``count`` identical pulses between ``anode`` and ``cathode`` contacts.

    ``anode`` and ``cathode`` are tuples of contact names (a group such as a needle row is
    several contacts at the same potential). ``label_anode``/``label_cathode`` keep the
    names the user gave (a contact or group name) for reports.
    """

    anode: tuple[str, ...]
    cathode: tuple[str, ...]
    voltage: float          # V, anode minus cathode
    count: int
    duration: float         # s, each pulse
    frequency: float        # Hz, repetition rate
    label_anode: str = ""
    label_cathode: str = ""

    @property
    def configuration(self) -> tuple[tuple[str, ...], tuple[str, ...], float]:
        """What a field solve depends on: contacts and voltage (count/duration do not)."""
        return (self.anode, self.cathode, self.voltage)

    @property
    def on_time(self) -> float:
        """Total time (s) the field is on for this group."""
        return self.count * self.duration


@dataclass(frozen=True)
class Protocol:
    """An ordered pulse train: groups fired one after another."""

    groups: tuple[PulseGroup, ...]
    preset: str = ""

    def with_voltage(self, voltage: float) -> "Protocol":
        """A copy with every group at ``voltage`` (V)."""
        return replace(self, groups=tuple(replace(g, voltage=voltage) for g in self.groups))

    def scaled(self, factor: float) -> "Protocol":
        """A copy with every voltage multiplied by ``factor``."""
        return replace(self, groups=tuple(replace(g, voltage=g.voltage * factor) for g in self.groups))

    @property
    def train_time(self) -> float:
        """Seconds from the first pulse's start to the last pulse's end: within a group the
        pulses are one period max(1/frequency, duration) apart, and the next group starts one
        period of the previous after its last pulse [A: the generator's pause between pairs is
        not in the scenario]. ESOPE 8 x 100 us: 7.0001 s at 1 Hz, 1.5 ms at 5 kHz. The one
        definition of treatment time (report, summary, tables, plans)."""
        periods = [max(1.0 / g.frequency, g.duration) for g in self.groups]
        last = self.groups[-1]
        return sum(g.count * t for g, t in zip(self.groups, periods)) - (periods[-1] - last.duration)

    @property
    def total_pulses(self) -> int:
        return sum(g.count for g in self.groups)

    @property
    def max_voltage(self) -> float:
        return max(g.voltage for g in self.groups)
