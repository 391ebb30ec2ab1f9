"""The subscribe form in real Chromium (issue 23, point 7, and the words of point 6), at
375 px and 1280 px, light and dark: each feature checkbox (and each radio button) on a
line of its own beside its own label, drawn at least 24 x 24 CSS px; "I am a" starts with
nothing chosen and says it is required; sent without it, a clear error and no 500; the
list of what a subscriber gets is on the page; nothing scrolls sideways; axe finds
nothing. A screenshot of each is saved (``I23_SCREENSHOTS``, else the test's tmp_path)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser import (  # noqa: F401  (fixtures)
    assert_accessible,
    browser,
    horizontal_overflow,
    live_url,
    needs_browser,
    new_page,
)

pytestmark = [pytest.mark.browser, needs_browser]

PHONE = {"width": 375, "height": 667}
DESKTOP = {"width": 1280, "height": 800}

#: Each choice's input and the label's text, as the browser laid them out.
_CHOICES = """
(selector) => [...document.querySelectorAll(selector)].map((input) => {
  const label = input.closest('label');
  // The label's words: its text, wherever it is (a span, or text beside the input).
  const words = [...label.childNodes].filter((n) => n !== input && n.textContent.trim());
  const range = document.createRange();
  range.setStartBefore(words[0]);
  range.setEndAfter(words[words.length - 1]);
  const box = (el) => { const r = el.getBoundingClientRect();
                        return {left: r.left, right: r.right, top: r.top, bottom: r.bottom,
                                width: r.width, height: r.height}; };
  return {name: range.toString().trim(), forMatches: !label.htmlFor || label.htmlFor === input.id,
          input: box(input), label: box(label), text: box(range)};
})
"""


def _shots(tmp_path) -> Path:
    where = Path(os.environ.get("I23_SCREENSHOTS") or tmp_path)
    where.mkdir(parents=True, exist_ok=True)
    return where


def _assert_each_on_its_own_line_beside_its_label(choices: list[dict], what: str) -> None:
    assert choices, what
    for c in choices:
        i, t = c["input"], c["text"]
        assert c["forMatches"], (what, c["name"])
        assert i["width"] >= 24 and i["height"] >= 24, (what, c["name"], i)
        # Beside its own label's text: on the same line, just to its right.
        middle = (t["top"] + t["bottom"]) / 2
        assert i["top"] <= middle <= i["bottom"], (what, c["name"], i, t)
        assert 0 <= t["left"] - i["right"] <= 24, (what, c["name"], i, t)
    for above, below in zip(choices, choices[1:]):
        # One per line: the next starts below this one, at the same left edge.
        assert below["label"]["top"] >= above["label"]["bottom"] - 0.5, (what, above, below)
        assert abs(below["input"]["left"] - above["input"]["left"]) < 1, (what, above, below)


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["375px", "1280px"])
def test_the_subscribe_form_in_the_browser(app, components, new_page, viewport, scheme,
                                           tmp_path):
    page = new_page(viewport=viewport, color_scheme=scheme)
    response = page.goto("/subscribe")
    assert response is not None and response.status == 200
    what = f"/subscribe at {viewport['width']}px ({scheme})"
    assert horizontal_overflow(page) <= 0, what
    features = page.evaluate(_CHOICES, "input[name=components]")
    assert [c["name"] for c in features] == [c.name for c in components]
    _assert_each_on_its_own_line_beside_its_label(features, what)
    for name in ("audience", "scope"):
        _assert_each_on_its_own_line_beside_its_label(
            page.evaluate(_CHOICES, f"input[name={name}]"), f"{what}: {name}")
    # "I am a": nothing chosen, and the page says it is required before anything is sent.
    group = page.get_by_role("group", name="I am a")
    assert "(required)" in group.locator("legend").inner_text()
    assert not page.get_by_role("radio", name="Participant").is_checked()
    assert not page.get_by_role("radio", name="Coach").is_checked()
    assert page.locator(".what-you-get li").count() == 3
    assert_accessible(page, what)
    page.screenshot(path=str(_shots(tmp_path) / f"subscribe-{viewport['width']}-{scheme}.png"),
                    full_page=True)

    # Sent without "I am a": the form again, with a clear error; nothing else lost.
    page.get_by_label("Email address").fill("pat@example.test")
    page.get_by_role("checkbox", name=components[1].name).check()
    with page.expect_response(lambda r: r.request.method == "POST") as sent:
        page.get_by_role("button", name="Subscribe").click()
    assert sent.value.status == 400
    assert page.locator("#audience-error").inner_text() == "Choose participant or coach."
    assert page.get_by_role("alert").filter(has_text="Choose participant or coach.") \
        .is_visible()
    assert page.get_by_label("Email address").input_value() == "pat@example.test"
    assert page.get_by_role("checkbox", name=components[1].name).is_checked()
    assert horizontal_overflow(page) <= 0, what
    assert_accessible(page, f"{what}, with the error")
    page.screenshot(
        path=str(_shots(tmp_path) / f"subscribe-{viewport['width']}-{scheme}-error.png"),
        full_page=True)
    page.get_by_role("radio", name="Participant").check()
    page.get_by_role("button", name="Subscribe").click()
    page.wait_for_url("**/subscribe/check-inbox")
