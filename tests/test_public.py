"""The public pages, as a reader sees them: /, /incidents/<id>, /history.

Data is made through the incident domain, as the staff forms do; pages are read through
the test client and BeautifulSoup.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from bs4 import BeautifulSoup

from statuspage import incidents, queries
from statuspage.extensions import db
from statuspage.models import Component
from tests.conftest import T0, soup, counting_selects

HEALTH_LINE = ("If you have urgent health concerns, please contact your healthcare "
               "provider directly.")


# --- Helpers -----------------------------------------------------------------------------


def post(incident, actor, now, status, impact="Still looking.", actions="Working on it.",
         **fields):
    update = incidents.post_update(
        incident,
        incidents.UpdateText(status=status, impact=impact, actions=actions, **fields),
        actor=actor, now=now,
    )
    db.session.commit()
    return update


def fields_of(li) -> dict:
    """The template fields of one timeline entry: label -> the <dd> element."""
    return {div.dt.get_text(strip=True): div.dd for div in li.select("dl.fields > div")}


def timeline(container) -> list[dict]:
    return [fields_of(li) for li in container.select("ol.timeline > li")]


def head_of(update) -> tuple[str, str]:
    """An update's compact head: (status in words, the <time>'s UTC instant)."""
    head = update.select_one(".update-head")
    return head.select_one(".status-word").get_text(), head.time["datetime"]


def seen_text(element) -> str:
    """What a sighted reader sees (screen-reader-only words left out)."""
    copy = BeautifulSoup(str(element), "html.parser")
    for hidden in copy.select(".visually-hidden"):
        hidden.decompose()
    return copy.get_text()


def latest_of(article):
    """The one update an incident shows on the front page and in the history."""
    shown = article.select(".update")
    assert len(shown) == 1, f"{len(shown)} updates shown"
    return shown[0]


def incident_article(page, incident):
    article = page.select_one(f"article#incident-{incident.id}")
    assert article is not None, f"incident {incident.id} is not on the page"
    return article


def utc_iso(dt) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_text(dt) -> str:
    return dt.strftime("%Y-%m-%d %H:%M UTC")


def assert_time(dd, dt):
    """A <time> with the UTC instant for script, and UTC text for readers without it."""
    tag = dd.find("time")
    assert tag is not None, dd
    assert tag["datetime"] == utc_iso(dt)
    assert tag.get_text() == utc_text(dt)


def banner(page) -> str:
    return page.select_one("section.banner h1").get_text(" ", strip=True).split(": ", 1)[1]


def section(page, heading_id):
    return page.select_one(f"section[aria-labelledby={heading_id}]")


@pytest.fixture
def posted(admin, components, make_incident, clock):
    """A SEV-2 with two updates; the second changes a component and promises a next one."""
    incident = make_incident(
        admin, components[:2], title="Login not working", severity="SEV-2",
        impact="Users cannot sign in.\nThe app shows <b>Error 500</b> & a blank screen.",
        actions="We are investigating.",
    )
    clock.advance(minutes=20)
    second = post(
        incident, admin, clock(), "identified",
        impact="Sign-in fails for about half of the participants.",
        actions="We found a bad configuration.\nA fix is being deployed.",
        workaround="Stay signed in on the app; entries made offline are kept.",
        next_update_at=clock() + timedelta(minutes=30),
        component_statuses={components[0].id: "major_outage"},
    )
    return incident, second


# --- The front page: what was posted -------------------------------------------------------


def test_front_page_shows_the_latest_update_compactly(client, posted, components):
    incident, second = posted
    page = soup(client.get("/"))
    article = incident_article(page, incident)

    title = article.select_one("h3 a")
    assert title.get_text() == "Login not working"
    assert title["href"] == f"/incidents/{incident.id}"
    assert "High impact" in article.select_one(".incident-meta").get_text()
    assert article.select_one(".affected").get_text() == "Affected: Login, Saving entries"

    # One update, the latest: its status and time, then only the fields that say something.
    latest = latest_of(article)
    assert head_of(latest) == ("Identified", utc_iso(T0 + timedelta(minutes=20)))
    fields = fields_of(latest)
    assert list(fields) == ["Impact", "Actions", "Workaround", "Next update", "Components"]
    assert fields["Impact"].get_text() == "Sign-in fails for about half of the participants."
    assert fields["Actions"].get_text() == (
        "We found a bad configuration.\nA fix is being deployed."
    )
    assert len(fields["Actions"].find_all("br")) == 1
    assert fields["Workaround"].get_text() == (
        "Stay signed in on the app; entries made offline are kept."
    )
    assert_time(fields["Next update"], T0 + timedelta(minutes=50))
    assert fields["Components"].get_text(" ", strip=True) == "Login: Operational → Major Outage"
    # The title once (the heading), the first update only on the incident's own page.
    assert seen_text(article).count("Login not working") == 1
    assert "We are investigating." not in article.get_text()
    more = article.select_one(".full-timeline a")
    assert more["href"] == f"/incidents/{incident.id}"
    assert more.get_text().startswith("All 2 updates")


def test_incident_page_shows_every_update_in_the_same_compact_form(client, posted):
    incident, _ = posted
    page = soup(client.get(f"/incidents/{incident.id}"))
    newest, oldest = page.select("ol.timeline > li")
    assert head_of(newest) == ("Identified", utc_iso(T0 + timedelta(minutes=20)))
    assert head_of(oldest) == ("Investigating", utc_iso(T0))
    fields = fields_of(oldest)
    # Nothing said for what was not posted: no workaround, no next update.
    assert list(fields) == ["Impact", "Actions"]
    # Plain text: line breaks kept, markup shown as typed, never interpreted.
    assert fields["Impact"].get_text() == (
        "Users cannot sign in.\nThe app shows <b>Error 500</b> & a blank screen."
    )
    assert fields["Impact"].find("b") is None
    body = page.select_one("main").get_text()
    for filler in ("None available", "Not scheduled", "None (resolved)", "Issue"):
        assert filler not in body


def test_timeline_is_newest_first_however_long(client, admin, components, make_incident, clock):
    incident = make_incident(admin, components[:1], actions="Update 0")
    for n, status in enumerate(["investigating", "identified", "monitoring", "monitoring"], 1):
        clock.advance(minutes=15)
        post(incident, admin, clock(), status, actions=f"Update {n}")
    entries = timeline(incident_article(soup(client.get(f"/incidents/{incident.id}")),
                                        incident))
    assert [e["Actions"].get_text() for e in entries] == [
        "Update 4", "Update 3", "Update 2", "Update 1", "Update 0"
    ]
    front = incident_article(soup(client.get("/")), incident)
    assert fields_of(latest_of(front))["Actions"].get_text() == "Update 4"


def test_open_incidents_gravest_first_then_by_start(client, admin, components, make_incident,
                                                    clock):
    made = []
    for title, severity in [("Cosmetic glitch", "SEV-4"), ("Reports slow", "SEV-3"),
                            ("Login not working", "SEV-1"), ("Photos failing", "SEV-3"),
                            ("Saving fails", "SEV-2")]:
        incident = make_incident(admin, components[:1], title=title, severity=severity)
        for _ in range(3):  # each has several updates; the page shows one
            clock.advance(minutes=5)
            post(incident, admin, clock(), "identified")
        made.append(incident)
    current = section(soup(client.get("/")), "current-heading")
    articles = current.select("article")
    assert [a.select_one("h3 a").get_text() for a in articles] == [
        "Login not working", "Saving fails", "Reports slow", "Photos failing",
        "Cosmetic glitch"]
    assert [a.select_one(".incident-meta .badge").get_text() for a in articles] == [
        "Critical impact", "High impact", "Medium impact", "Medium impact", "Low impact"]
    for article in articles:
        assert len(article.select(".update")) == 1
        assert head_of(latest_of(article))[0] == "Identified"


def test_resolved_update_says_no_next_update(client, posted, admin, clock):
    incident, _ = posted
    clock.advance(minutes=30)
    post(incident, admin, clock(), "resolved", impact="Everyone can sign in again.",
         actions="The configuration was fixed.")
    page = soup(client.get(f"/incidents/{incident.id}"))
    newest = page.select_one("ol.timeline > li")
    assert head_of(newest)[0] == "Resolved"
    fields = fields_of(newest)
    assert "Next update" not in fields
    assert "None (resolved)" not in newest.get_text()
    # Resolving set the affected components back to operational, and says so.
    assert "Login: Major Outage → Operational" in fields["Components"].get_text(" ", strip=True)
    meta = page.select_one(".incident-meta").get_text(" ", strip=True)
    assert "Resolved" in meta and "Lasted 50 minutes" in meta


def test_redacted_update_shows_redacted(client, posted, admin, clock):
    incident, second = posted
    clock.advance(minutes=1)
    incidents.redact_update(second, actor=admin, now=clock())
    db.session.commit()
    for path in ("/", f"/incidents/{incident.id}", "/history"):
        body = client.get(path).get_data(as_text=True)
        assert "half of the participants" not in body
        assert "bad configuration" not in body
        article = incident_article(soup(client.get(path)), incident)
        newest = fields_of(article.select(".update")[0])
        assert newest["Impact"].get_text() == "[redacted]"
        assert newest["Actions"].get_text() == "[redacted]"
        assert newest["Workaround"].get_text() == "[redacted]"
        assert "removed by the team" in body


# --- The overall status and the components -------------------------------------------------


@pytest.mark.parametrize(
    "component_status, severity, words, tone",
    [
        (None, None, "All Systems Operational", "none"),
        ("major_outage", None, "Major System Outage", "critical"),
        (None, "SEV-1", "Major System Outage", "critical"),
        ("partial_outage", None, "Partial System Outage", "major"),
        (None, "SEV-2", "Partial System Outage", "major"),
        (None, "SEV-3", "Minor Service Outage", "minor"),
        (None, "SEV-4", "Minor Service Outage", "minor"),
        ("degraded_performance", None, "Partially Degraded Service", "minor"),
        ("under_maintenance", None, "Service Under Maintenance", "maintenance"),
        ("degraded_performance", "SEV-4", "Minor Service Outage", "minor"),
        ("under_maintenance", "SEV-2", "Partial System Outage", "major"),
        ("major_outage", "SEV-3", "Major System Outage", "critical"),
    ],
)
def test_banner_follows_the_overall_status_table(
    client, admin, components, make_incident, clock, component_status, severity, words, tone
):
    if component_status:
        incidents.set_component_status(components[2], component_status, actor=admin, now=clock())
        db.session.commit()
    if severity:
        make_incident(admin, components[3:4], severity=severity)
    page = soup(client.get("/"))
    assert banner(page) == words
    box = page.select_one("section.banner")
    assert f"tone-{tone}" in box["class"]
    assert box.select_one("svg.icon[aria-hidden=true]") is not None  # a shape, not only colour
    assert page.title.get_text().startswith(words)


def test_components_show_their_status_in_words(client, admin, components, clock):
    wanted = ["operational", "degraded_performance", "partial_outage", "major_outage",
              "under_maintenance"]
    for component, status in zip(components, wanted):
        incidents.set_component_status(component, status, actor=admin, now=clock())
    db.session.commit()
    rows = section(soup(client.get("/")), "components-heading").select("li.component-row")
    shown = [(r.select_one(".component-name").get_text(),
              r.select_one(".component-status").get_text(strip=True)) for r in rows]
    assert shown == [
        ("Login", "Operational"),
        ("Saving entries", "Degraded Performance"),
        ("Charts & dashboards", "Partial Outage"),
        ("Food photo analysis", "Major Outage"),
        ("Report generation", "Under Maintenance"),
    ]
    # Each status also has its own shape, so colour is never the only signal.
    shapes = {str(r.select_one(".component-status svg")) for r in rows}
    assert len(shapes) == 5


def test_components_are_grouped_and_ordered_by_position(client, clock):
    def add(name, position, group=None):
        db.session.add(Component(name=name, position=position, group_name=group,
                                 status="operational", created_at=clock(),
                                 updated_at=clock()))

    add("Website", 5)
    add("iPhone app", 2, "Mobile apps")
    add("Login", 1)
    add("Android app", 3, "Mobile apps")
    add("Reports", 4)
    add("Tablet app", 6, "Mobile apps")  # joins its group, after a component outside it
    db.session.commit()
    listing = section(soup(client.get("/")), "components-heading").select_one("ul.component-list")
    top = []
    for li in listing.find_all("li", recursive=False):
        if "component-group" in li["class"]:
            members = [n.get_text() for n in li.select("ul.nested .component-name")]
            top.append((li.select_one("h3").get_text(), members))
        else:
            top.append(li.select_one(".component-name").get_text())
    assert top == ["Login", ("Mobile apps", ["iPhone app", "Android app", "Tablet app"]),
                   "Reports", "Website"]


def test_no_components_yet(client):
    page = soup(client.get("/"))
    assert banner(page) == "All Systems Operational"
    assert "No components are listed yet." in page.get_text()
    assert "Last updated never" in page.select_one(".last-updated").get_text(" ", strip=True)


# --- During an incident, and after -----------------------------------------------------------


def test_health_line_only_during_an_incident(client, admin, components, make_incident, clock):
    assert HEALTH_LINE not in soup(client.get("/")).get_text()
    incident = make_incident(admin, components[:1], severity="SEV-4")
    for path in ("/", f"/incidents/{incident.id}"):
        notice = soup(client.get(path)).select_one(".health-notice")
        assert notice is not None and notice.get_text(strip=True) == HEALTH_LINE
    clock.advance(minutes=5)
    post(incident, admin, clock(), "resolved")
    for path in ("/", f"/incidents/{incident.id}", "/history"):
        assert HEALTH_LINE not in soup(client.get(path)).get_text()


def test_resolved_incidents_stay_on_the_front_page_for_seven_days(
    client, admin, components, make_incident, clock
):
    incident = make_incident(admin, components[:1], title="Charts were slow")
    clock.advance(hours=1)
    post(incident, admin, clock(), "resolved", impact="Charts load normally again.")
    resolved_at = clock()

    page = soup(client.get("/"))
    assert section(page, "current-heading") is None
    recent = section(page, "recent-heading")
    article = incident_article(recent, incident)
    assert article.select_one("h3 a")["href"] == f"/incidents/{incident.id}"
    # Its latest update only; the rest is one link away.
    assert head_of(latest_of(article))[0] == "Resolved"
    assert article.select_one(".full-timeline a")["href"] == f"/incidents/{incident.id}"
    assert banner(page) == "All Systems Operational"

    clock.set(resolved_at + timedelta(days=7) - timedelta(minutes=1))
    assert "Charts were slow" in section(soup(client.get("/")), "recent-heading").get_text()

    clock.set(resolved_at + timedelta(days=7, minutes=1))
    recent = section(soup(client.get("/")), "recent-heading")
    assert "Charts were slow" not in recent.get_text()
    assert "No incidents were resolved in the last 7 days." in recent.get_text()
    # Gone from the front page, never from the record.
    assert "Charts were slow" in soup(client.get("/history")).get_text()
    assert client.get(f"/incidents/{incident.id}").status_code == 200


def test_recent_window_follows_config(app, client, admin, components, make_incident, clock):
    app.config["RECENT_DAYS"] = 2
    incident = make_incident(admin, components[:1], title="Short window")
    post(incident, admin, clock(), "resolved")
    clock.advance(days=3)
    recent = section(soup(client.get("/")), "recent-heading")
    assert recent.h2.get_text() == "Resolved in the last 2 days"
    assert "Short window" not in recent.get_text()


def test_last_updated_is_the_newest_change(client, admin, components, make_incident, clock):
    def last_updated():
        return soup(client.get("/")).select_one(".last-updated time")["datetime"]

    assert last_updated() == utc_iso(T0)  # the components were seeded at T0
    clock.advance(hours=1)
    incidents.set_component_status(components[1], "degraded_performance", actor=admin,
                                   now=clock())
    db.session.commit()
    assert last_updated() == utc_iso(T0 + timedelta(hours=1))
    clock.advance(minutes=30)
    incident = make_incident(admin, components[:1])
    assert last_updated() == utc_iso(T0 + timedelta(hours=1, minutes=30))
    clock.advance(minutes=10)
    post(incident, admin, clock(), "identified")
    assert last_updated() == utc_iso(T0 + timedelta(hours=1, minutes=40))
    clock.advance(hours=2)  # time passing alone changes nothing
    assert last_updated() == utc_iso(T0 + timedelta(hours=1, minutes=40))


# --- The incident page ---------------------------------------------------------------------


def test_incident_page_is_the_permalink(client, posted):
    incident, _ = posted
    response = client.get(f"/incidents/{incident.id}")
    assert response.status_code == 200
    page = soup(response)
    assert page.h1.get_text() == "Login not working"
    assert page.title.get_text().startswith("Login not working")
    meta = page.select_one(".incident-meta").get_text(" ", strip=True)
    assert "High impact" in meta and "Identified" in meta
    assert_time(page.select_one(".incident-meta"), T0)  # started
    entries = page.select("ol.timeline > li")
    assert [head_of(e)[0] for e in entries] == ["Identified", "Investigating"]
    assert fields_of(entries[1])["Actions"].get_text() == "We are investigating."


@pytest.mark.parametrize("path", [
    "/incidents/999", "/incidents/0", "/incidents/abc", "/incidents/1.5", "/incidents/-1",
    "/incidents/99999999999999999999999", "/incidents/%00", "/incidents/",
])
def test_unknown_incident_is_not_found(client, posted, path):
    response = client.get(path)
    assert response.status_code == 404
    page = soup(response)
    assert page.h1.get_text() == "Not found"
    assert page.select_one("a[href='/']") is not None


# --- History ----------------------------------------------------------------------------------


@pytest.fixture
def five_incidents(admin, components, make_incident, clock):
    made = []
    for n in range(5):
        incident = make_incident(admin, components[:1], title=f"Incident {n}",
                                 actions=f"First update of {n}")
        clock.advance(minutes=10)
        if n < 4:  # the newest stays open
            post(incident, admin, clock(), "resolved", actions=f"Fixed {n}")
        clock.advance(hours=1)
        made.append(incident)
    return made


def history_titles(response) -> list[str]:
    return [a.get_text() for a in soup(response).select("ol.history-list article h3 a")]


def test_history_lists_every_incident_newest_first(app, client, five_incidents):
    response = client.get("/history")
    assert response.status_code == 200
    assert history_titles(response) == [f"Incident {n}" for n in (4, 3, 2, 1, 0)]
    page = soup(response)
    newest, older = page.select("ol.history-list article")[:2]
    # The open one is there, marked by its status.
    assert head_of(latest_of(newest))[0] == "Investigating"
    # Each shows its latest update exactly as posted, and links to the whole timeline.
    assert head_of(latest_of(older))[0] == "Resolved"
    assert fields_of(latest_of(older))["Actions"].get_text() == "Fixed 3"
    assert seen_text(older).count("Incident 3") == 1  # the title once
    assert older.select_one("h3 a")["href"] == f"/incidents/{five_incidents[3].id}"
    more = [a for a in older.select("a") if a.get_text().startswith("All 2 updates")]
    assert [a["href"] for a in more] == [f"/incidents/{five_incidents[3].id}"]


def test_history_is_paginated(app, client, five_incidents):
    app.config["HISTORY_PAGE_SIZE"] = 2
    first = client.get("/history")
    assert history_titles(first) == ["Incident 4", "Incident 3"]
    assert history_titles(client.get("/history?page=1")) == ["Incident 4", "Incident 3"]
    second = client.get("/history?page=2")
    assert history_titles(second) == ["Incident 2", "Incident 1"]
    third = client.get("/history?page=3")
    assert history_titles(third) == ["Incident 0"]

    nav = soup(second).select_one("nav.pagination")
    assert nav.select_one("a[rel=prev]")["href"] == "/history?page=1"
    assert nav.select_one("a[rel=next]")["href"] == "/history?page=3"
    assert "Page 2 of 3" in nav.get_text()
    assert soup(first).select_one("nav.pagination a[rel=prev]") is None
    assert soup(third).select_one("nav.pagination a[rel=next]") is None


@pytest.mark.parametrize("value", [
    "4", "0", "-1", "abc", "1.5", "", " 1", "١", "99999999999999999999", "1e3",
])
def test_history_bad_page_is_not_found(app, client, five_incidents, value):
    app.config["HISTORY_PAGE_SIZE"] = 2
    response = client.get("/history", query_string={"page": value})
    assert response.status_code == 404
    assert soup(response).h1.get_text() == "Not found"


def test_history_when_there_are_no_incidents(client):
    response = client.get("/history")
    assert response.status_code == 200
    assert "There have been no incidents." in soup(response).get_text()
    assert soup(response).select_one("nav.pagination") is None
    assert client.get("/history?page=2").status_code == 404


# --- Links, markup and cookies ----------------------------------------------------------------


def public_paths(incident) -> list[str]:
    return ["/", f"/incidents/{incident.id}", "/history"]


def test_every_public_page_links_feeds_subscribe_and_history(client, posted):
    incident, _ = posted
    for path in public_paths(incident) + ["/incidents/12345"]:
        page = soup(client.get(path))
        alternates = {(link["type"], link["href"]) for link in
                      page.head.select("link[rel=alternate]")}
        assert alternates == {("application/rss+xml", "/feed.rss"),
                              ("application/atom+xml", "/feed.atom")}
        hrefs = {a["href"] for a in page.body.select("a[href]")}
        assert {"/subscribe", "/feed.rss", "/feed.atom", "/history"} <= hrefs


def test_pages_have_landmarks_and_no_inline_script_or_style(client, posted):
    incident, _ = posted
    for path in public_paths(incident):
        page = soup(client.get(path))
        assert page.html["lang"] == "en"
        assert page.select_one("main#main") and page.select_one("header") \
            and page.select_one("footer")
        assert page.select_one("a.skip-link")["href"] == "#main"
        assert len(page.find_all("h1")) == 1
        for script in page.find_all("script"):
            assert script.get("src") in {"/static/js/localtime.js",
                                         "/static/js/uptime.js"} and not script.string
        assert page.find(style=True) is None and page.find("style") is None
        assert not [t for t in page.find_all(True)
                    if any(attr.startswith("on") for attr in t.attrs)]


def test_static_assets_are_served(client):
    css = client.get("/static/css/site.css")
    js = client.get("/static/js/localtime.js")
    assert css.status_code == 200 and b"prefers-color-scheme: dark" in css.data
    assert js.status_code == 200 and b"Intl.DateTimeFormat" in js.data
    css.close()
    js.close()


def test_public_pages_set_no_cookie_even_for_signed_in_staff(client, admin_client, posted):
    incident, _ = posted
    assert admin_client.get_cookie("session") is not None  # a real staff session
    for path in public_paths(incident) + ["/incidents/12345", "/history?page=9"]:
        anonymous = client.get(path)
        staff = admin_client.get(path)
        for response in (anonymous, staff):
            assert "Set-Cookie" not in response.headers, path
            assert "cookie" not in response.headers.get("Vary", "").lower(), path
        if anonymous.status_code == 200:
            assert "public" in anonymous.headers["Cache-Control"]
        # The cookie is not read either: staff get the very same page.
        assert staff.get_data() == anonymous.get_data(), path


def test_a_junk_cookie_is_ignored(client, posted):
    incident, _ = posted
    client.set_cookie("session", "not-a-valid-session")
    for path in public_paths(incident):
        response = client.get(path)
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers


# --- Queries per render -----------------------------------------------------------------------


def test_queries_per_render_do_not_grow_with_data(app, client, admin, components,
                                                  make_incident, clock):
    # Every kind of row exists from the start (a component change too), so that each
    # loader runs in both measurements; then the data grows and the count must not.
    first = make_incident(admin, components[:1], title="First",
                          component_statuses={components[0].id: "partial_outage"})
    client.get("/")  # warm up

    def selects(path):
        db.session.remove()
        with counting_selects() as statements:
            assert client.get(path).status_code == 200
        return len(statements)

    paths = ["/", f"/incidents/{first.id}", "/history"]
    small = {path: selects(path) for path in paths}

    first = db.session.get(type(first), first.id)
    comps = queries.all_components()
    for n in range(6):
        incident = make_incident(admin, comps[n % 5:n % 5 + 2], title=f"More {n}")
        for status, comp_status in (("identified", "partial_outage"),
                                    ("monitoring", "degraded_performance")):
            clock.advance(minutes=5)
            post(incident, admin, clock(), status,
                 component_statuses={comps[n % 5].id: comp_status})
        if n % 2:
            clock.advance(minutes=5)
            post(incident, admin, clock(), "resolved")
    for status in ("identified", "monitoring"):
        clock.advance(minutes=5)
        post(first, admin, clock(), status, component_statuses={comps[0].id: "major_outage"})

    large = {path: selects(path) for path in paths}
    assert large == small
    # "/": the incidents' and the windows' loaders (issue 12 added the windows); the uptime
    # bars (issue 15): stored days, history (2), coverage, incidents, their titles.
    assert max(large.values()) <= 11 + 6, large
