"""The HTML summary in a real browser (headless Chromium): rows, filter, screenshot."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None and os.environ.get("CI") != "true", reason="chromium not installed (the test command installs it)"
)


def browser(*args: str, tmp: Path) -> subprocess.CompletedProcess:
    assert CHROMIUM, "chromium missing under CI=true"
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp / 'profile'}", "--virtual-time-budget=2000",
    ]
    return subprocess.run([CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "out"
    result = subprocess.run([sys.executable, "-m", "pipeline", "demo", "--out", str(out)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return out / "summary.html"


def visible_rows(dom: str) -> list[str]:
    body = dom.split('<table id="applicants">', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr class=\"[a-z_]+\"( style=\"display: none;\")?>", body)
    return [r for r in rows if not r]


def test_one_row_per_applicant_and_the_filter_works(page, tmp_path):
    dom = browser("--dump-dom", page.as_uri(), tmp=tmp_path).stdout
    assert len(visible_rows(dom)) == 6
    filtered = browser("--dump-dom", page.as_uri() + "#q=" + urllib.parse.quote("逾期"), tmp=tmp_path).stdout
    assert len(visible_rows(filtered)) == 1


def test_each_status_filter_finds_its_header_count(page, tmp_path):
    """Staff bookmark summary.html#q=需补正: it must show as many rows as the header says."""
    from pipeline.summary import STATUS_ZH

    html = page.read_text(encoding="utf-8")
    counts = {label: int(re.search(rf"<span>{label} (\d+) [个位]</span>", html).group(1)) for label in STATUS_ZH.values()}
    assert sum(counts.values()) == 6 and counts["逾期"] == 1
    for label, n in counts.items():
        dom = browser("--dump-dom", page.as_uri() + "#q=" + urllib.parse.quote(label), tmp=tmp_path).stdout
        assert len(visible_rows(dom)) == n, label


def test_screenshot(page, tmp_path):
    shot = tmp_path / "summary.png"
    browser(f"--screenshot={shot}", "--window-size=1400,1000", page.as_uri(), tmp=tmp_path)
    assert shot.exists() and shot.stat().st_size > 10_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bank_accounts_are_masked(page):
    from pipeline.samples.apps import sample_applications

    html = page.read_text(encoding="utf-8")
    accounts = [a.account_number for a in sample_applications() if a.account_number]
    assert accounts and not any(number in html for number in accounts)
    assert f"****{accounts[0][-4:]}" in html


def test_links_work_from_a_copied_folder(page, tmp_path):
    import shutil
    import urllib.parse

    stick = tmp_path / "usb"
    shutil.copytree(page.parent, stick, ignore=shutil.ignore_patterns("storage"))
    html = (stick / "summary.html").read_text(encoding="utf-8")
    hrefs = re.findall(r'href="([^"]+)"', html)
    assert hrefs and all(not h.startswith(("file:", "/")) for h in hrefs)
    for href in hrefs:
        assert (stick / urllib.parse.unquote(href)).is_file(), href
