"""Choices at subscribe time and the preferences page (issue 13, 1 and 2), through the real
pages and a real SMTP server: what is stored, every email's link to the preferences page,
bad input on every new field, and tokens that are tampered, foreign or for another
purpose. Nothing says whether an address is subscribed."""

from __future__ import annotations

import re

import pytest
from itsdangerous import URLSafeTimedSerializer

from statuspage import subscriptions, tokens
from statuspage.extensions import db
from statuspage.models import Delivery, Notification, Subscriber
from tests.conftest import form_fields, soup
from tests.smtp import app, make_subscriber, smtp, tick  # noqa: F401  (fixtures)

MANAGE_SUBJECT = "Your Metabolic-Tracker status emails"


def subscriber(email):
    db.session.expire_all()
    return db.session.scalar(db.select(Subscriber).where(Subscriber.email == email))


def ids(components, *names):
    return [str(c.id) for c in components if c.name in names]


def subscribe_form(client, **fields):
    page = client.get("/subscribe")
    data = form_fields(page, "form[action='/subscribe']")
    data.update(email="pat@example.test", audience="participant")
    data.update(fields)
    return client.post("/subscribe", data=data)


def choices_of(sub):
    return (sub.scope, sorted(c.name for c in sub.components), sub.timezone,
            sub.maintenance_notices)


def everything_counted():
    return (db.session.scalar(db.select(db.func.count(Subscriber.id))),
            db.session.scalar(db.select(db.func.count(Notification.id))),
            db.session.scalar(db.select(db.func.count(Delivery.id))))


def preferences_url(sub):
    return f"/subscription/{tokens.preferences_token(sub.public_id)}"


# --- /subscribe --------------------------------------------------------------------------


def test_the_subscribe_form_offers_everything_or_features_and_a_zone(app, components):
    page = soup(app.test_client().get("/subscribe"))
    form = page.select_one("form[action='/subscribe']")
    assert form.select_one("input[name=scope][value=all]").has_attr("checked")
    boxes = form.select("fieldset.components-choice input[type=checkbox][name=components]")
    assert [b.parent.get_text(strip=True) for b in boxes] == [c.name for c in components]
    zone = form.select_one("select#timezone[name=timezone]")
    assert page.select_one("label[for=timezone]")
    # Without script: the site's zone; the script may pick the browser's instead.
    assert zone.select_one("option[selected]")["value"] == "UTC"
    assert zone.has_attr("data-zone-from-browser")
    assert page.select_one("script[src$='/static/js/subscriber-choices.js']")


def test_subscribe_to_some_features_in_a_zone_stores_them_after_double_opt_in(
        app, smtp, components):
    client = app.test_client()
    response = subscribe_form(client, scope="some", timezone="Europe/Berlin",
                              components=ids(components, "Login", "Saving entries"))
    assert response.status_code == 303
    sub = subscriber("pat@example.test")
    assert sub.status == "pending"
    assert choices_of(sub) == ("some", ["Login", "Saving entries"], "Europe/Berlin", True)
    tick()
    [confirm] = smtp.to("pat@example.test")
    # The confirmation links to the preferences page beside the unsubscribe link.
    assert re.search(r"https://status\.example\.test/subscription/\S+", confirm.text())
    assert re.search(r"https://status\.example\.test/unsubscribe/\S+", confirm.text())
    assert "/subscription/" in confirm.html()


def test_ticks_without_some_are_ignored_and_everything_is_the_default(app, components):
    subscribe_form(app.test_client(), components=ids(components, "Login"))
    assert choices_of(subscriber("pat@example.test")) == ("all", [], "UTC", True)


@pytest.mark.parametrize("fields, field, message", [
    ({"scope": "some"}, "components", subscriptions.NO_COMPONENT_ERROR),
    ({"scope": "some", "components": ["999999"]}, "components",
     subscriptions.UNKNOWN_COMPONENT_ERROR),
    ({"scope": "some", "components": ["Login"]}, "components",
     subscriptions.UNKNOWN_COMPONENT_ERROR),
    ({"scope": "some", "components": ["99999999999999999999"]}, "components",
     subscriptions.UNKNOWN_COMPONENT_ERROR),
    ({"scope": "a few"}, "scope", subscriptions.SCOPE_ERROR),
    ({"timezone": "Mars/Olympus"}, "timezone", subscriptions.TIMEZONE_ERROR),
    ({"timezone": "europe/berlin"}, "timezone", subscriptions.TIMEZONE_ERROR),
    ({"timezone": "../../etc/passwd"}, "timezone", subscriptions.TIMEZONE_ERROR),
])
def test_bad_choices_at_subscribe_get_a_clear_error_and_change_nothing(
        app, components, fields, field, message):
    before = everything_counted()
    response = subscribe_form(app.test_client(), **fields)
    assert response.status_code == 400
    page = soup(response)
    assert message in page.select_one("#form-errors").get_text()
    assert page.select_one(f"#{field}-error").get_text(strip=True) == message
    assert everything_counted() == before


