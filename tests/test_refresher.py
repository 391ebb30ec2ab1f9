"""The refresher (issue 16): a served process keeps the bytes readers ask for current from
a thread of its own, so that no reader waits on the database or on a render.

Two apps on one database stand for two processes (as in test_render_cache): ``app`` makes
the changes, ``served`` serves them; the clock is the test's, ticks are called by hand
except in the one test that runs the thread.
"""

from __future__ import annotations

import threading

import pytest

from statuspage.serving.refresher import Refresher, warm_paths

from .conftest import soup
from .test_render_cache import asgi_get, cache_of, outage, post  # noqa: F401 - fixtures


@pytest.fixture
def app(make_app):
    app = make_app(PUBLIC_CACHE=True)
    with app.app_context():
        yield app


@pytest.fixture
def served(make_app):
    """Another process serving the site, with its own rendered bytes."""
    return make_app(PUBLIC_CACHE=True)


def test_a_change_made_elsewhere_is_rendered_before_any_reader_asks(
        app, served, clock, responder, components, outage):
    cache, reader = cache_of(served), served.test_client()
    refresher = Refresher(cache)
    before = reader.get("/").data
    reader.get("/api/v2/summary.json")
    renders = cache.renders

    post(app, outage.id, responder.id, status="identified",
         impact="Sign-in fails for every participant.", clock=clock)
    clock.advance(seconds=1.1)
    assert refresher.tick() == 2  # the two paths readers asked for, nothing else
    assert cache.renders == renders + 2

    page = reader.get("/")
    assert page.data != before
    assert "Sign-in fails for every participant." in soup(page).get_text()
    assert b"Sign-in fails for every participant." in reader.get("/api/v2/summary.json").data
    assert cache.renders == renders + 2  # the readers got bytes; nobody rendered for them


def test_bytes_readers_keep_asking_for_are_rendered_again_before_they_age_out(
        app, served, clock, outage):
    cache, reader = cache_of(served), served.test_client()
    refresher = Refresher(cache)
    reader.get("/")
    renders = cache.renders

    clock.advance(seconds=cache.refresh_seconds - refresher.ahead - 1)
    assert refresher.tick() == 0  # not due yet
    reader.get("/")
    clock.advance(seconds=2)  # now within the margin before they age out
    assert refresher.tick() == 1
    clock.advance(seconds=refresher.ahead)  # past when the first bytes aged out
    assert reader.get("/").status_code == 200
    assert cache.renders == renders + 1  # served from the refresher's render


def test_bytes_nobody_asked_for_since_their_render_are_left_to_the_next_reader(
        app, served, clock, responder, outage):
    cache, reader = cache_of(served), served.test_client()
    refresher = Refresher(cache)
    reader.get("/history")
    post(app, outage.id, responder.id, status="monitoring", impact="Fixed, watching.",
         clock=clock)
    clock.advance(seconds=1.1)
    assert refresher.tick() == 1
    # Nobody asked again: the next change does not make the refresher render it.
    post(app, outage.id, responder.id, status="resolved", impact="All fixed.", clock=clock)
    clock.advance(seconds=1.1)
    assert refresher.tick() == 0
    renders = cache.renders
    assert "All fixed." in soup(reader.get("/history")).get_text()  # the reader's render
    assert cache.renders == renders + 1


def test_warm_up_renders_the_rush_s_pages_before_the_first_reader(
        app, served, outage):
    cache, reader = cache_of(served), served.test_client()
    paths = warm_paths(served)
    assert f"/incidents/{outage.id}" in paths and "/" in paths
    assert Refresher(cache).warm(paths) == len(paths)
    renders = cache.renders
    for path in paths:
        assert reader.get(path).status_code == 200, path
    assert cache.renders == renders


def test_while_a_path_is_being_rendered_the_event_loop_serves_its_last_bytes(
        app, served, clock, responder, outage):
    from statuspage.serving.asgi import PublicCacheASGI

    cache = cache_of(served)
    asgi_app = PublicCacheASGI(served)
    status, _, before = asgi_get(asgi_app, "/")
    assert status == 200
    post(app, outage.id, responder.id, status="identified", impact="Found the cause.",
         clock=clock)
    clock.advance(seconds=1.1)
    cache.check_version(cache.monotonic())
    lock = cache.render_lock(("/", ""))
    with lock:  # the refresher (or another request) is rendering "/"
        renders = cache.renders
        status, _, meanwhile = asgi_get(asgi_app, "/")
        assert status == 200 and meanwhile == before
        assert cache.renders == renders
    status, _, after = asgi_get(asgi_app, "/")
    assert after != before and b"Found the cause." in after


def test_the_thread_renders_a_change_with_no_reader_in_the_way(
        app, served, clock, responder, outage):
    cache, reader = cache_of(served), served.test_client()
    before = reader.get("/").data
    rendered = threading.Event()

    class Watched(Refresher):
        def tick(self, now=None):
            done = super().tick(now)
            if done:
                rendered.set()
            return done

    refresher = Watched(cache)
    refresher.interval = 0.01  # real seconds between the thread's ticks
    refresher.start()
    try:
        assert cache.request_check_seconds == 3 * refresher.interval
        post(app, outage.id, responder.id, status="identified", impact="Found the cause.",
             clock=clock)
        clock.advance(seconds=1.1)
        assert rendered.wait(timeout=30), "the refresher's thread never rendered the change"
    finally:
        refresher.stop()
    renders = cache.renders
    after = reader.get("/").data
    assert after != before and b"Found the cause." in after
    assert cache.renders == renders
    assert cache.request_check_seconds == cache.check_seconds
