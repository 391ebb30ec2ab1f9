"""What every surface shares (statuspage/present.py), and that views share only through it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from statuspage import present
from tests.test_layout import import_graph

#: The public blueprints' modules. A view that needs another's wording or data takes it
#: from statuspage.present or statuspage.queries, never from the other view.
PUBLIC_VIEWS = {f"statuspage.{name}" for name in
                ("api", "feeds", "widgets", "public", "health", "subscribe", "auth")}
VIEWS = PUBLIC_VIEWS | {"statuspage.staff", "statuspage.staff_notify"}


def test_no_public_view_imports_another_view():
    graph = import_graph()
    borrowed = {view: sorted(graph[view] & VIEWS) for view in PUBLIC_VIEWS if view in graph}
    assert borrowed == {view: [] for view in borrowed}


def test_iso_is_utc_with_its_offset():
    berlin = datetime(2026, 11, 26, 13, 5, 7, 250000, tzinfo=ZoneInfo("Europe/Berlin"))
    assert present.iso(berlin) == "2026-11-26T12:05:07.250000+00:00"
    assert present.iso(berlin, timespec="milliseconds") == "2026-11-26T12:05:07.250+00:00"
    assert present.iso(None) is None


def test_local_time_names_the_zone():
    when = datetime(2026, 7, 1, 12, 0, tzinfo=timezone.utc)
    assert present.local_time(when, ZoneInfo("Europe/Berlin")) == "2026-07-01 14:00 CEST"
    assert present.local_time(when, ZoneInfo("UTC")) == "2026-07-01 12:00 UTC"


def test_template_lines_leave_out_the_empty_ones():
    due = datetime(2026, 11, 26, 12, 30, tzinfo=timezone.utc)
    assert present.template_lines("Slow.", "Looking.", "", None, ZoneInfo("UTC")) == [
        ("Impact", "Slow."), ("Actions", "Looking.")]
    lines = present.template_lines("Slow.", "Looking.", "Retry", due, ZoneInfo("UTC"))
    assert lines[-2:] == [("Workaround", "Retry"), ("Next Update", "2026-11-26 12:30 UTC")]
    assert present.template_lines("a\u202eb", "x", "", due - timedelta(days=1),
                                  ZoneInfo("UTC"))[0] == ("Impact", "ab")


def test_incident_url_is_built_from_public_url(app):
    with app.test_request_context():
        public_url = app.config["PUBLIC_URL"]
        assert present.incident_url(7) == f"{public_url}/incidents/7"
        assert present.front_page_url() == f"{public_url}/"
    assert present.incident_url(7, "https://x.test") == "https://x.test/incidents/7"
