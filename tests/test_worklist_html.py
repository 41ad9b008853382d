"""report.html in real headless Chromium (Debian's `chromium`): renders without console errors, one card per CSV
row in the same order, the filter and search work, and the per-care-team split above the card limit."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser

import pytest

from tests.test_worklist_support import read_csv, run_once

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def chromium(url: str, *extra: str) -> tuple[str, str]:
    """Run headless Chromium on `url`; returns (DOM after scripts ran, stderr with the console log)."""
    if CHROMIUM is None:
        pytest.fail("Debian's chromium is needed (apt-get install -y chromium; .ci/run installs it)")
    p = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-extensions",
                        "--no-first-run", "--enable-logging=stderr", "--v=0", *(extra or ("--dump-dom",)), url],
                       capture_output=True, text=True, timeout=90)
    assert p.returncode == 0, p.stderr[-2000:]
    return p.stdout, p.stderr


def console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


class Cards(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.cards: list[dict] = []
        self.body: dict = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "article" and "card" in (a.get("class") or ""):
            self.cards.append(a)
        if tag == "body":
            self.body = a


def parse(dom: str) -> Cards:
    c = Cards()
    c.feed(dom)
    return c


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("html")
    run_once(tmp, 1)
    return tmp / "out"


def test_renders_without_console_errors_and_cards_match_csv(report):
    html = (report / "report.html").read_text()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)   # self-contained: nothing fetched
    dom, err = chromium((report / "report.html").as_uri())
    assert console_messages(err) == []
    cards = parse(dom).cards
    rows = read_csv(report / "worklist.csv")
    assert [c["data-patient"] for c in cards] == [r["patient_id"] for r in rows]
    assert [(c["data-priority"], c["data-status"], c["data-team"]) for c in cards] == \
        [(r["priority"], r["status"], r["care_team"]) for r in rows]
    assert parse(dom).body["data-shown"] == str(len(rows))
    assert "<svg" in dom and "HYPERLINK" in dom and "<script>console" not in dom
    assert "period 2025-01-01 – ongoing, dose 1 TAB" in dom          # medication exposure in the timeline


def test_search_and_filters_work_in_the_browser(report):
    rows = read_csv(report / "worklist.csv")
    dom, err = chromium((report / "report.html").as_uri() + "?q=famcont")
    assert console_messages(err) == []
    doc = parse(dom)
    visible = [c["data-patient"] for c in doc.cards if "hidden" not in c["class"].split()]
    assert visible == ["wl-cont"] and doc.body["data-shown"] == "1"
    dom, _ = chromium((report / "report.html").as_uri() + "?priority=medium")
    doc = parse(dom)
    visible = {c["data-patient"] for c in doc.cards if "hidden" not in c["class"].split()}
    assert visible == {r["patient_id"] for r in rows if r["priority"] == "medium"}


def test_screenshot(report, tmp_path):
    shot = tmp_path / "report.png"
    chromium((report / "report.html").as_uri(), f"--screenshot={shot}", "--window-size=1280,1000",
             "--hide-scrollbars")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


def test_one_page_per_care_team_above_the_limit(tmp_path):
    run_once(tmp_path, 1, max_cards=3)
    out = tmp_path / "out"
    rows = read_csv(out / "worklist.csv")
    pages = sorted((out / "report").glob("team-*.html"))
    assert len(pages) == len({r["care_team"] for r in rows})
    dom, err = chromium((out / "report" / "index.html").as_uri())
    assert console_messages(err) == [] and parse(dom).cards == []
    assert all(f'href="{p.name}"' in dom for p in pages)
    dom, err = chromium(pages[0].as_uri())  # one team page in the browser; the cards are in the file itself
    assert console_messages(err) == [] and parse(dom).cards == parse(pages[0].read_text()).cards
    seen = [c["data-patient"] for p in pages for c in parse(p.read_text()).cards]
    assert sorted(seen) == sorted(r["patient_id"] for r in rows)
