"""Static publishing: the export is complete, its links work, it is the views' own bytes,
files are replaced whole, and a change reaches the files in the publisher's next tick."""

from __future__ import annotations

import gzip
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from bs4 import BeautifulSoup

from statuspage import incidents
from statuspage.extensions import db
from statuspage.serving.http_caching import compressible
from statuspage.serving.publish import Publisher, file_for, site_paths, write_atomically

#: Served by gunicorn behind the export (see the README's nginx configuration).
DYNAMIC_PREFIXES = ("/staff", "/subscribe", "/unsubscribe", "/confirm")


def update(incident, actor, clock, status, impact="Still working on it.", **statuses):
    incidents.post_update(
        incident,
        incidents.UpdateText(status=status, impact=impact, actions="Working.",
                             component_statuses=statuses.get("component_statuses", {})),
        actor=actor, now=clock(),
    )
    db.session.commit()


@pytest.fixture
def site(app, clock, responder, components, make_incident):
    """Two open incidents and 25 resolved ones (two pages of history)."""
    for n in range(25):
        old = make_incident(responder, components[n % 5:n % 5 + 1], title=f"Old issue {n}",
                            severity="SEV-3")
        clock.advance(minutes=10)
        update(old, responder, clock, "resolved", impact="Fixed.")
    login = make_incident(responder, components[:1], title="Login not working",
                          component_statuses={components[0].id: "major_outage"})
    charts = make_incident(responder, components[2:3], title="Charts blank")
    return {"login": login, "charts": charts}


def resolve_link(root: Path, href: str, public_url: str) -> Path | None:
    """The exported file a link leads to; None for what the export leaves to gunicorn."""
    if href.startswith(public_url):
        href = href[len(public_url):] or "/"
    url = urlsplit(href)
    if url.scheme or url.netloc or not url.path.startswith("/"):
        return None  # another site, mailto:, an anchor
    if url.path.startswith(DYNAMIC_PREFIXES):
        return None
    query = url.query if url.path == "/history" else ""
    return root / file_for(url.path, query)


def test_publish_writes_every_public_path_as_the_views_serve_it(
        app, runner, site, components, tmp_path):
    root = tmp_path / "export"
    result = runner.invoke(args=["publish", str(root)])
    assert result.exit_code == 0, result.output
    assert "Published version" in result.output

    expected = {
        "index.html", "history/index.html", "history/page/1/index.html",
        "history/page/2/index.html", "feed.rss", "feed.atom", "badge.svg", "embed/index.html",
        "embed.css", "api/v2/summary.json", "api/v2/status.json", "api/v2/components.json",
        "api/v2/incidents.json", "api/v2/incidents/unresolved.json",
        "api/v2/scheduled-maintenances.json", "static/css/site.css",
        f"incidents/{site['login'].id}/index.html",
    }
    expected |= {f"components/{c.id}/feed.{fmt}" for c in components for fmt in ("rss", "atom")}
    written = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
    assert expected <= written, expected - written
    incident_pages = {p for p in written if re.fullmatch(r"incidents/\d+/index\.html", p)}
    assert len(incident_pages) == 27
    assert not [p for p in written if ".tmp-publish-" in p]

    # The same bytes the app serves, path by path: the views stay their single source.
    client = app.test_client()
    for path, query in site_paths(app).all():
        served = client.get(path + (f"?{query}" if query else ""))
        assert served.status_code == 200, path
        exported = (root / file_for(path, query)).read_bytes()
        assert exported == served.data, path
        gz = root / (file_for(path, query) + ".gz")
        if not compressible(served.headers.items()):  # the icon: an image, compressed already
            assert not gz.exists(), path
            continue
        assert gzip.decompress(gz.read_bytes()) == exported, path


def test_every_link_in_the_export_leads_to_an_exported_file(app, runner, site, tmp_path):
    root = tmp_path / "export"
    assert runner.invoke(args=["publish", str(root)]).exit_code == 0
    public_url = app.config["PUBLIC_URL"]
    checked = 0
    for page in root.rglob("*.html"):
        doc = BeautifulSoup(page.read_text(), "html.parser")
        for el in doc.select("[href], [src]"):
            link = el.get("href") or el.get("src")
            target = resolve_link(root, link, public_url)
            if target is None:
                continue
            assert target.is_file(), f"{page.relative_to(root)} links to {link}"
            checked += 1
    assert checked > 100
    index = BeautifulSoup((root / "index.html").read_text(), "html.parser")
    assert "Login not working" in index.get_text()


def test_files_are_replaced_whole_and_unchanged_ones_are_left_alone(tmp_path):
    target = tmp_path / "page" / "index.html"
    assert write_atomically(target, b"<p>first</p>" * 1000)
    reader = open(target, "rb")  # a reader that opened the old page mid-publish
    try:
        before = os.stat(target)
        assert write_atomically(target, b"<p>second</p>" * 1000)
        # The reader keeps reading the whole old file: it was replaced, never rewritten.
        assert reader.read() == b"<p>first</p>" * 1000
    finally:
        reader.close()
    after = os.stat(target)
    assert after.st_ino != before.st_ino
    assert target.read_bytes() == b"<p>second</p>" * 1000
    assert not write_atomically(target, b"<p>second</p>" * 1000)  # same bytes: untouched
    assert os.stat(target).st_ino == after.st_ino
    assert sorted(p.name for p in target.parent.iterdir()) == ["index.html"]


