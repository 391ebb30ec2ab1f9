"""/staff/profile (issue 24, point 2): each staff member saves how they are paged, a phone
for SMS (E.164, checked with ``phonenumbers``) and Apprise URLs, and sees them masked,
never in full; bad input gets a 422 with the message at the field and saves nothing."""

from __future__ import annotations

import pytest

from statuspage.extensions import db
from statuspage.models import AuditEvent, StaffUser
from tests.conftest import form_fields, login, soup

TOPIC = "my-s3cret-topic-K2"
PUSHOVER = "pover://uQiRzpo4DXghDmr9QzzfQu27cmVRsG@azGDORePK8gMaC0QOYAMyEEuzJnyUi"


@pytest.fixture
def config():
    return {"PAGE_ALLOW_PRIVATE_HOSTS": True}


@pytest.fixture
def app(make_app, config):
    app = make_app(SMS_URL="json://127.0.0.1:9/sms", **config)
    with app.app_context():
        yield app


@pytest.fixture
def me(make_staff):
    return make_staff("responder", email="me@example.test")


@pytest.fixture
def me_client(app, me):
    client = app.test_client()
    assert login(client, me.email).status_code == 302
    return client


def save(client, **fields):
    page = client.get("/staff/profile")
    data = form_fields(page, "#ways-form")
    data.update(fields)
    return client.post("/staff/profile", data=data)


def stored(user):
    db.session.expire_all()
    fresh = db.session.get(StaffUser, user.id)
    return fresh.phone, fresh.page_urls


def test_saved_ways_are_shown_masked_never_in_full(app, me, me_client):
    done = save(me_client, phone=" +14155552671 ",
                new_page_urls=f"ntfy://127.0.0.1:8080/{TOPIC}\n\n{PUSHOVER}\nntfys://{TOPIC}x\n")
    assert done.status_code == 302
    assert stored(me) == ("+14155552671",
                          f"ntfy://127.0.0.1:8080/{TOPIC}\n{PUSHOVER}\nntfys://{TOPIC}x")
    page = me_client.get("/staff/profile")
    html = page.get_data(as_text=True)
    assert "saved" in soup(page).select_one(".flash").text
    assert soup(page).select_one(".saved-phone").text == "+1 *** *** 2671"
    assert [(li.select_one(".way-service").text, li.select_one(".way-url").text)
            for li in soup(page).select(".saved-ways li")] == [
        ("ntfy", "ntfy://127.0.0.1:8080/…"), ("Pushover", "pover://…"),
        ("ntfy", "ntfys://…")]  # (ntfy.sh's topic in the host's place: not shown)
    for secret in (TOPIC, "azGDORePK8gM", "uQiRzpo4", "4155552671"):
        assert secret not in html
    # The form never carries them back either: the boxes are empty.
    fields = form_fields(page, "#ways-form")
    assert fields["phone"] == "" and fields["new_page_urls"] == ""
    # The audit log says what changed without a secret.
    [event] = db.session.scalars(db.select(AuditEvent).where(
        AuditEvent.action == "staff.page_ways")).all()
    assert TOPIC not in repr(event.after) and "4155552671" not in repr(event.after)


def test_ways_are_removed_by_their_boxes_and_new_ones_added_after(app, me, me_client):
    me.phone, me.page_urls = "+14155552671", f"ntfy://127.0.0.1:1/a\n{PUSHOVER}"
    db.session.commit()
    done = save(me_client, remove_phone="yes", remove_url="1",
                new_page_urls="json://127.0.0.1:2/hook")
    assert done.status_code == 302
    assert stored(me) == (None, f"{PUSHOVER}\njson://127.0.0.1:2/hook")
    # A new number replaces the saved one; nothing typed keeps it.
    save(me_client, phone="+442071838750")
    assert stored(me)[0] == "+442071838750"
    save(me_client)
    assert stored(me)[0] == "+442071838750"
    assert "Nothing changed." in me_client.get("/staff/profile").get_data(as_text=True)


@pytest.mark.parametrize("phone, message", [
    ("4155552671", "international (E.164) form"),
    ("+1 415 555 2671", "international (E.164) form"),
    ("+1-415-555-2671", "international (E.164) form"),
    ("++14155552671", "international (E.164) form"),
    ("+15557654321", "not a valid phone number"),
    ("+1415555267199999", "international (E.164) form"),
    ("\x00+1", "international (E.164) form"),
])
def test_a_phone_that_is_not_e164_is_refused_at_its_field(app, me, me_client, phone,
                                                           message):
    response = save(me_client, phone=phone, new_page_urls="json://127.0.0.1:2/hook")
    assert response.status_code == 422
    assert message in soup(response).select_one("#phone-error").text
    assert soup(response).select_one("#phone")["aria-invalid"] == "true"
    assert stored(me) == (None, None)  # nor the good URL typed with it


@pytest.mark.parametrize("urls, message", [
    ("not a url", "Line 1: Apprise cannot read this URL."),
    ("json://127.0.0.1:2/hook\nhttps://example.com/x", "Line 2: Apprise cannot read this URL."),
    ("ntfy://[::1/topic", "Line 1: Apprise cannot read this URL."),
    ("ntfy://" + "a" * 2100, "Line 1: at most 2000 characters."),
    ("\n".join(f"json://127.0.0.1:{n}/h" for n in range(1, 12)), "At most 10 page URLs."),
])
def test_a_url_apprise_cannot_read_is_refused_by_its_line(app, me, me_client, urls, message):
    response = save(me_client, phone="+14155552671", new_page_urls=urls)
    assert response.status_code == 422
    error = soup(response).select_one("#new_page_urls-error").text
    assert message in error
    assert "example.com" not in error  # the message never repeats the URL
    assert stored(me) == (None, None)


@pytest.mark.parametrize("config", [{"PAGE_ALLOW_PRIVATE_HOSTS": False}])
@pytest.mark.parametrize("url, message", [
    (f"ntfys://127.0.0.1/{TOPIC}", "leads to a loopback address"),
    (f"ntfys://10.1.2.3/{TOPIC}", "leads to a private address"),
    (f"ntfy://8.8.8.8/{TOPIC}", "plain http"),
])
def test_a_private_or_plain_http_host_is_refused_at_save_without_the_key(
        app, me, me_client, url, message):
    response = save(me_client, new_page_urls=url)
    assert response.status_code == 422
    error = soup(response).select_one("#new_page_urls-error").text
    assert message in error and "PAGE_ALLOW_PRIVATE_HOSTS" in error
    assert TOPIC not in response.get_data(as_text=True)
    assert stored(me) == (None, None)


@pytest.mark.parametrize("config", [{"PAGE_ALLOW_PRIVATE_HOSTS": False}])
def test_a_public_service_is_saved_without_the_key(app, me, me_client):
    assert save(me_client, new_page_urls=PUSHOVER).status_code == 302
    assert stored(me) == (None, PUSHOVER)


def test_a_link_local_host_is_refused_even_with_the_key(app, me, me_client):
    response = save(me_client, new_page_urls="ntfy://169.254.169.254/topic")
    assert response.status_code == 422
    assert "link-local" in soup(response).select_one("#new_page_urls-error").text


def test_every_staff_member_has_the_profile_in_the_nav(app, me_client):
    page = me_client.get("/staff/profile")
    assert page.status_code == 200
    assert [a["href"] for a in soup(page).select(".staff-nav a") if a.text == "Profile"] == [
        "/staff/profile"]
    assert soup(page).select_one(".phi-warning")


def test_the_profile_needs_a_sign_in(app, client):
    assert client.get("/staff/profile").status_code == 302
