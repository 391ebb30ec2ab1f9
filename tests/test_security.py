"""Accounts, sessions and every response (issue 6, items 1, 2 and 4).

Sign-in limits per account and per address (Flask-Limiter on the Redis this machine runs,
shared by two app instances as by two workers), argon2id with rehash, session fixation,
cookie flags, 12-hour idle expiry (by a cookie signed in the past: itsdangerous reads the
real clock), logout everywhere, the ``next`` check, roles route by route from the URL map,
headers on every kind of response, body and field limits, and update text as plain text
in the page, the email, the feeds, the JSON and the embed.
"""

from __future__ import annotations

import json
import secrets
import time
from urllib.parse import urlencode, urljoin, urlsplit

import feedparser
import pytest
from argon2 import PasswordHasher
from bs4 import BeautifulSoup
from itsdangerous import URLSafeTimedSerializer

from statuspage import accounts
from statuspage.auth import LOGIN_FAILED
from statuspage.extensions import db
from statuspage.models import StaffUser
from statuspage.outbox import compose

from .conftest import PASSWORD, form_fields, login, soup
from .staff_support import csrf_token, declare, field_error, snapshot, submit

REDIS_URL = "redis://127.0.0.1:6379/0"
SITE = "https://status.example.test"


def location(response) -> str:
    return response.headers.get("Location", "")


# --- Per-address sign-in limit (Flask-Limiter on Redis) --------------------------------------


