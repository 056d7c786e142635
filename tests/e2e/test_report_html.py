"""matrix.html renders in a real browser: headless Chromium screenshot, DOM and print.

The reports are built from the recorded outcome files (tests/unit/data): all of them merged
into one matrix, the sweep of nine minors, and the main job of one minor. The screenshots,
PDFs and reports are kept under tests/artifacts/report-html/ for a person to look at.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from authprobe.host import packages
from authprobe.model.outcome import CellRecord
from authprobe.report import document, grid, merge
from authprobe.report.writer import write_all

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "unit" / "data"
ARTIFACTS = ROOT / "tests" / "artifacts" / "report-html"
WIDTH, HEIGHT = 1400, 2000
LAPTOP = (1440, 900)
# Printed, a report stays short: the evidence is behind a click (and in outcomes.json).
MAX_PAGES = {"outcomes-sweep-1.19-1.37.json": 40, "outcomes-1.34.json": 12}
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="module")
def chromium() -> str:
    return packages.ensure_command("chromium", "chromium",
                                   "to render matrix.html in a real browser for a test")


@pytest.fixture(scope="module")
def report() -> Path:
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    ARTIFACTS.mkdir(parents=True)
    runs = [document.load(p) for p in sorted(DATA.glob("outcomes-*.json"))]
    merged = merge.merge(runs, ARTIFACTS)
    write_all(merged, ARTIFACTS)
    return ARTIFACTS / "matrix.html"


def run_chromium(chromium: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "chromium-profile"
    return subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=180,
    )


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    return struct.unpack(">II", data[16:24])


def test_matrix_html_screenshot(chromium, report, tmp_path):
    shot = ARTIFACTS / "matrix.png"
    result = run_chromium(chromium, tmp_path, f"--screenshot={shot}",
                          f"--window-size={WIDTH},{HEIGHT}", report.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    assert shot.exists(), f"no screenshot written: {result.stderr[-2000:]}"
    assert png_size(shot) == (WIDTH, HEIGHT)
    # a blank page of this size compresses to a few kilobytes; the matrix and plot do not
    assert shot.stat().st_size > 60_000, f"screenshot looks empty: {shot.stat().st_size} bytes"


def test_matrix_html_dom_has_the_matrix_and_the_plot(chromium, report, tmp_path):
    result = run_chromium(chromium, tmp_path, "--dump-dom", report.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    (ARTIFACTS / "matrix.dom.html").write_text(dom)
    assert 'id="outcome-matrix"' in dom
    assert "<svg" in dom and 'class="series"' in dom
    cells = document.load(ARTIFACTS / document.FILENAME).cells  # what the merge kept
    assert dom.count('class="cell ') == len({(c.profile, c.scenario) for c in cells}) * len(
        {c.version for c in cells})
    assert dom.count('<section class="evidence') == len(cells)


@pytest.fixture(scope="module", params=sorted(MAX_PAGES))
def single(request, report) -> tuple[str, Path]:
    """The report of one recorded run, written next to the merged one."""
    folder = ARTIFACTS / Path(request.param).stem
    folder.mkdir()
    write_all(merge.merge([document.load(DATA / request.param)], folder), folder)
    return request.param, folder / "matrix.html"


def pdf_pages(path: Path) -> int:
    """The number of pages of a PDF Chromium printed (one page object each)."""
    return len(re.findall(rb"/Type\s*/Page[^s]", path.read_bytes()))


def test_a_recorded_run_prints_in_a_few_pages(chromium, single, tmp_path):
    name, html = single
    pdf = html.with_suffix(".pdf")
    result = run_chromium(chromium, tmp_path, f"--print-to-pdf={pdf}", "--no-pdf-header-footer",
                          html.as_uri())
    assert result.returncode == 0 and pdf.exists(), result.stderr[-2000:]
    pages = pdf_pages(pdf)
    assert 1 <= pages <= MAX_PAGES[name], f"{name}: {pages} pages"


def test_a_recorded_run_on_a_laptop_screen(chromium, single, tmp_path):
    _, html = single
    shot = html.with_suffix(".png")
    result = run_chromium(chromium, tmp_path, f"--screenshot={shot}",
                          "--window-size={},{}".format(*LAPTOP), html.as_uri())
    assert result.returncode == 0 and shot.exists(), result.stderr[-2000:]
    assert png_size(shot) == LAPTOP
    assert shot.stat().st_size > 60_000, f"screenshot looks empty: {shot.stat().st_size} bytes"


def test_a_link_to_a_cell_opens_its_evidence(chromium, single, tmp_path):
    _, html = single
    doc = json.loads((html.parent / "outcomes.json").read_text())
    cell = CellRecord.from_dict(doc["cells"][-1])
    result = run_chromium(chromium, tmp_path, "--dump-dom",
                          f"{html.as_uri()}#{grid.cell_anchor(cell)}")
    assert result.returncode == 0, result.stderr[-2000:]
    opened = re.findall(r'<details class="evidence-row" id="([^"]+)" open', result.stdout)
    assert opened == ["evidence-" + grid.row_anchor(cell.profile, cell.scenario)]
