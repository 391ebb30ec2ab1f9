"""/badge.svg and /embed: what other sites (and the Metabolic-Tracker app) show."""

from __future__ import annotations

import pytest
from lxml import etree

from statuspage import incidents
from statuspage.extensions import db
from statuspage.public.widgets import BADGE_COLOURS, LABEL_COLOUR, URGENT_LINE, render_badge

from .conftest import soup

PUBLIC_URL = "https://status.example.test"
SVG = "{http://www.w3.org/2000/svg}"


def parse_svg(response):
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    return etree.fromstring(response.get_data())


def badge_words(root) -> list[str]:
    return [t.text for t in root.iter(SVG + "text")]


# --- Badge ------------------------------------------------------------------------------


@pytest.mark.parametrize("status,open_severity,expected", [
    (None, None, ("none", "All Systems Operational")),
    ("degraded_performance", None, ("minor", "Partially Degraded Service")),
    ("under_maintenance", None, ("maintenance", "Service Under Maintenance")),
    ("partial_outage", None, ("major", "Partial System Outage")),
    (None, "SEV-1", ("critical", "Major System Outage")),
    (None, "SEV-3", ("minor", "Minor Service Outage")),
])
def test_badge_shows_the_overall_status_in_words(client, admin, components, make_incident,
                                                 clock, status, open_severity, expected):
    if status:
        incidents.set_component_status(components[0], status, actor=admin, now=clock())
        db.session.commit()
    if open_severity:
        make_incident(admin, components[:1], severity=open_severity)
    response = client.get("/badge.svg")
    root = parse_svg(response)
    indicator, description = expected
    name = f"Metabolic-Tracker status: {description}"
    assert root.get("role") == "img"
    assert root.get("aria-label") == name
    assert root.find(SVG + "title").text == name
    assert badge_words(root) == ["Metabolic-Tracker", description]
    fills = [r.get("fill") for r in root.iter(SVG + "rect")]
    assert fills == [LABEL_COLOUR, BADGE_COLOURS[indicator]]
    assert "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"].startswith("public")
    # Same JSON status as the API, so the two never disagree.
    assert client.get("/api/v2/status.json").get_json()["status"]["description"] == description


def test_badge_colours_are_distinct_and_readable():
    def luminance(hex_colour):
        def channel(c):
            c = int(c, 16) / 255
            return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
        r, g, b = hex_colour[1:3], hex_colour[3:5], hex_colour[5:7]
        return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)

    assert len(set(BADGE_COLOURS.values())) == len(BADGE_COLOURS)
    for colour in [*BADGE_COLOURS.values(), LABEL_COLOUR]:
        # White text on each: WCAG AA for normal text is 4.5:1.
        assert 1.05 / (luminance(colour) + 0.05) >= 4.5, colour


def test_badge_boxes_grow_with_the_words():
    short = etree.fromstring(render_badge("X", "none", "All Systems Operational"))
    long = etree.fromstring(render_badge("Metabolic-Tracker", "none",
                                         "All Systems Operational"))
    assert int(long.get("width")) > int(short.get("width"))
    texts = list(long.iter(SVG + "text"))
    rects = list(long.iter(SVG + "rect"))
    # Each word sits inside its own box.
    assert float(texts[0].get("x")) < float(rects[1].get("x")) < float(texts[1].get("x"))


# --- Embed ------------------------------------------------------------------------------


def test_embed_when_all_is_well(client, components):
    response = client.get("/embed")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = soup(response)
    assert "All Systems Operational" in page.get_text()
    assert page.select("ul.embed-incidents") == []
    assert URGENT_LINE not in page.get_text()
    assert page.select("script") == []
    assert "Set-Cookie" not in response.headers


def test_embed_lists_open_incidents_linking_to_their_pages(client, admin, components,
                                                          make_incident, clock):
    resolved = make_incident(admin, components[1:2], title="Charts blank", severity="SEV-3")
    clock.advance(minutes=1)
    incidents.post_update(
        resolved, incidents.UpdateText(status="resolved", impact="Fixed.", actions="Done."),
        actor=admin, now=clock())
    db.session.commit()
    login = make_incident(admin, components[:1], title="Login not working", severity="SEV-2")
    photos = make_incident(admin, components[3:4], title="Food photos fail", severity="SEV-3",
                           status="identified")

    response = client.get("/embed")
    page = soup(response)
    assert page.select_one(".embed-description").get_text(strip=True) == "Partial System Outage"
    items = page.select("ul.embed-incidents li")
    assert [li.a.get_text(strip=True) for li in items] == ["Food photos fail",
                                                           "Login not working"]
    assert [li.a["href"] for li in items] == [f"{PUBLIC_URL}/incidents/{photos.id}",
                                             f"{PUBLIC_URL}/incidents/{login.id}"]
    assert all(a.get("target") == "_top" for a in page.select("a[href]"))
    assert "(Identified)" in items[0].get_text()
    assert "Charts blank" not in page.get_text()
    assert URGENT_LINE in page.get_text()
    assert page.select("script") == [] and page.select("[style]") == []


def test_embed_may_be_framed_anywhere_and_runs_no_script(client):
    response = client.get("/embed")
    assert "X-Frame-Options" not in response.headers
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors *" in csp
    assert "script-src" not in csp and "default-src 'none'" in csp  # no script at all
    stylesheet = soup(response).select_one('link[rel="stylesheet"]')["href"]
    css = client.get(stylesheet)
    assert css.status_code == 200 and css.mimetype == "text/css"
    assert ".embed-box" in css.get_data(as_text=True)


def test_other_pages_still_refuse_framing(client):
    response = client.get("/api/v2/status.json")
    assert "frame-ancestors *" not in response.headers.get("Content-Security-Policy", "")
