"""``[[applications]]``: several electrode placements in one session.

Each entry takes the keys of ``[electrode]`` plus an optional ``voltage_V`` or
``field_ratio_V_per_cm`` overriding ``[protocol]`` for that application; ``[protocol]``
(preset, pulses, sequence, ...) applies to every application. Contact names get the prefix
``a<k>.`` (``a1.A``, ``a2.H3``, ...); sequences in ``[protocol]`` use the plain names.
The combined electrode (every application's contacts) is checked like one electrode, so
needles of different applications may not overlap.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from electrodes.contacts import Electrode
from protocols.pulses import Protocol
from simulator.errors import ScenarioError
from simulator.scenario.checks import check_electrode
from simulator.scenario.records import Application
from simulator.scenario.sections import read_electrode, read_protocol
from simulator.scenario.table import Table, show

MAX_APPLICATIONS = 20
VOLTAGE_KEYS = ("voltage_V", "field_ratio_V_per_cm")


def prefixed(e: Electrode, prefix: str) -> Electrode:
    """The electrode with every contact and group name prefixed."""
    return replace(e, contacts=tuple(replace(c, name=prefix + c.name) for c in e.contacts),
                   groups={prefix + k: tuple(prefix + n for n in v) for k, v in e.groups.items()},
                   default_sequence=tuple((prefix + a, prefix + c) for a, c in e.default_sequence))


def prefixed_protocol(p: Protocol, prefix: str) -> Protocol:
    groups = tuple(replace(g, anode=tuple(prefix + n for n in g.anode), cathode=tuple(prefix + n for n in g.cathode),
                           label_anode=prefix + (g.label_anode or "+".join(g.anode)),
                           label_cathode=prefix + (g.label_cathode or "+".join(g.cathode))) for g in p.groups)
    return replace(p, groups=groups)


def read_applications(raw: Any, protocol_raw: dict, tissue) -> tuple[Electrode, Protocol, tuple[Application, ...]]:
    """The combined electrode and protocol and the applications of ``[[applications]]``."""
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise ScenarioError("applications", f"must be a non-empty list of tables ([[applications]]), got {show(raw)}")
    if len(raw) > MAX_APPLICATIONS:
        raise ScenarioError("applications", f"at most {MAX_APPLICATIONS} applications, got {len(raw)}")
    if not isinstance(protocol_raw, dict):
        raise ScenarioError("protocol", f"must be a table, got {show(protocol_raw)}")
    apps = []
    for i, r in enumerate(raw):
        path = f"applications[{i}]"
        if not isinstance(r, dict):
            raise ScenarioError(path, f"must be a table, got {show(r)}")
        electrode_keys = {k: v for k, v in r.items() if k not in VOLTAGE_KEYS}
        electrode, entry = read_electrode(Table(electrode_keys, path), tissue)
        if electrode.clamped:
            raise ScenarioError(path, "a block clamped between plates cannot take several applications")
        if any(n.insulated_length > 0 for n in electrode.needles):
            raise ScenarioError(f"{path}.insulated_length_mm", "insulated needles are not supported in "
                                "[[applications]] (their shafts would conduct as tissue)")
        proto = dict(protocol_raw)
        overrides = {k: r[k] for k in VOLTAGE_KEYS if r.get(k) is not None}
        if len(overrides) > 1:
            raise ScenarioError(f"{path}.voltage_V", "give voltage_V or field_ratio_V_per_cm, not both")
        if overrides:
            for k in VOLTAGE_KEYS:
                proto.pop(k, None)
            proto.update(overrides)
        try:
            protocol = read_protocol(Table(proto, "protocol"), electrode, entry.protocol if entry else None)
        except ScenarioError as exc:
            if exc.field.split(".")[-1] in VOLTAGE_KEYS and overrides:
                raise ScenarioError(f"{path}.{exc.field.split('.')[-1]}", exc.message) from None
            raise
        prefix = f"a{i + 1}."
        apps.append(Application(prefixed(electrode, prefix), prefixed_protocol(protocol, prefix)))
    combined = Electrode("applications", tuple(c for a in apps for c in a.electrode.contacts),
                         apps[0].electrode.distance, (), {}, False, "[[applications]]")
    try:
        check_electrode(combined, tissue)
    except ScenarioError as exc:
        raise ScenarioError("applications", exc.message) from None
    groups = tuple(g for a in apps for g in a.protocol.groups)
    return combined, Protocol(groups, apps[0].protocol.preset), tuple(apps)