@pytest.fixture
def redis_prefix():
    """A key prefix of this test's own on the machine's Redis; skipped without Redis."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.RedisError as exc:
        pytest.skip(f"Redis is not reachable at {REDIS_URL} ({exc})")
    prefix = f"statuspage-test-{secrets.token_hex(6)}"
    yield prefix
    for key in client.scan_iter(match=f"*{prefix}*"):
        client.delete(key)
    client.close()


@pytest.fixture
def two_workers(make_app, redis_prefix):
    """Two app instances sharing one Redis count, as two gunicorn workers would."""
    config = dict(RATELIMIT_STORAGE_URI=REDIS_URL, RATELIMIT_KEY_PREFIX=redis_prefix,
                  LOGIN_RATE_LIMIT="4 per minute")
    return make_app(**config), make_app(**config)


def _client(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_failed_sign_ins_are_limited_per_address_across_workers(two_workers, make_staff):
    first, second = two_workers
    with first.app_context():
        user = make_staff("responder", email="limited@example.test")
        email = user.email
    attacker_1 = _client(first, "203.0.113.7")
    attacker_2 = _client(second, "203.0.113.7")

    with first.app_context():
        # Successful sign-ins do not count against the address...
        for _ in range(5):
            assert login(_client(first, "203.0.113.7"), email).status_code == 302
        # ...failures do, in either worker: 2 + 2 = the limit of 4.
        for client in (attacker_1, attacker_1, attacker_2, attacker_2):
            response = login(client, f"guess{secrets.token_hex(2)}@example.test", "guess")
            assert response.status_code == 401
    # The fifth attempt is refused before any password is looked at, in both workers,
    # with the one generic message; even the right password does not get in.
    for app, client in ((first, attacker_1), (second, attacker_2)):
        with app.app_context():
            response = login(client, email)
            assert response.status_code == 429
            assert soup(response).select_one(".form-error").get_text(strip=True) == \
                LOGIN_FAILED
            assert int(response.headers["Retry-After"]) > 0
            assert client.get("/staff/").status_code == 302  # not signed in
    # The account itself was not punished for the address's guesses...
    with first.app_context():
        db.session.expire_all()
        assert db.session.get(StaffUser, user.id).failed_logins == 0
        # ...and another address signs in at once.
        assert login(_client(second, "198.51.100.20"), email).status_code == 302


def test_sign_in_still_works_when_the_limits_storage_is_down(make_app, make_staff):
    """Redis down during an outage must not lock staff out: each process then counts in
    its own memory, and still limits."""
    app = make_app(RATELIMIT_STORAGE_URI="redis://127.0.0.1:9/0",  # nothing listens there
                   LOGIN_RATE_LIMIT="3 per minute")
    with app.app_context():
        user = make_staff("responder", email="down@example.test")
        assert login(_client(app, "192.0.2.1"), user.email).status_code == 302
        attacker = _client(app, "192.0.2.2")
        codes = [login(attacker, "x@example.test", "guess").status_code for _ in range(4)]
        assert codes == [401, 401, 401, 429]


def test_the_default_limit_counts_in_memory_per_process(app):
    from statuspage.ratelimit import limiter_for

    assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"
    assert type(limiter_for(app).storage).__name__ == "MemoryStorage"


def test_every_failure_gets_the_same_message(app, make_staff, clock):
    wrong = make_staff("responder", email="wrong@example.test")
    make_staff("responder", email="inactive@example.test", active=False)
    locked = make_staff("responder", email="locked@example.test",
                        locked_until=clock().replace(year=2030))
    messages = set()
    for email, password in ((wrong.email, "not the password"),
                            ("nobody@example.test", PASSWORD),
                            ("inactive@example.test", PASSWORD),
                            (locked.email, PASSWORD)):
        response = login(app.test_client(), email, password)
        assert response.status_code == 401, email
        messages.add(soup(response).select_one(".form-error").get_text(strip=True))
    assert messages == {LOGIN_FAILED}


# --- Passwords, sessions, cookies --------------------------------------------------------------


def test_passwords_are_argon2id_and_old_hashes_are_upgraded_at_sign_in(app, make_staff):
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
    user = make_staff("responder", email="old@example.test")
    user.password_hash = old_hash = weak.hash(PASSWORD)
    db.session.commit()
    assert login(app.test_client(), user.email).status_code == 302
    db.session.expire_all()
    new_hash = db.session.get(StaffUser, user.id).password_hash
    assert new_hash != old_hash
    assert new_hash.startswith("$argon2id$v=19$m=65536,t=3,p=1$")
    # A wrong password changes nothing about the hash.
    login(app.test_client(), user.email, "wrong password")
    db.session.expire_all()
    assert db.session.get(StaffUser, user.id).password_hash == new_hash
    assert accounts.hash_password("x" * 12).startswith("$argon2id$")


def test_signing_in_clears_the_session_and_sets_safe_cookies(app, client, responder):
    page = client.get("/staff/login")
    with client.session_transaction("/staff/login") as session:
        assert "csrf_token" in session  # the real session of the sign-in page
        session["planted"] = "by an attacker"  # e.g. through a shared computer
        session["_user_id"] = "999:0"
    data = {**form_fields(page), "email": responder.email, "password": PASSWORD}
    response = client.post("/staff/login", data=data)
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    assert "Expires=" in cookie  # a permanent session: its lifetime is the idle limit
    with client.session_transaction("/staff/") as session:
        assert "planted" not in session
        assert session["_user_id"] == f"{responder.id}:{responder.session_version}"
    assert "remember_token" not in " ".join(response.headers.getlist("Set-Cookie"))


def test_cookies_are_not_secure_only_on_a_plain_http_site(make_app, make_staff):
    app = make_app(PUBLIC_URL="http://127.0.0.1:5050")
    with app.app_context():
        user = make_staff("responder", email="http@example.test")
        response = login(app.test_client(), user.email)
        cookie = response.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert "Secure" not in cookie
        assert "Strict-Transport-Security" not in response.headers


def _session_cookie(client) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def _signed_in_the_past(app, value: str, seconds_ago: int) -> str:
    """The same session, signed as if its last request was ``seconds_ago``."""
    interface = app.session_interface
    serializer = interface.get_signing_serializer(app)
    data = serializer.loads(value)

    class PastSigner(serializer.signer):
        def get_timestamp(self):
            return int(time.time()) - seconds_ago

    past = URLSafeTimedSerializer(
        app.secret_key, salt=interface.salt, serializer=interface.serializer,
        signer=PastSigner,
        signer_kwargs={"key_derivation": interface.key_derivation,
                       "digest_method": interface.digest_method},
    )
    return past.dumps(data)


def test_staff_sessions_end_after_twelve_hours_idle(app, responder_client):
    idle = app.config["STAFF_SESSION_IDLE_SECONDS"]
    assert idle == 12 * 3600
    real = _session_cookie(responder_client)

    # Last request 11 h 59 min ago: still signed in, and the cookie is signed afresh, so
    # the 12 hours count from this request (idle time, not time since sign-in).
    client = app.test_client()
    client.set_cookie("session", _signed_in_the_past(app, real, idle - 60))
    response = client.get("/staff/")
    assert response.status_code == 200
    _, signed_at = app.session_interface.get_signing_serializer(app).loads(
        _session_cookie(client), return_timestamp=True)
    assert signed_at.timestamp() > time.time() - 600

    # Last request 12 h 1 min ago: the signature is too old; sign in again.
    client = app.test_client()
    client.set_cookie("session", _signed_in_the_past(app, real, idle + 60))
    response = client.get("/staff/")
    assert response.status_code == 302
    assert location(response).startswith("/staff/login")


def test_logout_ends_every_session_of_the_user(app, responder, responder_client):
    laptop = responder_client
    phone = app.test_client()
    assert login(phone, responder.email).status_code == 302
    assert phone.get("/staff/").status_code == 200

    page = laptop.get("/staff/")
    laptop.post("/staff/logout", data=form_fields(page, "nav form"))
    for device in (laptop, phone):
        response = device.get("/staff/")
        assert response.status_code == 302 and location(response).startswith("/staff/login")
    # A copy of the old cookie kept by someone is useless too (the version moved on).
    assert login(phone, responder.email).status_code == 302


# --- next after sign-in ------------------------------------------------------------------------


REFUSED_NEXT = [
    "//evil.example",
    "//evil.example/staff/",
    "/\\evil.example",
    "\\\\evil.example",
    "/%09/evil.example",
    "/\t/evil.example",
    "/%2F/evil.example",
    "https:evil.example",
    "https://evil.example/",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " //evil.example",
    "evil.example",
]


@pytest.mark.parametrize("target", REFUSED_NEXT)
def test_next_refuses_anything_but_a_path_of_this_site(app, responder, target):
    client = app.test_client()
    page = client.get("/staff/login?" + urlencode({"next": target}))
    data = {**form_fields(page), "email": responder.email, "password": PASSWORD}
    response = client.post("/staff/login?" + urlencode({"next": target}), data=data)
    assert response.status_code == 302
    assert location(response) == "/staff/"
    resolved = urlsplit(urljoin(SITE + "/staff/login", location(response)))
    assert resolved.netloc == "status.example.test"


def test_next_refuses_the_raw_forms_too(app, responder):
    """Not url-encoded, as a hand-made link would carry them."""
    for raw in ("//evil.example", "/%09/evil.example", "/\\evil.example",
                "https:evil.example", "javascript:alert(1)"):
        response = login(app.test_client(), responder.email, next_url=raw)
        assert location(response) == "/staff/", raw


def test_next_keeps_a_path_of_this_site(app, responder):
    for target in ("/staff/incidents/new", "/staff/components?x=1"):
        response = login(app.test_client(), responder.email, next_url=target)
        assert location(response) == target


# --- Roles, route by route ---------------------------------------------------------------------

#: Every route under /staff, by who may use it. A new route fails the test below until it
#: is put in one of these.
ADMIN_ONLY = {
    "staff.components", "staff.component", "staff.delete_component",
    "staff.accounts", "staff.account", "staff.reset_password",
    "staff.reopen_incident", "staff.redact_update",
    "staff.hold", "staff.release", "staff.send_now",
    "staff.subscribers", "staff.subscriber_export",
    "staff.subscriber_delete",
    "staff.webhooks", "staff.disable_webhook", "staff.enable_webhook", "staff.delete_webhook",
    "staff.reset_two_factor", "staff.redact_record_revision",
    "staff.contacts",
    "staff.monitors", "staff.new_monitor", "staff.edit_monitor", "staff.mute_monitor",
    "staff.delete_monitor",
    "staff.api_keys", "staff.revoke_api_key",
    "staff.edit_rotation", "staff.delete_rotation", "staff.delete_override",
}
ANY_STAFF = {
    "staff.dashboard", "staff.new_incident", "staff.incident", "staff.edit_incident",
    "staff.component_status", "staff.password", "auth.logout",
    "staff.maintenance_list", "staff.new_maintenance", "staff.maintenance_window",
    "staff.edit_maintenance", "staff.reschedule_maintenance", "staff.maintenance_update",
    "staff.start_maintenance", "staff.verify_maintenance", "staff.complete_maintenance",
    "staff.cancel_maintenance",
    "staff.two_factor", "staff.two_factor_confirm", "staff.two_factor_off",
    "staff.incident_record", "staff.save_record", "staff.download_record",
    "staff.add_action_item", "staff.edit_action_item",
    "staff.incident_roles", "staff.acknowledge_incident", "staff.display_name",
    "staff.dismiss_proposal",
    # Anyone may see who is on call; adding a rotation or an override (their POST) is an
    # admin's (tests/test_oncall_staff.py).
    "staff.oncall", "staff.oncall_overrides", "staff.calendar_link",
    "staff.profile", "staff.profile_test_page",
}
#: The code step of sign-in answers anonymous visitors too (it sends them back to sign in
#: unless a right password was given in this session a moment ago).
ANONYMOUS = {"auth.login", "auth.login_code",
             # The shifts calendar: a secret URL a calendar app reads without signing in
             # (404 unless the token is a live one: tests/test_oncall_staff.py).
             "staff.oncall_calendar"}


def staff_routes(app) -> list[tuple[str, str, str]]:
    """(endpoint, method, rule) of every route under /staff."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/staff"):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, rule.rule))
    return sorted(found)


