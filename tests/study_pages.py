"""Read a study's report.html (plan, sweep, compare, robustness) back for the tests: the main
table (the first <table> after ``<h2 id="table">``) as header + rows of cell text, the
embedded images, every reference to a resource outside the file, the Inputs and Versions."""
from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path


@dataclass
class StudyPage:
    title: str
    head: list[str]
    rows: list[list[str]]
    images: list[str]             # src of each <img>
    external: list[str]           # src/href/url() not pointing into the file itself
    inputs: str                   # text of the Inputs section
    versions: str                 # text of the Versions section


class _Table(HTMLParser):
    """Top-level rows of the first table after the element with id="table"."""

    def __init__(self):
        super().__init__()
        self.armed = self.done = False
        self.depth = 0
        self.rows: list[list[str]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if self.done:
            return
        if ("id", "table") in attrs:
            self.armed = True
        elif tag == "table" and self.armed:
            self.depth += 1
        elif self.depth == 1 and tag == "tr":
            self.rows.append([])
        elif self.depth == 1 and tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag):
        if self.done or not self.depth:
            return
        if tag == "table":
            self.depth -= 1
            self.done = self.depth == 0
        elif self.depth == 1 and tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append("".join(self.cell).strip())
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def _section(text: str, heading: str) -> str:
    part = text.split(f"<h2>{heading}</h2>", 1)[1]
    return re.sub(r"<[^>]+>", " ", re.split(r"<h2|<details", part, maxsplit=1)[0])


def read_study_page(path: Path) -> StudyPage:
    import html
    text = Path(path).read_text(encoding="utf-8")
    parser = _Table()
    parser.feed(text)
    rows = parser.rows
    refs = re.findall(r"""\b(?:src|href)\s*=\s*["']?([^"'\s>]*)""", text) + re.findall(r"url\(([^)]*)\)", text)
    return StudyPage(
        title=html.unescape(re.search(r"<title>(.*?)</title>", text).group(1)),
        head=rows[0] if rows else [], rows=rows[1:],
        images=re.findall(r'<img [^>]*src="([^"]*)"', text),
        external=[r for r in refs if not r.startswith(("data:", "#"))],
        inputs=html.unescape(_section(text, "Inputs")), versions=html.unescape(_section(text, "Versions")))


def assert_self_contained(page: StudyPage, folder: Path, scenario_text: str) -> None:
    """Every PNG of ``folder`` embedded byte for byte, nothing referenced outside the file, the
    scenario as given under Inputs, library versions and the commit under Versions."""
    import base64
    embedded = sorted(base64.b64decode(s.split(",", 1)[1]) for s in page.images if s.startswith("data:image/png;base64,"))
    assert len(embedded) == len(page.images)
    assert embedded == sorted(p.read_bytes() for p in Path(folder).glob("*.png"))
    assert not page.external, page.external
    assert scenario_text.strip() in page.inputs
    assert all(k in page.versions for k in ("epsim", "numpy", "gmsh", "commit")), page.versions
