"""Valid HTML (issue 6, item 5): every page, as the server sends it, passes the Nu HTML
Checker (vnu.jar from the `vnu-jar` npm package, run on the machine's Java, offline).

The jar is taken from ``VNU_JAR`` when set; otherwise it is installed once with npm into
``~/.cache/statuspage-test/vnu`` (outside the repository; the package ships the jar, and
its install script, which would fetch a Java runtime, is not run). Without Java or npm,
or when the npm registry cannot be reached, the test is skipped with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.browser import site  # noqa: F401  (fixture)
from tests.conftest import login
from tests.monitor_support import make_monitored, monitor_pages

VNU_VERSION = "26.9.27"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / \
    "statuspage-test" / "vnu"


def _find_or_install_vnu() -> tuple[str | None, str]:
    """(path of vnu.jar, '') or (None, why not)."""
    if os.environ.get("VNU_JAR"):
        return os.environ["VNU_JAR"], ""
    jar = CACHE / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
    if jar.exists():
        return str(jar), ""
    npm = shutil.which("npm")
    if npm is None:
        return None, "npm is not installed, so the vnu-jar package cannot be fetched"
    CACHE.mkdir(parents=True, exist_ok=True)
    try:
        result = subprocess.run(
            [npm, "install", "--prefix", str(CACHE), "--ignore-scripts", "--no-audit",
             "--no-fund", "--no-save", f"vnu-jar@{VNU_VERSION}"],
            capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        return None, "npm install vnu-jar took more than 5 minutes"
    if result.returncode != 0 or not jar.exists():
        return None, f"npm install vnu-jar failed: {result.stderr[-500:]}"
    return str(jar), ""


@pytest.fixture(scope="session")
def vnu_jar():
    java = shutil.which("java")
    if java is None:
        pytest.skip("java is not installed: the Nu HTML Checker needs it")
    jar, why = _find_or_install_vnu()
    if jar is None:
        pytest.skip(why)
    return java, jar


def validate(vnu_jar, files: list[Path]) -> list[dict]:
    java, jar = vnu_jar
    result = subprocess.run([java, "-jar", jar, "--errors-only", "--format", "json",
                             *map(str, files)], capture_output=True, text=True, timeout=300)
    report = json.loads(result.stderr or result.stdout or '{"messages": []}')
    return report["messages"]


def test_every_page_is_valid_html(app, site, client, admin, tmp_path, vnu_jar, components,
                                  clock):
    staff = app.test_client()
    assert login(staff, admin.email).status_code == 302
    public = ["/", f"/incidents/{site['incident']}", f"/incidents/{site['resolved']}",
              "/history", "/embed", "/subscribe", "/subscribe/check-inbox",
              f"/confirm/{site['confirm']}", f"/unsubscribe/{site['unsubscribe']}",
              "/confirm/not-a-real-token", "/no/such/page", "/staff/login"]
    staff_pages = ["/staff/", "/staff/incidents/new", f"/staff/incidents/{site['incident']}",
                   f"/staff/incidents/{site['resolved']}",
                   f"/staff/incidents/{site['incident']}/edit", "/staff/components",
                   f"/staff/components/{site['component']}", "/staff/accounts",
                   "/staff/password", "/staff/subscribers", "/staff/contacts", "/staff/api-keys",
                   *monitor_pages(make_monitored(components, clock)),
                   f"/staff/incidents/{site['incident']}/record"]
    pages = {path: client.get(path) for path in public}
    pages.update({path: staff.get(path) for path in staff_pages})
    # Forms sent back with their messages.
    pages["/staff/incidents/new (errors)"] = staff.post(
        "/staff/incidents/new", data={"csrf_token": _token(staff)})
    pages["/staff/contacts (errors)"] = staff.post(
        "/staff/contacts", data={"csrf_token": _token(staff), "oncall_email": "bad"})
    pages["/staff/monitors/new (errors)"] = staff.post(
        "/staff/monitors/new", data={"csrf_token": _token(staff)})
    pages["/staff/login (error)"] = app.test_client().post("/staff/login",
                                                           data={"email": "x"})

    files = []
    for index, (path, response) in enumerate(pages.items()):
        assert response.mimetype == "text/html", path
        file = tmp_path / f"page{index:02d}.html"
        file.write_bytes(response.get_data())
        files.append(file)
    names = {f"file:{file}": path for file, path in zip(files, pages)}
    errors = [f"{names.get(m.get('url'), m.get('url'))}:{m.get('lastLine')}: {m['message']}"
              for m in validate(vnu_jar, files)]
    assert not errors, "\n".join(errors)


def test_the_checker_finds_errors(vnu_jar, tmp_path):
    """The check can fail: a page with a stray end tag and an unclosed element."""
    bad = tmp_path / "bad.html"
    bad.write_text('<!doctype html><html lang="en"><head><title>x</title></head>'
                   "<body><p>hi<div></p></body></html>")
    assert validate(vnu_jar, [bad])


def _token(client) -> str:
    from tests.conftest import soup

    page = client.get("/staff/incidents/new")
    return soup(page).select_one("input[name=csrf_token]")["value"]
