"""The HTML export in a real headless browser (when Chromium is installed): its inline script
sorts the session table, and the page renders offline."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Run
from tests.fixtures.exports import build

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(BROWSER is None, reason="no Chromium on this machine")

QUIET = [  # nothing in the background: no updates, no sync, no first-run fetches
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
]

# Clicks the Total header twice (descending), then writes the row order into the title.
CLICK = (
    "<script>var th=[].find.call(document.querySelectorAll('#sessions th'),"
    "function(h){return h.textContent==='Total'});th.click();th.click();"
    "document.title='order:'+[].map.call(document.querySelectorAll('#sessions tbody tr'),"
    "function(r){return r.cells[0].textContent}).join(',');</script></body>"
)


def test_sorting_works_in_a_real_browser(agentwatch: Callable[..., Run], tmp_path: Path) -> None:
    tree = build(tmp_path / "logs")
    page = tmp_path / "report.html"
    res = agentwatch("report", "--format", "html", "-o", str(page), *tree.args())
    assert res.code == 0, res.err
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text().replace("</body>", CLICK))
    assert BROWSER is not None
    p = subprocess.run(
        [BROWSER, *QUIET, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", probe.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    m = re.search(r"<title>order:([^<]*)</title>", p.stdout)
    assert m is not None, p.stderr[-2000:]
    # Totals: shop 53,935; late 16,176; codex 1,050; odd 300. The total row stays last.
    assert m.group(1).split(",") == ["aaaaaaaa", "bbbbbbbb", "019c2a1e", "cccccccc", "Total"]

    shot = tmp_path / "page.png"
    p = subprocess.run(
        [
            BROWSER,
            *QUIET,
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=1400,1000",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert shot.exists(), p.stderr[-2000:]
    assert shot.stat().st_size > 10_000  # a rendered page, not a blank one
