"""The commands a new user meets through ``make run``: seed, ensure-admin, serve."""

from __future__ import annotations

import socket

from statuspage.extensions import db
from statuspage.models import Component, StaffUser


def test_seed_is_idempotent(app, runner):
    assert "Seeded 5 component(s)." in runner.invoke(args=["seed"]).output
    assert "Seeded 0 component(s)." in runner.invoke(args=["seed"]).output
    assert db.session.scalar(db.select(db.func.count(Component.id))) == 5


def test_ensure_admin_prints_the_full_sign_in_url_and_the_password_once(app, runner):
    first = runner.invoke(args=["ensure-admin"])
    assert first.exit_code == 0
    assert "Sign in at https://status.example.test/staff/login with:" in first.output
    password = first.output.split("password: ", 1)[1].split()[0]
    admin = db.session.scalar(db.select(StaffUser))
    assert admin.role == "admin" and admin.must_change_password is False
    from statuspage.accounts import authenticate

    assert authenticate(admin.email, password, now=app.config["CLOCK"]()) is not None
    second = runner.invoke(args=["ensure-admin"])
    assert second.output.strip() == "An admin account exists."
    assert password not in second.output


def test_serve_on_a_busy_port_says_which_key_to_change(app, runner):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(args=["serve", "--host", "127.0.0.1", "--port", str(port)])
    assert result.exit_code == 2
    assert f"Port {port} on 127.0.0.1 is in use" in result.output
    assert f"STATUSPAGE_PORT={port + 1} make run" in result.output
    assert db.session.scalar(db.select(StaffUser.id)) is None  # nothing was created


def test_serve_with_an_unknown_server_says_what_it_takes_and_starts_nothing(
        make_app, runner):
    bad = make_app(WEB_SERVER="nginx")
    with bad.app_context():
        result = bad.test_cli_runner().invoke(
            args=["serve", "--host", "127.0.0.1", "--port", "0"])
        assert result.exit_code == 2
        assert "WEB_SERVER must be one of granian, gunicorn" in result.output
        assert "'nginx'" in result.output
        assert db.session.scalar(db.select(StaffUser.id)) is None  # nothing was created


def test_a_page_moved_to_another_port_links_to_that_port(make_app):
    """`STATUSPAGE_PORT=5090 make run` with PUBLIC_URL left alone: the sign-in address it
    prints, the emails' links and the API's page URL name port 5090, not the default 5050."""
    from statuspage import config

    moved = make_app(PUBLIC_URL=config.PUBLIC_URL, PORT=5090)
    with moved.app_context():
        output = moved.test_cli_runner().invoke(args=["ensure-admin"]).output
    assert "Sign in at http://127.0.0.1:5090/staff/login with:" in output
    page = moved.test_client().get("/api/v2/status.json").get_json()["page"]
    assert page["url"] == "http://127.0.0.1:5090"
    named = make_app(PUBLIC_URL="https://status.example.org/", PORT=5090)
    assert named.config["PUBLIC_URL"] == "https://status.example.org"