@pytest.fixture
def world(app, admin, responder, make_staff, components, make_incident, clock):
    """One of everything a /staff URL can name."""
    incident = make_incident(admin, components[:1])
    other = make_staff("responder", email="other@example.test")
    from statuspage.models import Webhook

    webhook = Webhook(url="https://hooks.example.org/status", secret="whsec_x", scope="all",
                      created_at=clock())
    db.session.add(webhook)
    db.session.commit()
    window = _window(admin, components, clock)
    from statuspage.models import Monitor

    monitor = Monitor(name="App ready", url="http://127.0.0.1:9/health/ready",
                      component_id=components[0].id, created_at=clock(), updated_at=clock())
    db.session.add(monitor)
    from datetime import timedelta

    from statuspage.models import Rotation, RotationOverride

    rotation = Rotation(name="Primary", role="primary", members=admin.email,
                        handover_every="week", handover_at=clock(), created_at=clock(),
                        updated_at=clock())
    db.session.add(rotation)
    db.session.flush()
    override = RotationOverride(rotation_id=rotation.id, member=admin.email,
                                starts_at=clock(), ends_at=clock() + timedelta(hours=1),
                                created_at=clock())
    db.session.add(override)
    db.session.commit()
    return {
        "monitor_id": monitor.id,
        "rotation_id": rotation.id,
        "override_id": override.id,
        "proposal_id": 1,  # none exists: the role is checked before the row is looked up
        "webhook_id": webhook.id,
        "maintenance_id": window.id,
        "revision_id": 1,  # none exists: the role is checked before the row is looked up
        "item_id": 1,
        "incident_id": incident.id,
        "update_id": incident.updates[0].id,
        "component_id": components[-1].id,
        "user_id": other.id,
        "key_id": 1,  # none exists: the role is checked before the row is looked up
    }


