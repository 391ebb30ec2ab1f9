"""The public page in a real browser (Debian's chromium, headless): times in the reader's zone.

The server writes every time in UTC (readers without script see that, checked in
test_public.py); static/js/localtime.js rewrites each <time> into the browser's own zone,
under the page's real Content-Security-Policy. Skipped where chromium is not installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import timedelta

import pytest
from bs4 import BeautifulSoup

from tests.browser import live_url  # noqa: F401,F811  (a fixture, shared)
from tests.conftest import T0

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = [
    pytest.mark.process,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed"),
]




def rendered_dom_and_console(url: str, tz: str) -> tuple[BeautifulSoup, str]:
    """The DOM after the page's scripts ran, in a browser living in time zone ``tz``,
    and what the browser logged (its console, CSP refusals included)."""
    env = dict(os.environ, TZ=tz, LANG="en_GB.UTF-8", LC_ALL="en_GB.UTF-8")
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--no-first-run", "--lang=en-GB",
         "--enable-logging=stderr", "--v=0", "--dump-dom", url],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    console = "\n".join(line for line in result.stderr.splitlines() if ":CONSOLE" in line)
    return BeautifulSoup(result.stdout, "html.parser"), console


def test_times_are_shown_in_the_readers_zone(live_url, admin, components, make_incident):
    incident = make_incident(admin, components[:1], next_update_at=T0 + timedelta(minutes=30))
    page, _ = rendered_dom_and_console(f"{live_url}/incidents/{incident.id}",
                                       "Asia/Tokyo")  # UTC+9, no DST

    started = page.select_one(".incident-meta time")
    assert started["datetime"] == "2026-11-26T12:00:00Z"
    assert started.get("data-localised") == "1", "localtime.js did not run"
    assert "21:00" in started.get_text() or "9:00" in started.get_text()
    assert "UTC" not in started.get_text()
    # The UTC reading stays one hover away.
    assert started["title"] == "2026-11-26 12:00 UTC"

    next_update = page.select_one("dl.fields time")
    assert next_update["datetime"] == "2026-11-26T12:30:00Z"
    assert "21:30" in next_update.get_text() or "9:30" in next_update.get_text()
    # Every time on the page was rewritten, none left behind.
    assert all(t.get("data-localised") == "1" for t in page.select("time[datetime]"))


def test_pages_break_no_content_security_rule(live_url, client, admin, components,
                                              make_incident):
    """No inline script or style: the browser refuses nothing under the page's CSP."""
    incident = make_incident(admin, components[:1])
    for path in ("/", f"/incidents/{incident.id}", "/history"):
        csp = client.get(path).headers.get("Content-Security-Policy", "")
        assert "script-src 'self'" in csp and "style-src 'self'" in csp
        page, console = rendered_dom_and_console(live_url + path, "UTC")
        assert page.select_one("main#main") is not None
        assert "Refused to" not in console, console
        assert "Content Security Policy" not in console, console
