"""report.html: self-contained, rendered by a real headless Chromium, every plot a valid PNG."""

import base64
import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from edgekd.report.html import SECTION_TITLES, render_html
from edgekd.report.plots import pareto_front

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def chromium(tmp_path, *args):
    profile = tmp_path / "chromium-profile"
    profile.mkdir(exist_ok=True)
    return subprocess.run([str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                          text=True, timeout=120)


def test_pareto_front_keeps_only_undominated_points():
    # (latency, accuracy): b beats a on both; c is slower but more accurate; d is dominated by c
    points = [(2.0, 0.80), (1.0, 0.85), (3.0, 0.95), (4.0, 0.90)]
    assert pareto_front(points) == [1, 2]


def test_html_is_self_contained(built):
    html = (built / "report.html").read_text()
    assert re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html) is None
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html
    images = re.findall(r'<img [^>]*src="([^"]+)"', html)
    # training curves, confusion matrix, accuracy vs latency, reliability diagrams, latency on every profile
    assert len(images) >= 5
    for src in images:
        assert src.startswith("data:image/png;base64,")
        png = base64.b64decode(src.split(",", 1)[1], validate=True)
        assert png.startswith(PNG_MAGIC)
        from PIL import Image

        with Image.open(io.BytesIO(png)) as img:
            img.verify()
            assert img.size[0] > 100 and img.size[1] > 100
    for title in SECTION_TITLES:
        assert f">{title}</h2>" in html


def test_html_renders_with_a_report_missing_optional_parts(report):
    for key in ("temperature_scaling", "predicted_on_targets", "parity_matrix", "kd_vs_baseline"):
        report.pop(key, None)
    for model in report["models"]:
        model.get("calibration", {}).pop("reliability", None)
    html = render_html(report)
    assert "Budgets</h2>" in html and "nothing to plot" in html and "no hard-label baseline" in html


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed (/usr/bin/chromium absent; "
                                                  ".ci/run installs it with apt-get install -y chromium)")
def test_report_renders_in_headless_chromium(built, tmp_path):
    page = tmp_path / "report.html"
    shutil.copy(built / "report.html", page)
    shot = tmp_path / "shot.png"
    result = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,4000", page.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    assert shot.read_bytes().startswith(PNG_MAGIC)
    from PIL import Image

    with Image.open(shot) as img:
        assert img.size == (1280, 4000)
        # a rendered report is not a blank page: many distinct colours (text, plots, tables)
        colours = img.convert("RGB").resize((320, 1000)).getcolors(maxcolors=1_000_000)
        assert colours is not None and len(colours) > 50

    dom = chromium(tmp_path, "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    for title in SECTION_TITLES:
        assert f">{title}</h2>" in dom.stdout
    # every image in the rendered DOM is an inline PNG that decodes
    srcs = re.findall(r'<img [^>]*src="([^"]+)"', dom.stdout)
    assert len(srcs) >= 3
    for src in srcs:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(PNG_MAGIC)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed (/usr/bin/chromium absent)")
def test_chromium_loads_every_image(built, tmp_path):
    """Broken images have naturalWidth 0 once the page has loaded; a script in a copy of the page reports it."""
    html = (built / "report.html").read_text()
    probe = ("<script>window.addEventListener('load',()=>{const bad=[...document.images].filter("
             "i=>!i.complete||i.naturalWidth===0).length;document.title='images:'+document.images.length+"
             "':broken:'+bad;});</script></body>")
    page = tmp_path / "probe.html"
    page.write_text(html.replace("</body>", probe))
    dom = chromium(tmp_path, "--dump-dom", "--virtual-time-budget=5000", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    match = re.search(r"<title>images:(\d+):broken:(\d+)</title>", dom.stdout)
    assert match, dom.stdout[:500]
    assert int(match.group(1)) >= 3 and int(match.group(2)) == 0


def test_verdict_and_budgets_come_first(report):
    html = render_html(report)
    positions = [html.index(f">{title}</h2>") for title in SECTION_TITLES]
    assert positions == sorted(positions) and SECTION_TITLES[:3] == ("Summary", "Budgets", "Models")
    summary = html[positions[0]:positions[1]]
    assert ("PASSED" in summary or "FAILED" in summary) and "deployable model" in summary
    assert 'alt="training loss and val top-1 per epoch"' in html and 'alt="confusion matrix of ' in html


def test_plots_can_be_left_out_for_fast_builds(report, monkeypatch):
    """EDGEKD_REPORT_PLOTS=0 (make test's tiny builds): no <img>, a line per plot saying why, tables kept."""
    monkeypatch.setenv("EDGEKD_REPORT_PLOTS", "0")
    html = render_html(report)
    assert "<img" not in html and "plot not drawn (EDGEKD_REPORT_PLOTS=0)" in html
    assert all(f">{title}</h2>" in html for title in SECTION_TITLES)