def _window(actor, components, clock):
    from datetime import timedelta

    from statuspage import maintenance

    start = clock() + timedelta(days=2)
    window = maintenance.schedule(maintenance.WindowFields(
        title="Database upgrade", component_ids=[components[0].id], scheduled_for=start,
        scheduled_until=start + timedelta(hours=2), description="No meal logging."),
        actor=actor, now=clock())
    db.session.commit()
    return window


def url_for_rule(rule: str, ids: dict) -> str:
    url = rule
    for name, value in ids.items():
        url = url.replace(f"<int:{name}>", str(value))
    assert "<" not in url, f"no value for a part of {rule}"
    return url


def _everything():
    from statuspage.models import AuditEvent, Notification, Subscriber

    state = snapshot()
    state["other"] = {
        m.__name__: db.session.scalar(db.select(db.func.count()).select_from(m))
        for m in (Notification, Subscriber, AuditEvent)
    }
    return state


def test_every_staff_route_is_classified(app):
    endpoints = {endpoint for endpoint, _, _ in staff_routes(app)}
    unclassified = endpoints - ADMIN_ONLY - ANY_STAFF - ANONYMOUS
    assert not unclassified, f"say who may use {unclassified} (ADMIN_ONLY or ANY_STAFF)"


def test_a_responder_gets_403_on_every_admin_route(app, world, responder_client):
    token = csrf_token(responder_client)
    before = _everything()
    checked = 0
    for endpoint, method, rule in staff_routes(app):
        if endpoint not in ADMIN_ONLY:
            continue
        url = url_for_rule(rule, world)
        if method == "GET":
            response = responder_client.get(url)
        else:
            response = responder_client.post(url, data={
                "csrf_token": token, "name": "x", "email": "x@example.test",
                "role": "admin", "active": "y", "status": "operational", "position": "1"})
        assert response.status_code == 403, (method, url)
        assert "Your account may not do this." in response.get_data(as_text=True)
        checked += 1
    assert checked >= 12
    assert _everything() == before


