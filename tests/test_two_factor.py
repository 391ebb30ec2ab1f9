"""Two-factor sign-in (TOTP, RFC 6238): enrolment, the code step, replay, recovery codes,
the REQUIRE_2FA_ROLES gate on every staff route, an admin's reset, the CLI's reset."""

from __future__ import annotations

import re

import pyotp
import pytest

from statuspage import two_factor
from statuspage.extensions import db
from statuspage.models import AuditEvent, RecoveryCode, StaffUser

from .conftest import PASSWORD, form_fields, login, soup

ENROL_FORM = 'form[action="/staff/2fa"]'


def code_now(user: StaffUser, clock, steps: int = 0) -> str:
    return two_factor.code_at(user.totp_secret, two_factor.time_step(clock()) + steps)


def enrol(client, user: StaffUser, clock) -> list[str]:
    """Enrol through the pages; the recovery codes shown."""
    page = client.get("/staff/2fa")
    assert page.status_code == 200
    db.session.refresh(user)
    data = form_fields(page, ENROL_FORM)
    data["code"] = code_now(user, clock)
    done = client.post("/staff/2fa", data=data)
    assert done.status_code == 200, done.get_data(as_text=True)
    return [li.get_text(strip=True) for li in soup(done).select("#recovery-codes li")]


def enrolled_client(app, user, clock):
    c = app.test_client()
    assert login(c, user.email).status_code == 302
    codes = enrol(c, user, clock)
    c.post("/staff/logout", data={"csrf_token": csrf(c)})
    clock.advance(seconds=60)  # the enrolment's code is spent; the next sign-in has a new one
    return codes


def csrf(client) -> str:
    return form_fields(client.get("/staff/2fa"), "form")["csrf_token"]


def code_step(client, code: str):
    page = client.get("/staff/login/code")
    assert page.status_code == 200, page.status_code
    data = form_fields(page, "form")
    data["code"] = code
    return client.post("/staff/login/code", data=data)


def signed_in(client) -> bool:
    return client.get("/staff/").status_code == 200


