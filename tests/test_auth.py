"""Staff sign-in and sign-out through the real form."""

from __future__ import annotations

from .conftest import PASSWORD, form_fields, login, soup


def test_wrong_password_is_refused_and_repeated_failures_lock_the_account(
        app, client, responder, clock):
    response = login(client, responder.email, "not the password")
    assert response.status_code == 401
    assert "did not work" in soup(response).select_one(".form-error").get_text()
    assert client.get("/staff/").status_code == 302  # still signed out

    for _ in range(4):
        login(client, responder.email, "not the password")
    # Five failures: locked for a while, even with the right password...
    assert login(client, responder.email).status_code == 401
    # ...and an unknown address gets the same answer.
    assert login(client, "nobody@example.test").status_code == 401
    clock.advance(minutes=1)
    assert login(client, responder.email.upper()).status_code == 302


def test_next_only_leads_to_this_site(app, responder):
    for target, expected in [
        ("/staff/incidents/new", "/staff/incidents/new"),
        ("//evil.example/staff", "/staff/"),
        ("https://evil.example/", "/staff/"),
        ("/%2F%2Fevil.example", "/staff/"),
        ("/\\evil.example", "/staff/"),
    ]:
        client = app.test_client()
        response = login(client, responder.email, next_url=target)
        assert response.headers["Location"] == expected, target


def test_logout_needs_a_post_with_csrf_and_ends_the_session(app, responder_client):
    assert responder_client.get("/staff/logout").status_code == 405
    assert responder_client.post("/staff/logout").status_code == 400  # no CSRF token
    assert responder_client.get("/staff/").status_code == 200

    page = responder_client.get("/staff/")
    response = responder_client.post("/staff/logout",
                                     data=form_fields(page, "nav form"))
    assert response.headers["Location"] == "/staff/login"
    assert responder_client.get("/staff/").headers["Location"].startswith("/staff/login")


def test_login_form_asks_for_both_fields(app, client, responder):
    page = client.get("/staff/login")
    for email, password in (("", PASSWORD), (responder.email, ""), ("x" * 300, PASSWORD)):
        data = {**form_fields(page), "email": email, "password": password}
        response = client.post("/staff/login", data=data)
        assert response.status_code == 400
        assert "Enter your email address and your password." in soup(response).select_one(
            ".form-error").get_text()
    assert client.get("/staff/").status_code == 302


def test_login_form_needs_its_csrf_token(app, client, responder):
    response = client.post("/staff/login",
                           data={"email": responder.email, "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/staff/").status_code == 302