def test_an_admin_may_open_every_admin_page(app, world, admin_client):
    for endpoint, method, rule in staff_routes(app):
        if endpoint in ADMIN_ONLY and method == "GET":
            url = url_for_rule(rule, world)
            assert admin_client.get(url).status_code == 200, url


def test_a_responder_may_use_every_other_staff_page(app, world, responder_client):
    for endpoint, method, rule in staff_routes(app):
        if endpoint in ANY_STAFF and method == "GET":
            url = url_for_rule(rule, world)
            assert responder_client.get(url).status_code == 200, url


def test_anonymous_visitors_are_sent_to_sign_in_from_every_staff_route(app, world, client):
    page = client.get("/staff/login")
    token = form_fields(page)["csrf_token"]  # a real token: only the sign-in stops them
    before = _everything()
    for endpoint, method, rule in staff_routes(app):
        if endpoint in ANONYMOUS:
            continue
        url = url_for_rule(rule, world)
        if method == "GET":
            response = client.get(url)
        else:
            response = client.post(url, data={"csrf_token": token, "status": "operational"})
        assert response.status_code == 302, (method, url)
        assert location(response).startswith("/staff/login"), (method, url)
        if method == "GET":
            assert location(response) == "/staff/login?" + urlencode({"next": url}) or \
                location(response) == f"/staff/login?next={url}"
    assert _everything() == before


# --- Headers on every response -----------------------------------------------------------------


def _assert_security_headers(response, *, frameable=False, https=True, what=""):
    headers = response.headers
    csp = headers.get("Content-Security-Policy", "")
    directives = {d.strip().split(" ")[0]: d.strip() for d in csp.split(";") if d.strip()}
    script = directives.get("script-src", directives.get("default-src", ""))
    assert script, what
    assert "'unsafe-inline'" not in script and "'unsafe-eval'" not in script, what
    assert "'self'" in script or "'none'" in script, what
    if frameable:
        assert directives.get("frame-ancestors") == "frame-ancestors *", what
        assert "X-Frame-Options" not in headers, what
    else:
        assert directives.get("frame-ancestors") == "frame-ancestors 'none'", what
        assert headers.get("X-Frame-Options") == "DENY", what
    assert headers.get("X-Content-Type-Options") == "nosniff", what
    assert headers.get("Referrer-Policy") == "no-referrer", what
    if https:
        assert headers.get("Strict-Transport-Security", "").startswith("max-age="), what
    else:
        assert "Strict-Transport-Security" not in headers, what


