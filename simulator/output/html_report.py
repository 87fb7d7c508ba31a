"""``report.html``: the whole run as one self-contained file that works offline.

Verdict, registry summary, per-tumour table, every figure of the output folder (embedded as
data URIs), pulses and currents, warnings, the resolved scenario, material values with their
source labels, versions, commit and timings, the interactive 3-D view (plotly.js inline), and
any other block of report.json as a table, so keys added later show up without changes here.
"""
from __future__ import annotations

import base64
import html
import json
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from simulator.units import V_PER_CM

if TYPE_CHECKING:                                   # pragma: no cover
    from simulator.solve.result import Result

SHOWN = {"report_version", "name", "coverage", "tumours", "pulses", "warnings", "summary", "versions",
         "timings_s", "volumes_mm3"}
STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5em auto;max-width:1200px;
color:#222;padding:0 1em}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;border-bottom:1px solid #ccc;padding-bottom:.2em;
margin-top:1.6em}
table{border-collapse:collapse;margin:.4em 0;font-size:.9em}td,th{border:1px solid #ddd;padding:.25em .6em;
text-align:left;vertical-align:top}th{background:#f3f3f3}
.verdict{display:inline-block;padding:.4em .9em;border-radius:4px;font-weight:600;font-size:1.1em}
.ok{background:#d7f0d9;color:#185c21}.bad{background:#f8d7d7;color:#8a1414}.none{background:#eee}
.warn{background:#fff4d6;border-left:4px solid #e0a800;padding:.4em .8em;margin:.3em 0}
figure{display:inline-block;margin:.4em;vertical-align:top;max-width:48%}figure img{max-width:100%;
border:1px solid #ddd}figcaption{font-size:.8em;color:#555}pre{background:#f7f7f7;padding:.8em;
overflow:auto;font-size:.8em;max-height:30em}.muted{color:#666;font-size:.85em}
.wide{overflow-x:auto;max-width:100%}.wide td,.wide th{white-space:nowrap}
"""


def git_describe() -> str:
    """``git describe --always --dirty`` of the epsim source tree, else "unknown"."""
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty", "--tags"], cwd=Path(__file__).parent,
                             capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "unknown"


def _e(x) -> str:
    return html.escape(str(x))


def _scalar(x) -> bool:
    return x is None or isinstance(x, (int, float, str, bool))


def _short(x) -> str:
    """A scalar as text, floats to 6 significant digits."""
    return f"{x:.6g}" if isinstance(x, float) else str(x)


def _cell(v) -> str:
    """A value in a table cell: nested tables for dicts (and lists of dicts) holding more
    than scalars, else text."""
    if isinstance(v, float):
        return _e(f"{v:.6g}")
    if isinstance(v, dict) and not all(_scalar(x) for x in v.values()):
        return table(v)
    if isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
        return table(v)
    if isinstance(v, dict):
        return _e(", ".join(f"{k}: {_short(x)}" for k, x in v.items()))
    if isinstance(v, list):
        return _e(", ".join(_short(x) if _scalar(x) else json.dumps(x) for x in v))
    return _e("n/a" if v is None else v)


def table(data, head: list[str] | None = None) -> str:
    """A dict as key/value rows, a list of dicts as a table with one column per key."""
    if isinstance(data, dict):
        return "<table>" + "".join(f"<tr><th>{_e(k)}</th><td>{_cell(v)}</td></tr>" for k, v in data.items()) + "</table>"
    if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        keys = head or list(dict.fromkeys(k for r in data for k in r))
        rows = "".join("<tr>" + "".join(f"<td>{_cell(r.get(k))}</td>" for k in keys) + "</tr>" for r in data)
        return "<table><tr>" + "".join(f"<th>{_e(k)}</th>" for k in keys) + "</tr>" + rows + "</table>"
    return f"<p>{_e(json.dumps(data) if not _scalar(data) else data)}</p>"


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f} %"


def coverage_errors(report: dict) -> dict[str, dict[str, float]]:
    """Tumour name -> {"tumour": +-, "margin": +-} (absolute coverage fractions) from the
    accuracy block: its per-tumour ``tumours[]``, else ``coverage_abs`` (a dict with ``tumour``
    / ``margin`` or one number for both) for every tumour; {} without an estimate."""
    acc = report.get("accuracy") or {}
    per = {t["name"]: t for t in acc.get("tumours") or [] if isinstance(t, dict) and "name" in t}
    overall = acc.get("coverage_abs")
    if isinstance(overall, (int, float)):
        overall = {"tumour": overall, "margin": overall}
    out = {}
    for t in report.get("tumours") or []:
        src = per.get(t["name"]) or overall or {}
        errs = {k: float(src[k]) for k in ("tumour", "margin") if isinstance(src.get(k), (int, float))}
        if errs:
            out[t["name"]] = errs
    return out


def tumour_table(report: dict) -> str:
    """Per-tumour coverage, with +- the accuracy block's estimate where the report has one (the
    tumour's error on >= E_rev, the margin's on "with margin"; none is estimated for >= E_irr)."""
    tumours = report.get("tumours") or []
    if not tumours:
        return "<p>No tumour: field study (coverage n/a).</p>"
    errors = coverage_errors(report)

    def pm(name: str, key: str) -> str:
        err = errors.get(name, {}).get(key)
        return "" if err is None else f" \u00b1 {100 * err:.1f}"
    rows = "".join(
        f"<tr><td>{_e(t['name'])}</td><td>{_pct(t['tumour_reversible_fraction'])}{pm(t['name'], 'tumour')}</td>"
        f"<td>{_pct(t['tumour_irreversible_fraction'])}</td>"
        f"<td>{_pct(t['margin_reversible_fraction'])}{pm(t['name'], 'margin')}</td>"
        f"<td>{_cell(t.get('min_field_V_per_cm'))}</td><td>{_cell(t.get('volume_mm3'))}</td>"
        f"<td>{'yes' if t['covered'] else '<b>NO</b>'}</td></tr>" for t in tumours)
    note = ('<p class="muted">\u00b1: the accuracy block\'s error estimate (percentage points)</p>'
            if errors else "")
    return ("<table><tr><th>tumour</th><th>\u2265 E_rev</th><th>\u2265 E_irr</th><th>with margin \u2265 E_rev</th>"
            "<th>min E (V/cm)</th><th>volume (mm\u00b3)</th><th>covered</th></tr>" + rows + "</table>" + note)


def materials_table(result: "Result") -> str:
    rows = []
    for name, m in sorted(result.scenario.materials.items()):
        rows.append({"material": name, "sigma0_S_per_m": m.sigma0, "sigma1_S_per_m": m.sigma1,
                     "E_rev_V_per_cm": m.E_rev / V_PER_CM, "E_irr_V_per_cm": m.E_irr / V_PER_CM,
                     "conductivity_model": m.conductivity_model, "source (label)": m.source or "scenario"})
    return table(rows)


def figures_html(folder: Path) -> tuple[str, str]:
    """(slice and coverage figures, thermal figures) of the PNGs in ``folder``, as data URIs."""
    def fig(p: Path) -> str:
        data = base64.b64encode(p.read_bytes()).decode("ascii")
        return (f'<figure><img alt="{_e(p.stem)}" src="data:image/png;base64,{data}">'
                f"<figcaption>{_e(p.name)}</figcaption></figure>")
    pngs = sorted(folder.glob("*.png"), key=lambda p: (not p.name.startswith("field_xz.png"), p.name))
    thermal = [p for p in pngs if "therm" in p.name or "temperature" in p.name]
    other = [p for p in pngs if p not in thermal]
    return "".join(fig(p) for p in other), "".join(fig(p) for p in thermal)


def build_html(result: "Result", report: dict, folder: Path, resolved_toml: str, view3d: str | None) -> str:
    """The page (str). ``folder`` holds the PNGs to embed; ``view3d`` an HTML fragment or None."""
    from simulator.output.captions import run_title

    c = report["coverage"]
    verdict = c.get("covered")
    vclass, vtext = ("none", "no tumour") if verdict is None else ("ok", "COVERED") if verdict else ("bad", "NOT COVERED")
    figs, thermal = figures_html(folder)
    first = ["anode", "cathode", "voltage_V", "current_A", "count", "duration_us", "frequency_Hz", "energy_J"]
    pulse_rows = report.get("pulses", [])
    pulses = table(pulse_rows, first + [k for r in pulse_rows for k in r if k not in first])
    thermal_values = {k: v for k, v in report.items() if "temperature" in k or k == "thermal"}
    others = "".join(f"<h3>{_e(k)}</h3>{table(v) if isinstance(v, (dict, list)) else f'<p>{_cell(v)}</p>'}"
                     for k, v in report.items() if k not in SHOWN and k not in thermal_values)
    versions = dict(report.get("versions", {}), commit=git_describe())
    warnings = "".join(f'<div class="warn">{_e(w)}</div>' for w in report.get("warnings", [])) or "<p>none</p>"
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>epsim report: {_e(report['name'])}</title><style>{STYLE}</style></head><body>",
        f"<h1>epsim report: {_e(report['name'])}</h1>",
        f'<p class="muted">{_e(run_title(result).replace(chr(92) + "$", "$"))}</p>',
        f'<p><span class="verdict {vclass}" id="verdict">{vtext}</span> &nbsp; tumour \u2265 E_rev '
        f"{_pct(c.get('tumour_reversible_fraction'))}, with margin {_pct(c.get('margin_reversible_fraction'))} "
        f"(covered when \u2265 {100 * (1 - c.get('tolerance', 0)):.1f} %)</p>",
        "<h2>Tumours</h2>", tumour_table(report),
        "<h2>Treatment summary (registry fields)</h2>", table(report.get("summary", {})),
        "<h2>Volumes (mm\u00b3)</h2>", table(report.get("volumes_mm3", {})),
        "<h2>3-D view</h2>", view3d or "<p>not drawn (run without figures)</p>",
        "<h2>Figures</h2>", figs or "<p>none (run without figures)</p>",
        "<h2>Pulses and currents</h2>", pulses,
        "<h2>Thermal</h2>", thermal or "", table(thermal_values),
        "<h2>Warnings</h2>", warnings,
        "<h2>Materials</h2>", '<p class="muted">Source labels: [C] confirmed, [C-code] value of a named public '
        "code, [R] commonly cited, not verified, [A] epsim assumption (domain.md).</p>", materials_table(result),
        "<h2>Other results</h2>", others or "<p>none</p>",
        "<h2>Resolved scenario</h2>", f"<pre>{_e(resolved_toml)}</pre>",
        "<h2>Versions and timings</h2>", table(versions), table(report.get("timings_s", {})),
        '<h2>report.json</h2><details><summary>show</summary><pre id="report-json">'
        f"{_e(json.dumps(report, indent=1))}</pre></details>",
        "</body></html>", ""]
    return "\n".join(parts)


def input_files(paths, **extra: str) -> dict[str, str]:
    """The inputs of a study page: each file's text as given (label: its path), then ``extra``
    (label -> text, e.g. the command's options)."""
    return {**{str(p): Path(p).read_bytes().decode("utf-8-sig", errors="replace") for p in paths}, **extra}


def study_html(title: str, report: dict, folder: Path, *, table_key: str | None = None,
               inputs: dict[str, str] | None = None) -> str:
    """A study's page (plan, sweep, compare, robustness): ``report[table_key]`` (its rows) as
    the first table, every PNG of ``folder`` embedded, every other block of the JSON as a
    table, the ``inputs`` (label -> text, e.g. the scenario files as given), library
    versions and commit, the raw JSON; self-contained like report.html (nothing fetched)."""
    from simulator.output.report import versions as library_versions

    figs, thermal = figures_html(folder)
    rows = report.get(table_key) if table_key else None
    scalars = {k: v for k, v in report.items() if _scalar(v)}
    blocks = "".join(f"<h2>{_e(k)}</h2>{table(v) if isinstance(v, (dict, list)) else f'<p>{_cell(v)}</p>'}"
                     for k, v in report.items() if k != table_key and k not in scalars)
    given = "".join(f"<h3>{_e(label)}</h3><pre>{_e(text)}</pre>" for label, text in (inputs or {}).items())
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>", f"<h1>{_e(title)}</h1>",
        table(scalars) if scalars else "",
        *([f'<h2 id="table">{_e(table_key)}</h2>', f'<div class="wide">{table(rows)}</div>' if rows else "<p>none</p>"]
          if table_key else []),
        "<h2>Figures</h2>", (figs + thermal) or "<p>none (run without figures)</p>", blocks,
        "<h2>Inputs</h2>", given or "<p>not recorded</p>",
        "<h2>Versions</h2>", table(dict(library_versions(), commit=git_describe())),
        f'<details><summary>raw JSON</summary><pre>{_e(json.dumps(report, indent=1))}</pre></details>',
        "</body></html>", ""])