def test_a_change_is_published_in_the_next_tick_and_only_what_it_touched(
        app, clock, responder, site, tmp_path):
    root = tmp_path / "export"
    publisher = Publisher(app, root)
    assert publisher.tick(now=0.0)  # the first tick publishes everything
    login_page = root / file_for(f"/incidents/{site['login'].id}")
    charts_page = root / file_for(f"/incidents/{site['charts'].id}")
    charts_inode = os.stat(charts_page).st_ino
    assert not publisher.tick(now=1.0)  # nothing changed: nothing rendered

    update(site["login"], responder, clock, "identified",
           impact="Sign-in works again for half of participants.")
    assert publisher.tick(now=2.0)
    for file in (login_page, root / "index.html", root / "feed.atom",
                 root / "api/v2/summary.json", root / "history/index.html"):
        assert "Sign-in works again for half of participants." in file.read_text(), file
    assert os.stat(charts_page).st_ino == charts_inode  # not touched by the change

    # A component rename shows on every incident page naming it.
    site["charts"].components[0].name = "Charts and dashboards"
    db.session.commit()
    assert publisher.tick(now=3.0)
    assert "Charts and dashboards" in charts_page.read_text()


def test_what_changes_with_time_alone_is_published_again(
        app, clock, responder, site, tmp_path):
    root = tmp_path / "export"
    publisher = Publisher(app, root)
    publisher.tick(now=0.0)

    def recent() -> str:  # the front page's recently resolved incidents
        page = BeautifulSoup((root / "index.html").read_text(), "html.parser")
        section = page.select_one("section.incidents.recent")
        return section.get_text() if section else ""

    assert "Old issue 24" in recent()
    clock.advance(days=8)  # the 7-day window moves on; the database does not change
    assert not publisher.tick(now=30.0)
    assert publisher.tick(now=61.0)
    assert "Old issue 24" not in recent()


def test_the_publisher_needs_a_folder(app, runner):
    result = runner.invoke(args=["publisher"])
    assert result.exit_code != 0
    assert "STATIC_EXPORT_DIR" in result.output


def test_a_restarted_publisher_renders_only_what_changed_while_it_was_away(
        app, clock, responder, site, tmp_path):
    root = tmp_path / "export"
    Publisher(app, root).tick(now=0.0)
    charts_page = root / file_for(f"/incidents/{site['charts'].id}")
    charts_inode = os.stat(charts_page).st_ino
    update(site["login"], responder, clock, "identified", impact="Published after a restart.")

    restarted = Publisher(app, root)
    assert restarted.tick(now=0.0)
    assert "Published after a restart." in (
        root / file_for(f"/incidents/{site['login'].id}")).read_text()
    assert "Published after a restart." in (root / "index.html").read_text()
    assert os.stat(charts_page).st_ino == charts_inode


@pytest.mark.process
def test_nginx_serves_the_export_with_the_readmes_configuration(app, runner, site, tmp_path):
    """Debian's nginx (apt-get install nginx), run by this test on a loopback port."""
    import shutil
    import socket
    import subprocess
    import time
    import urllib.error
    import urllib.request

    from statuspage.serving.nginx import nginx_locations

    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if nginx is None:
        pytest.skip("nginx is not installed (apt-get install -y nginx)")
    root = tmp_path / "export"
    assert runner.invoke(args=["publish", str(root)]).exit_code == 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    temp = tmp_path / "nginx"
    temp.mkdir()
    conf = temp / "nginx.conf"
    # Started as root, nginx's workers would run as www-data, which may not enter pytest's
    # private folders: they stay root here.
    user = "user root;" if os.geteuid() == 0 else ""
    conf.write_text(f"""daemon off; {user} pid {temp}/pid; error_log {temp}/error.log warn;
events {{}}
http {{
    include /etc/nginx/mime.types;
    access_log off;
    client_body_temp_path {temp}/b; proxy_temp_path {temp}/p; fastcgi_temp_path {temp}/f;
    uwsgi_temp_path {temp}/u; scgi_temp_path {temp}/s;
    server {{
        listen 127.0.0.1:{port};
{nginx_locations(app, str(root), "127.0.0.1:9", indent=8)}
    }}
}}
""")
    proc = subprocess.Popen([nginx, "-c", str(conf)], stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"

    def get(path, **headers):
        request = urllib.request.Request(base + path, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers, exc.read()

    try:
        for _ in range(100):  # until it listens
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        client = app.test_client()
        for path in ("/", f"/incidents/{site['login'].id}", "/history", "/history?page=2",
                     "/feed.rss", "/api/v2/summary.json", "/embed", "/badge.svg"):
            status, headers, body = get(path)
            assert status == 200, path
            assert body == client.get(path).data, path
            assert headers["Cache-Control"].startswith("public, max-age=1"), path
        assert get("/feed.rss")[1]["Content-Type"].startswith("application/rss+xml")
        assert get("/api/v2/summary.json")[1]["Access-Control-Allow-Origin"] == "*"
        assert "frame-ancestors *" in get("/embed")[1]["Content-Security-Policy"]
        assert get("/")[1]["X-Frame-Options"] == "DENY"
        zipped = get("/", **{"Accept-Encoding": "gzip"})
        assert zipped[1]["Content-Encoding"] == "gzip"
        assert gzip.decompress(zipped[2]) == client.get("/").data
        assert get("/.published-version")[0] == 404
        assert get("/incidents/999999")[0] == 404
        assert get("/staff/login")[0] == 502  # sent on to gunicorn (not running here)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