def _every_kind_of_response(client, admin_client, incident_id, component_id):
    big = {"email": "a@example.test", "password": "x" * (300 * 1024)}
    return {
        "page": (client.get("/"), False),
        "incident page": (client.get(f"/incidents/{incident_id}"), False),
        "history": (client.get("/history"), False),
        "JSON": (client.get("/api/v2/summary.json"), False),
        "RSS": (client.get("/feed.rss"), False),
        "Atom": (client.get(f"/components/{component_id}/feed.atom"), False),
        "badge": (client.get("/badge.svg"), True),
        "embed": (client.get("/embed"), True),
        "health": (client.get("/health/live"), False),
        "static": (client.get("/static/css/site.css"), False),
        "404": (client.get("/no/such/page"), False),
        "405": (client.post("/"), False),
        "413": (client.post("/staff/login", data=big), False),
        "400 (no CSRF token)": (client.post("/staff/login", data={"email": "a"}), False),
        "sign-in page": (client.get("/staff/login"), False),
        "redirect to sign-in": (client.get("/staff/"), False),
        "staff page": (admin_client.get("/staff/"), False),
        "403": (client.get("/staff/components"), False),
    }


def test_every_kind_of_response_has_the_security_headers(app, client, admin_client, admin,
                                                         components, make_incident):
    incident = make_incident(admin, components[:1])
    responses = _every_kind_of_response(client, admin_client, incident.id, components[0].id)
    expected_status = {"404": 404, "405": 405, "413": 413, "400 (no CSRF token)": 400,
                       "redirect to sign-in": 302, "403": 302}
    for what, (response, frameable) in responses.items():
        assert response.status_code == expected_status.get(what, 200), what
        _assert_security_headers(response, frameable=frameable, what=what)
    # Pages with a session (and a CSRF token or a one-time password in them) are never
    # kept by a cache; public pages never set a cookie.
    for what in ("sign-in page", "staff page", "redirect to sign-in", "413"):
        assert responses[what][0].headers["Cache-Control"] == "private, no-store", what
    for what in ("page", "incident page", "history", "JSON", "RSS", "badge", "embed"):
        assert "Set-Cookie" not in responses[what][0].headers, what
    assert responses["JSON"][0].mimetype == "application/json"


def test_served_from_the_render_cache_the_headers_are_the_same(make_app, admin, components):
    cached = make_app(PUBLIC_CACHE=True)
    client = cached.test_client()
    for path, frameable in (("/", False), ("/api/v2/status.json", False),
                            ("/feed.rss", False), ("/badge.svg", True), ("/embed", True)):
        first, second = client.get(path), client.get(path)
        for response in (first, second):
            assert response.status_code == 200, path
            _assert_security_headers(response, frameable=frameable, what=path)


def test_no_hsts_on_a_plain_http_site(make_app):
    app = make_app(PUBLIC_URL="http://127.0.0.1:5050")
    client = app.test_client()
    for path in ("/", "/staff/login", "/no/such/page"):
        _assert_security_headers(client.get(path), https=False, what=path)


# --- Body and field limits ---------------------------------------------------------------------


def test_a_body_over_max_content_length_gets_413_and_nothing_is_stored(
        app, admin_client, components):
    limit = app.config["MAX_CONTENT_LENGTH"]
    before = snapshot()
    response = declare(admin_client, components[:1], impact="x" * (limit + 1))
    assert response.status_code == 413
    assert "larger than this site accepts" in response.get_data(as_text=True)
    assert snapshot() == before
    # Just under the limit, the form's own length rule answers (not the body limit).
    response = declare(admin_client, components[:1], impact="x" * (limit - 4096))
    assert response.status_code == 422
    assert "At most 5000 characters." in field_error(response, "impact")
    assert snapshot() == before


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_ten_thousand_form_fields_get_413_and_nothing_is_stored(app, admin_client,
                                                                components, encoding):
    page = admin_client.get("/staff/incidents/new")
    data = form_fields(page, "form.incident-form")
    data.update(issue="Login not working", severity="SEV-2", status="investigating",
                impact="Cannot sign in.", actions="Restarting.",
                components=str(components[0].id))
    data.update({f"f{i}": "1" for i in range(10_000)})
    before = snapshot()
    if encoding == "multipart":
        response = admin_client.post("/staff/incidents/new", data=data,
                                     content_type="multipart/form-data")
    else:
        response = admin_client.post("/staff/incidents/new", data=data)
    assert response.status_code == 413
    assert snapshot() == before
    # The same form with its own fields only is accepted (the limit is not too tight).
    response = declare(admin_client, components[:1])
    assert response.status_code == 302