def test_ten_thousand_components_in_one_form_change_nothing(app, components,
                                                           make_subscriber):
    sub = make_subscriber("known@example.test")
    before = everything_counted()
    many = [str(components[0].id)] * 10_000
    assert subscribe_form(app.test_client(), scope="some",
                          components=many).status_code == 413
    client = app.test_client()
    page = client.get(preferences_url(sub))
    data = form_fields(page, "form.preferences-form")
    data.update(scope="some", components=many)
    assert client.post(preferences_url(sub), data=data).status_code == 413
    assert everything_counted() == before
    assert choices_of(subscriber("known@example.test")) == ("all", [], None, True)


def test_subscribing_a_confirmed_address_again_changes_none_of_its_choices(
        app, smtp, components, make_subscriber):
    sub = make_subscriber("pat@example.test")
    first = subscribe_form(app.test_client(), email="new@example.test")
    again = subscribe_form(app.test_client(), scope="some", timezone="Asia/Tokyo",
                           audience="coach", components=ids(components, "Login"))
    # The same answer as for a new address: nothing says it is subscribed.
    assert (again.status_code, again.headers["Location"]) == (
        first.status_code, first.headers["Location"])
    assert choices_of(subscriber("pat@example.test")) == ("all", [], None, True)
    assert subscriber("pat@example.test").audience == "participant"
    tick()
    [manage] = smtp.to("pat@example.test")
    assert manage.subject == MANAGE_SUBJECT
    text = manage.text()
    # The manage email sends them to their preferences page, not round the houses.
    assert "subscribe again" not in text and "unsubscribe with the link below" not in text
    body = text.split("The Metabolic-Tracker Team", 1)[0]
    assert re.search(rf"https://status\.example\.test/subscription/"
                     rf"{re.escape(tokens.preferences_token(sub.public_id)[:8])}", body)


# --- The preferences page ---------------------------------------------------------------


def test_the_preferences_page_shows_and_changes_every_choice(app, components,
                                                             make_subscriber):
    sub = make_subscriber("pat@example.test")
    client = app.test_client()
    url = preferences_url(sub)
    page = client.get(url)
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert "pat@example.test" not in page.get_data(as_text=True)
    data = form_fields(page, "form.preferences-form")
    assert (data["audience"], data["scope"], data["timezone"],
            data["maintenance_notices"]) == ("participant", "all", "UTC", "on")
    data.update(audience="coach", scope="some", timezone="America/New_York",
                maintenance_notices="off",
                components=ids(components, "Login", "Food photo analysis"))
    response = client.post(url, data=data)
    assert response.status_code == 303
    saved = client.get(response.headers["Location"])
    assert "Your preferences are saved" in saved.get_data(as_text=True)
    sub = subscriber("pat@example.test")
    assert sub.audience == "coach"
    assert choices_of(sub) == ("some", ["Food photo analysis", "Login"],
                               "America/New_York", False)
    # The page shows them back.
    shown = soup(saved).select_one("form.preferences-form")
    assert sorted(b["value"] for b in shown.select("input[name=components][checked]")) == \
        sorted(ids(components, "Login", "Food photo analysis"))
    assert shown.select_one("select#timezone option[selected]")["value"] == "America/New_York"
    assert shown.select_one("input[name=maintenance_notices][value=off]").has_attr("checked")
    # Back to everything.
    data = form_fields(saved, "form.preferences-form")
    data.update(scope="all")
    client.post(url, data=data)
    assert choices_of(subscriber("pat@example.test"))[:2] == ("all", [])