def test_rfc6238_reference_value():
    # RFC 6238 appendix B, SHA-1, T = 59 s: 94287082 (8 digits); 6 digits: 287082.
    secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # "12345678901234567890"
    assert two_factor.code_at(secret, 59 // 30) == "287082"


def test_the_qr_codes_key_uri_is_as_it_was_and_an_app_reading_it_gives_our_codes():
    # The URI is written here, not by pyotp (whose URI drops algorithm, digits and period):
    # the QR code staff scan must not change. An app that reads it must agree on codes.
    user = StaffUser(email="ana@example.test", totp_secret="JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    uri = two_factor.provisioning_uri(user, "Metabolic-Tracker Status")
    assert uri == ("otpauth://totp/Metabolic-Tracker%20Status%3Aana%40example.test"
                   "?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Metabolic-Tracker+Status"
                   "&algorithm=SHA1&digits=6&period=30")
    app_side = pyotp.parse_uri(uri)
    # (pyotp keeps an encoded colon in the name; the key format allows either form)
    assert app_side.issuer == "Metabolic-Tracker Status"
    assert app_side.name.endswith("ana@example.test")
    assert [app_side.generate_otp(step) for step in (0, 1, 56_000_000)] == [
        two_factor.code_at(user.totp_secret, step) for step in (0, 1, 56_000_000)]


def test_a_new_secret_is_160_bits_of_base32():
    secrets = {two_factor.new_secret() for _ in range(20)}
    assert len(secrets) == 20
    assert all(re.fullmatch(r"[A-Z2-7]{32}", secret) for secret in secrets)


def test_enrolment_shows_a_local_qr_code_and_the_key_then_ten_codes_stored_hashed(
        app, responder, clock):
    c = app.test_client()
    assert login(c, responder.email).status_code == 302
    page = c.get("/staff/2fa")
    img = soup(page).select_one("#qr-code")
    assert img["src"].startswith("data:image/svg+xml") and img["alt"]
    db.session.refresh(responder)
    shown = soup(page).select_one("#totp-secret").get_text().replace(" ", "")
    assert shown == responder.totp_secret and not responder.has_two_factor

    wrong = form_fields(page, ENROL_FORM) | {"code": "000000" if code_now(
        responder, clock) != "000000" else "111111"}
    refused = c.post("/staff/2fa", data=wrong)
    assert refused.status_code == 422 and "did not work" in refused.get_data(as_text=True)
    db.session.refresh(responder)
    assert not responder.has_two_factor

    codes = enrol(c, responder, clock)
    assert len(codes) == 10 and len(set(codes)) == 10
    db.session.refresh(responder)
    assert responder.has_two_factor
    stored = db.session.scalars(db.select(RecoveryCode.code_hash)).all()
    assert len(stored) == 10 and not any(code in stored for code in codes)
    # shown once: the page afterwards has the count only
    again = c.get("/staff/2fa").get_data(as_text=True)
    assert codes[0] not in again and "10" in again


def test_sign_in_asks_for_the_code_and_is_not_signed_in_before_it(app, responder, clock):
    enrolled_client(app, responder, clock)
    c = app.test_client()
    first = login(c, responder.email)
    assert first.status_code == 302 and first.location.endswith("/staff/login/code")
    assert not signed_in(c)  # a right password alone signs no one in
    done = code_step(c, code_now(responder, clock))
    assert done.status_code == 302 and signed_in(c)


def test_a_wrong_code_is_refused_and_counted_like_a_wrong_password(app, responder, clock):
    enrolled_client(app, responder, clock)
    c = app.test_client()
    login(c, responder.email)
    right = code_now(responder, clock)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    refused = code_step(c, wrong)
    assert refused.status_code == 401 and not signed_in(c)
    db.session.refresh(responder)
    assert responder.failed_logins == 1
    for _ in range(4):
        code_step(c, wrong)
    db.session.refresh(responder)
    assert responder.locked_until is not None  # the password's lockout
    assert code_step(c, right).status_code == 401 and not signed_in(c)


def test_a_used_code_is_refused_the_second_time(app, responder, clock):
    enrolled_client(app, responder, clock)
    code = code_now(responder, clock)
    first = app.test_client()
    login(first, responder.email)
    assert code_step(first, code).status_code == 302
    second = app.test_client()
    login(second, responder.email)
    assert code_step(second, code).status_code == 401 and not signed_in(second)
    clock.advance(seconds=30)
    assert code_step(second, code_now(responder, clock)).status_code == 302


def test_a_code_of_the_step_before_is_accepted_but_not_two_before(app, responder, clock):
    enrolled_client(app, responder, clock)
    c = app.test_client()
    login(c, responder.email)
    assert code_step(c, code_now(responder, clock, steps=-2)).status_code == 401
    assert code_step(c, code_now(responder, clock, steps=-1)).status_code == 302


def test_a_recovery_code_signs_in_once(app, responder, clock):
    codes = enrolled_client(app, responder, clock)
    c = app.test_client()
    login(c, responder.email)
    assert code_step(c, codes[3].upper()).status_code == 302 and signed_in(c)
    assert "9" in c.get("/staff/2fa").get_data(as_text=True)
    again = app.test_client()
    login(again, responder.email)
    assert code_step(again, codes[3]).status_code == 401 and not signed_in(again)


def test_the_code_step_expires(app, responder, clock):
    enrolled_client(app, responder, clock)
    c = app.test_client()
    login(c, responder.email)
    clock.advance(minutes=6)
    assert c.get("/staff/login/code").status_code == 302
    assert not signed_in(c)


def _staff_rules(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("staff."):
            url = re.sub(r"<(?:[^:>]+:)?[^>]+>", "1", rule.rule)
            yield rule, url


def test_an_admin_without_2fa_reaches_only_enrolment_on_every_staff_route(app, admin, clock):
    app.config["REQUIRE_2FA_ROLES"] = "admin"
    c = app.test_client()
    first = login(c, admin.email)
    assert first.location.endswith("/staff/2fa")
    token = csrf(c)
    # (And the shifts calendar: a secret URL for a calendar app, not a signed-in page.)
    open_endpoints = {"staff.two_factor", "staff.two_factor_confirm", "staff.oncall_calendar"}
    walked = 0
    for rule, url in _staff_rules(app):
        if rule.endpoint in open_endpoints:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = c.open(url, method=method, data={"csrf_token": token})
            assert response.status_code == 302, (method, url, response.status_code)
            assert response.location.endswith("/staff/2fa"), (method, url)
            walked += 1
    assert walked > 30
    enrol(c, admin, clock)
    assert c.get("/staff/").status_code == 200


def test_responders_may_go_without_when_only_admins_must(app, responder, clock):
    app.config["REQUIRE_2FA_ROLES"] = "admin"
    c = app.test_client()
    assert login(c, responder.email).location.endswith("/staff/")
    assert signed_in(c)


def test_an_empty_setting_requires_no_one(app, admin):
    app.config["REQUIRE_2FA_ROLES"] = ""
    c = app.test_client()
    login(c, admin.email)
    assert signed_in(c)


def test_an_admin_resets_a_colleagues_second_factor_audited(app, admin, responder, clock):
    enrolled_client(app, responder, clock)
    c = app.test_client()
    assert login(c, admin.email).status_code == 302
    page = c.get("/staff/accounts")
    form = f'form[action="/staff/accounts/{responder.id}/reset-2fa"]'
    done = c.post(f"/staff/accounts/{responder.id}/reset-2fa", data=form_fields(page, form))
    assert done.status_code == 302
    db.session.refresh(responder)
    assert not responder.has_two_factor and responder.totp_secret is None
    assert db.session.scalar(db.select(db.func.count()).select_from(RecoveryCode)) == 0
    event = db.session.scalars(db.select(AuditEvent).where(
        AuditEvent.action == "staff.2fa_reset")).one()
    assert event.actor_id == admin.id and event.target_id == str(responder.id)
    # they sign in with their password alone now
    again = app.test_client()
    assert login(again, responder.email).location.endswith("/staff/")


def test_a_responder_cannot_reset_anyones_second_factor(app, admin, responder, clock):
    app.config["REQUIRE_2FA_ROLES"] = ""
    enrolled_client(app, admin, clock)
    c = app.test_client()
    login(c, responder.email)
    refused = c.post(f"/staff/accounts/{admin.id}/reset-2fa", data={"csrf_token": csrf(c)})
    assert refused.status_code == 403
    db.session.refresh(admin)
    assert admin.has_two_factor


@pytest.mark.parametrize("flag", [True, False])
def test_set_password_clears_the_second_factor_only_with_the_flag(app, admin, clock, flag):
    enrolled_client(app, admin, clock)
    runner = app.test_cli_runner()
    args = ["set-password", admin.email] + (["--reset-2fa"] if flag else [])
    result = runner.invoke(args=args, input=f"{PASSWORD}x\n{PASSWORD}x\n")
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    user = db.session.get(StaffUser, admin.id)
    assert user.has_two_factor is (not flag)
    assert (db.session.scalar(db.select(db.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "staff.2fa_reset")) == 1) is flag


def test_a_responder_turns_it_off_with_a_current_code_but_a_required_admin_cannot(
        app, admin, responder, clock):
    app.config["REQUIRE_2FA_ROLES"] = "admin"
    enrolled_client(app, responder, clock)
    c = app.test_client()
    login(c, responder.email)
    code_step(c, code_now(responder, clock))
    clock.advance(seconds=30)
    page = c.get("/staff/2fa")
    off = 'form[action="/staff/2fa/off"]'
    refused = c.post("/staff/2fa/off", data=form_fields(page, off) | {"code": "12"})
    assert refused.status_code == 422
    done = c.post("/staff/2fa/off", data=form_fields(page, off) | {
        "code": code_now(responder, clock)})
    assert done.status_code == 302
    db.session.refresh(responder)
    assert not responder.has_two_factor

    a = app.test_client()
    login(a, admin.email)
    enrol(a, admin, clock)
    clock.advance(seconds=30)
    assert soup(a.get("/staff/2fa")).select_one(off) is None
    forced = a.post("/staff/2fa/off", data={"csrf_token": csrf(a),
                                            "code": code_now(admin, clock)})
    assert forced.status_code == 403
    db.session.refresh(admin)
    assert admin.has_two_factor