#: (page, form selector, field, overlong value, status, message shown at the field)
LONG = "é" * 5001
OVERLONG_FIELDS = [
    ("/staff/incidents/new", "form.incident-form", "issue", "x" * 201, "At most 200"),
    ("/staff/incidents/new", "form.incident-form", "impact", LONG, "At most 5000"),
    ("/staff/incidents/new", "form.incident-form", "actions", LONG, "At most 5000"),
    ("/staff/incidents/new", "form.incident-form", "workaround", LONG, "At most 5000"),
    ("/staff/incidents/new", "form.incident-form", "next_update", "2" * 5000,
     "Enter a date and time"),
    ("/staff/incidents/new", "form.incident-form", "started_at", "2" * 5000,
     "Enter a date and time"),
    ("/staff/incidents/new", "form.incident-form", "severity", "S" * 5000, ""),
    ("/staff/incidents/new", "form.incident-form", "status", "s" * 5000, ""),
    ("{incident}", "section.update-form form", "impact", LONG, "At most 5000"),
    ("{incident}", "section.update-form form", "actions", LONG, "At most 5000"),
    ("{incident}", "section.update-form form", "workaround", LONG, "At most 5000"),
    ("{incident}", "section.update-form form", "next_update", "2" * 5000,
     "Enter a date and time"),
    ("{incident}", "section.update-form form", "status", "s" * 5000, ""),
    ("{incident}/edit", "form.incident-form", "issue", "x" * 201, "At most 200"),
    ("{incident}/edit", "form.incident-form", "started_at", "2" * 5000,
     "Enter a date and time"),
    ("/staff/components", "#component-form", "name", "n" * 101, "At most 100"),
    ("/staff/components", "#component-form", "description", "d" * 501, "At most 500"),
    ("/staff/components", "#component-form", "group", "g" * 101, "At most 100"),
    ("/staff/components", "#component-form", "position", "9" * 5000, "whole number"),
    ("{component}", "#component-form", "name", "n" * 101, "At most 100"),
    ("{component}", "#component-form", "description", "d" * 501, "At most 500"),
    ("/staff/accounts", "#new-staff-form", "email", "a" * 250 + "@example.test",
     "valid email"),
    ("/staff/password", "main form", "new_password", "p" * 257, "at most 256"),
]


def test_every_field_has_a_length_limit_with_a_message_and_nothing_stored(
        app, admin_client, admin, components, make_incident):
    incident = make_incident(admin, components[:1])
    names = {"{incident}": f"/staff/incidents/{incident.id}",
             "{component}": f"/staff/components/{components[0].id}"}
    before = snapshot()
    for page_url, selector, field, value, message in OVERLONG_FIELDS:
        for key, url in names.items():
            page_url = page_url.replace(key, url)
        extra = {}
        if field == "new_password":
            extra = {"current_password": PASSWORD, "confirm_password": value}
        if selector == "form.incident-form" and "edit" not in page_url:
            extra = {"issue": "Login not working", "severity": "SEV-2",
                     "components": str(components[0].id), "impact": "x", "actions": "y"}
        response = submit(admin_client, page_url, selector, **{**extra, field: value})
        assert response.status_code == 422, (page_url, field, response.status_code)
        shown = soup(response).select_one(".field-error")
        assert shown is not None, (page_url, field)
        assert message in field_error(response, field) or message in shown.get_text(), \
            (page_url, field, shown.get_text())
        # The form says which field, and the overlong value is not echoed in full.
        assert value not in response.get_data(as_text=True) or len(value) <= 5001
    assert snapshot() == before