@pytest.mark.parametrize("fields, field", [
    ({"components": ["424242"], "scope": "some"}, "components"),
    ({"scope": "some"}, "components"),
    ({"timezone": "Nowhere/Land"}, "timezone"),
    ({"audience": "doctor"}, "audience"),
    ({"maintenance_notices": "sometimes"}, "maintenance_notices"),
    ({"scope": "<script>"}, "scope"),
])
def test_bad_preferences_get_a_clear_error_and_change_nothing(app, components,
                                                              make_subscriber, fields, field):
    sub = make_subscriber("pat@example.test")
    client = app.test_client()
    url = preferences_url(sub)
    data = form_fields(client.get(url), "form.preferences-form")
    data.update(fields)
    response = client.post(url, data=data)
    assert response.status_code == 400
    assert soup(response).select_one(f"#{field}-error")
    assert "<script>" not in response.get_data(as_text=True)
    assert choices_of(subscriber("pat@example.test")) == ("all", [], None, True)
    assert subscriber("pat@example.test").audience == "participant"


def _foreign_token(public_id: str) -> str:
    """Another site's preferences token (another SECRET_KEY) for the same id."""
    return URLSafeTimedSerializer("another-site-secret",
                                  salt="statuspage.subscriber.preferences").dumps(public_id)


def test_tampered_foreign_and_wrong_purpose_tokens_change_nothing(app, components,
                                                                  make_subscriber):
    sub = make_subscriber("pat@example.test")
    other = make_subscriber("other@example.test")
    good = tokens.preferences_token(sub.public_id)
    client = app.test_client()
    data = form_fields(client.get(f"/subscription/{good}"), "form.preferences-form")
    data.update(scope="some", components=ids(components, "Login"), audience="coach")
    bad_tokens = [
        good[:-2] + ("AA" if not good.endswith("AA") else "BB"),  # tampered
        _foreign_token(sub.public_id),  # another site's
        tokens.unsubscribe_token(sub.public_id),  # another purpose
        tokens.confirm_token(sub.public_id),
        "x" * 5000,
        "",
    ]
    for token in bad_tokens:
        if not token:
            continue
        page = client.get(f"/subscription/{token}")
        assert page.status_code == 400, token
        assert "This link is not valid" in page.get_data(as_text=True)
        for path in (f"/subscription/{token}", f"/subscription/{token}/unsubscribe"):
            assert client.post(path, data=data).status_code == 400, (path, token)
    for person in ("pat@example.test", "other@example.test"):
        assert choices_of(subscriber(person)) == ("all", [], None, True)
        assert subscriber(person).status == "confirmed"
    # The good token still works; another subscriber's token is theirs alone.
    assert client.post(f"/subscription/{good}", data=data).status_code == 303
    assert choices_of(subscriber("pat@example.test"))[0] == "some"
    assert choices_of(subscriber("other@example.test"))[0] == "all"
    assert other.public_id not in good


def test_a_deleted_subscribers_link_is_dead(app, clock, admin, make_subscriber):
    sub = make_subscriber("pat@example.test")
    url = preferences_url(sub)
    subscriptions.delete_subscriber(sub, actor=admin, now=clock())
    db.session.commit()
    make_subscriber("pat@example.test")  # the same address again: a new subscriber
    assert app.test_client().get(url).status_code == 400


def test_unsubscribe_from_the_preferences_page(app, clock, make_subscriber):
    sub = make_subscriber("pat@example.test")
    client = app.test_client()
    url = preferences_url(sub)
    page = client.get(url)
    form = soup(page).select_one(f"form[action='{url}/unsubscribe']")
    assert form is not None
    data = {i["name"]: i.get("value", "") for i in form.select("input[name]")}
    # Without the session's CSRF token: refused, nothing changes.
    assert app.test_client().post(f"{url}/unsubscribe").status_code == 400
    assert subscriber("pat@example.test").status == "confirmed"
    response = client.post(f"{url}/unsubscribe", data=data)
    assert response.status_code == 200
    assert "You are unsubscribed" in response.get_data(as_text=True)
    assert subscriber("pat@example.test").status == "unsubscribed"
    # The page now says so and offers no choices (subscribing again is double opt-in).
    again = soup(client.get(url))
    assert again.select_one("form.preferences-form") is None
    assert "subscribe again" in again.get_text()


def test_the_preferences_page_is_served_by_the_app_behind_nginx(app):
    from statuspage.serving.nginx import nginx_locations

    config = nginx_locations(app, "/srv/status", "127.0.0.1:8000")
    dynamic = re.search(r"location ~ \^/\(([^)]*)\)\(/\|\$\) \{\s*# sessions", config)
    assert dynamic and "subscription" in dynamic.group(1).split("|")
