"""Shared browser fixtures: Debian's Chromium driven by Playwright for Python, axe-core.

Import the fixtures into a test module (``from tests.browser import *``). Every test that
uses ``browser`` is skipped, with the reason, where /usr/bin/chromium or Playwright is
missing; it never fails for that. No browser is downloaded: Playwright ships its driver,
the browser is the system's (`.ci/run` installs it with apt), and axe-core comes inside
the axe-playwright-python package.

The app runs under a real HTTP server (werkzeug's, threaded) on a free loopback port,
against the test's database and clock, so that the browser sees what users see: the real
headers (CSP included), cookies, redirects and static files.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from statuspage import incidents, subscriptions, tokens
from statuspage.extensions import db
from tests.conftest import PASSWORD

CHROMIUM = os.environ.get("STATUSPAGE_TEST_CHROMIUM", "/usr/bin/chromium")
#: As the machine's own probe starts it: no sandbox (root), no GPU, and no connection
#: to anything but the page under test.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
#: The axe-core rule tags of WCAG 2.0 and 2.1, levels A and AA.
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def _why_no_browser() -> str | None:
    if not Path(CHROMIUM).exists():
        return (f"{CHROMIUM} is missing: install Debian's chromium "
                "(apt-get install chromium chromium-driver) to run the browser tests")
    try:
        import axe_playwright_python  # noqa: F401
        import playwright  # noqa: F401
    except ImportError as exc:  # pragma: no cover - the test extra installs both
        return f"Playwright or axe-playwright-python is not installed ({exc})"
    return None


NO_BROWSER = _why_no_browser()
#: Mark a module or test that needs the browser.
needs_browser = pytest.mark.skipif(NO_BROWSER is not None, reason=NO_BROWSER or "")


class _SharedBrowser:
    """One Playwright and one Chromium per test process.

    Each test module imports the ``browser`` fixture, which makes it a fixture of that
    module: several session-scoped copies, and Playwright's sync API cannot be started
    twice in one thread. They share this one, and the last to finish closes it.
    """

    users = 0
    playwright = None
    chromium = None

    @classmethod
    def acquire(cls):
        if cls.chromium is None:
            from playwright.sync_api import sync_playwright

            cls.playwright = sync_playwright().start()
            cls.chromium = cls.playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        cls.users += 1
        return cls.chromium

    @classmethod
    def release(cls):
        cls.users -= 1
        if cls.users == 0 and cls.chromium is not None:
            cls.chromium.close()
            cls.playwright.stop()
            cls.chromium = cls.playwright = None


@pytest.fixture(scope="session")
def browser():
    if NO_BROWSER:
        pytest.skip(NO_BROWSER)
    yield _SharedBrowser.acquire()
    _SharedBrowser.release()


@pytest.fixture
def live_url(app):
    """The test's app served over HTTP on a free loopback port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def new_page(browser, live_url):
    """``new_page(**context_options)``: a page in a fresh browser context (own cookies)."""
    contexts = []

    def make(**options):
        options.setdefault("base_url", live_url)
        options.setdefault("locale", "en-GB")
        options.setdefault("timezone_id", "UTC")
        context = browser.new_context(**options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.console_messages = []  # what the page logged: CSP refusals, script errors
        page.on("console", lambda msg: page.console_messages.append(msg.text))
        page.on("pageerror", lambda exc: page.console_messages.append(str(exc)))
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture
def site(app, admin, responder, components, make_incident, clock):
    """Something on every page: an open SEV-1 with two updates and a workaround, a
    resolved incident, a degraded component, a pending subscriber."""
    resolved = make_incident(responder, components[3:4], title="Charts slow to load",
                             severity="SEV-3", status="identified",
                             impact="Charts take a minute to appear.",
                             actions="We are adding capacity.")
    clock.advance(minutes=20)
    incidents.post_update(resolved, incidents.UpdateText(
        "resolved", "Charts load normally again.", "Capacity was added."),
        actor=responder, now=clock())
    clock.advance(minutes=5)
    open_one = make_incident(
        admin, components[:2], title="Login not working", severity="SEV-1",
        impact="Participants cannot sign in to the app.",
        actions="We are restarting the login service.",
        workaround="Entries saved on the phone are kept; sign in later.",
        next_update_at=clock() + timedelta(minutes=15),
        component_statuses={components[0].id: "major_outage",
                            components[1].id: "degraded_performance"})
    clock.advance(minutes=10)
    incidents.post_update(open_one, incidents.UpdateText(
        "identified", "Participants cannot sign in to the app.",
        "A faulty certificate was found and is being replaced.",
        next_update_at=clock() + timedelta(minutes=15)), actor=admin, now=clock())
    db.session.commit()
    subscriptions.subscribe("reader@example.test", "participant", now=clock())
    db.session.commit()
    subscriber = subscriptions.find_by_email("reader@example.test")
    return {
        "incident": open_one.id,
        "resolved": resolved.id,
        "component": components[0].id,
        "update": open_one.updates[0].id,
        "confirm": tokens.confirm_token(subscriber.public_id),
        "unsubscribe": tokens.unsubscribe_token(subscriber.public_id),
        "preferences": tokens.preferences_token(subscriber.public_id),
    }


# --- Checks ------------------------------------------------------------------------------


def axe_violations(page, *, rules: list[str] | None = None) -> list[dict]:
    """axe-core's violations of WCAG 2.1 A and AA on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    options: dict = {"resultTypes": ["violations"]}
    if rules:
        options["runOnly"] = {"type": "rule", "values": rules}
    else:
        options["runOnly"] = {"type": "tag", "values": WCAG_AA}
    results = Axe().run(page, options=options)
    return results.response["violations"]


def describe_violations(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']}")
        for node in v["nodes"][:5]:
            lines.append(f"    {node['target']}: {node.get('failureSummary', '')[:300]}")
    return "\n".join(lines)


def assert_accessible(page, what: str = "") -> None:
    """No axe-core violation (WCAG 2.1 A/AA) and nothing refused by the CSP."""
    violations = axe_violations(page)
    assert not violations, f"{what or page.url}:\n{describe_violations(violations)}"
    refused = [m for m in page.console_messages
               if "Content Security Policy" in m or "Refused to" in m]
    assert not refused, f"{what or page.url}: {refused}"


def horizontal_overflow(page) -> int:
    """How many CSS pixels the page is wider than the window (0: no horizontal scroll)."""
    return page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth")


#: Everything a keyboard user must be able to reach.
INTERACTIVE = ("a[href], button, input:not([type=hidden]), select, textarea, summary, "
               "[tabindex]:not([tabindex='-1'])")

_FOCUS_PROBE = """
() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const id = el.dataset.focusProbe;
  return {
    id: id === undefined ? null : id,
    tag: el.tagName.toLowerCase(),
    type: el.type || '',
    name: el.name || '',
    outlineStyle: style.outlineStyle,
    outlineWidth: parseFloat(style.outlineWidth) || 0,
    boxShadow: style.boxShadow,
    focusVisible: el.matches(':focus-visible'),
  };
}
"""

_MARK_INTERACTIVE = """
(selector) => {
  const visible = (el) => {
    const rect = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    return rect.width > 0 && rect.height > 0 && style.visibility !== 'hidden'
      && style.display !== 'none' && !el.disabled && !el.closest('[inert]');
  };
  const found = [];
  document.querySelectorAll(selector).forEach((el, i) => {
    el.dataset.focusProbe = String(i);
    if (!visible(el)) return;
    found.push({id: String(i), tag: el.tagName.toLowerCase(), type: el.type || '',
                name: el.name || '', text: (el.innerText || el.value || '').slice(0, 60)});
  });
  return found;
}
"""


def tab_through(page, *, max_steps: int = 400) -> tuple[list[dict], list[dict]]:
    """Press Tab from the top of the page until focus comes round again.

    Returns (interactive elements on the page, elements that received focus, in order).
    """
    expected = page.evaluate(_MARK_INTERACTIVE, INTERACTIVE)
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); "
                  "window.scrollTo(0, 0); }")
    reached: list[dict] = []
    seen: set[str] = set()
    for _ in range(max_steps):
        page.keyboard.press("Tab")
        info = page.evaluate(_FOCUS_PROBE)
        if info is None:  # focus left the document (browser chrome): a full round
            if reached:
                break
            continue
        key = info["id"] or f"{info['tag']}:{info['name']}"
        if reached and key == (reached[-1]["id"] or f"{reached[-1]['tag']}:"
                               f"{reached[-1]['name']}"):
            continue  # the parts of one control (a datetime-local's day, month, year...)
        if key in seen:
            break
        seen.add(key)
        reached.append(info)
    return expected, reached


def assert_keyboard_reachable_with_visible_focus(page, what: str = "") -> None:
    """Every interactive element is reached by Tab (one radio per group, as browsers
    do), and each shows a visible focus indicator (an outline or a box shadow)."""
    expected, reached = tab_through(page)
    reached_ids = {r["id"] for r in reached}
    reached_radio_groups = {r["name"] for r in reached if r["type"] == "radio"}
    missing = [
        e for e in expected
        if e["id"] not in reached_ids
        and not (e["type"] == "radio" and e["name"] in reached_radio_groups)
    ]
    assert not missing, f"{what or page.url}: not reachable by Tab: {missing}"
    invisible = [
        r for r in reached
        if not (r["outlineStyle"] != "none" and r["outlineWidth"] >= 2)
        and r["boxShadow"] in ("", "none")
    ]
    assert not invisible, f"{what or page.url}: no visible focus style on {invisible}"


def sign_in(page, email: str, password: str = PASSWORD) -> None:
    """Sign in through the real form, as a person would (keyboard and button)."""
    page.goto("/staff/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/staff/login" not in url)


def wait_for_text(page, path: str, text: str, *, timeout: float = 10.0) -> None:
    """Load ``path`` until ``text`` is on it (a cache may take a moment), within a bound."""
    deadline = time.monotonic() + timeout
    while True:
        page.goto(path)
        if text in page.inner_text("body"):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} did not appear on {path} within {timeout} s")
        page.wait_for_timeout(200)