def test_the_sign_in_fields_are_limited_too(app, client, responder):
    for email, password in (("a" * 255 + "@x.test", PASSWORD),
                            (responder.email, "p" * 257)):
        page = client.get("/staff/login")
        response = client.post("/staff/login", data={**form_fields(page), "email": email,
                                                     "password": password})
        assert response.status_code == 400
        assert "Enter your email address and your password." in response.get_data(
            as_text=True)
    assert client.get("/staff/").status_code == 302


# --- Update text is plain text everywhere (item 4) ---------------------------------------------

SCRIPT = "<script>alert('owned')</script>"
IMG = '<img src=x onerror="alert(2)">'
LINK = '<a href="javascript:alert(3)">click</a>'
BOLD = "<b>bold</b>"


def _assert_no_markup_from_text(html: str, what: str) -> None:
    """No element that staff typed made it into the document as markup."""
    doc = BeautifulSoup(html, "html.parser")
    for script in doc.find_all("script"):
        assert script.get("src", "").startswith("/static/"), (what, str(script))
        assert not script.get_text(strip=True), (what, str(script))
    assert not doc.select("img[onerror], [onerror], [onclick]"), what
    assert not [a for a in doc.find_all("a", href=True)
                if a["href"].strip().lower().startswith("javascript:")], what
    assert not doc.find_all("b", string="bold"), what


@pytest.fixture
def typed_markup(admin_client, admin, components):
    response = declare(admin_client, components[:1], issue=f"Login {SCRIPT}",
                       impact=f"First line {IMG}\nsecond line {BOLD}",
                       actions=f"We look at it {LINK}", workaround=f"Use {SCRIPT}")
    assert response.status_code == 302
    incident_id = int(location(response).rsplit("/", 1)[1])
    return incident_id


def test_typed_markup_is_shown_as_text_on_the_pages(app, client, admin_client,
                                                    typed_markup):
    for path, who in ((f"/incidents/{typed_markup}", client), ("/", client),
                      ("/history", client),
                      (f"/staff/incidents/{typed_markup}", admin_client),
                      ("/staff/", admin_client)):
        html = who.get(path).get_data(as_text=True)
        _assert_no_markup_from_text(html, path)
    page = soup(client.get(f"/incidents/{typed_markup}"))
    text = page.get_text()
    for typed in (SCRIPT, IMG, LINK, BOLD):
        assert typed in text, typed  # shown as the characters typed
    # Line breaks are kept, as <br>, not as markup of the typed text.
    impact = [dd for dd in page.select("dl.fields dd") if "First line" in dd.get_text()][0]
    assert impact.find("br") is not None


def test_typed_markup_is_text_in_feeds_json_and_embed(app, client, typed_markup):
    for path in ("/feed.rss", "/feed.atom"):
        feed = feedparser.parse(client.get(path).get_data())
        assert not feed.bozo, path
        entry = feed.entries[0]
        assert SCRIPT in entry.title, path
        _assert_no_markup_from_text(entry.get("summary", ""), path)
        assert "alert(2)" in entry.summary  # there, as text

    body = client.get("/api/v2/incidents.json").get_data(as_text=True)
    data = json.loads(body)
    (incident,) = data["incidents"]
    assert incident["name"] == f"Login {SCRIPT}"
    assert IMG in incident["incident_updates"][0]["body"]

    embed = client.get("/embed").get_data(as_text=True)
    _assert_no_markup_from_text(embed, "/embed")
    assert SCRIPT in BeautifulSoup(embed, "html.parser").get_text()


def test_typed_markup_is_text_in_the_emails_html_part(app, typed_markup):
    context = {
        "site_name": app.config["SITE_NAME"], "audience": "participant",
        "support_email": app.config["SUPPORT_EMAIL"], "subscribe_url": f"{SITE}/subscribe",
        "delay_text": "30 minutes", "confirm_hours": 48, "kind": "outage",
        **compose.incident_email_context(typed_markup, SITE),
    }
    for kind in ("outage", "resolution"):
        rendered = compose.render_email(app.jinja_env, kind, context)
        _assert_no_markup_from_text(rendered.html, kind)
        if kind == "outage":
            assert SCRIPT in BeautifulSoup(rendered.html, "html.parser").get_text()
            assert SCRIPT in rendered.text  # the text part: as typed
