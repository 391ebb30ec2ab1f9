"""Ids are written in ASCII digits only (issue 21, point 7).

Python's ``int()`` and werkzeug's ``<int:...>`` (a regex ``\\d``) take every Unicode digit:
an Arabic-Indic "١" or a fullwidth "１" was incident 1. A URL, a form field or a write-API
request naming an id that way gets a clear 404, 400 or 422 and never the row with id 1.
"""

from __future__ import annotations

import pytest

from statuspage.extensions import db
from statuspage.models import Incident
from statuspage.numbers import parse_id, whole_number

from .staff_support import declare, field_error, snapshot
from .test_api_v1 import make_key, oauth

#: "1" as other scripts write it: Arabic-Indic, Extended Arabic-Indic, fullwidth, Devanagari,
#: mathematical bold (``int()`` takes them all).
ONES = ["\u0661", "\u06f1", "\uff11", "\u0967", "\U0001d7cf"]


def quoted(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


@pytest.fixture
def incident(app, responder, components, make_incident):
    incident = make_incident(responder, components[:1], title="Glucose sync delayed")
    assert incident.id == 1
    return incident


def test_the_helper_reads_ascii_digits_only():
    for one in ONES:
        assert int(one) == 1  # what Python does: the reason for the helper
        assert parse_id(one) is None and whole_number(one) is None
    assert [parse_id(v) for v in ("1", " 7 ", 7, "0", "-1", "1_000", "+1", "", None, True,
                                  "2147483648", 1.0)] == [1, 7, 7, None, None, None, None,
                                                          None, None, None, None, None]
    assert whole_number("-3", signed=True) == -3 and whole_number("-3") is None


@pytest.mark.parametrize("one", ONES)
def test_a_url_with_another_scripts_digit_is_not_found(client, incident, one):
    assert client.get("/incidents/1").status_code == 200
    for path in (f"/incidents/{quoted(one)}", f"/incidents/{quoted(one)}/",
                 f"/components/{quoted(one)}/feed.rss"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert b"Glucose sync delayed" not in response.data


def test_a_staff_url_with_another_scripts_digit_is_not_found(responder_client, incident):
    assert responder_client.get("/staff/incidents/1").status_code == 200
    for one in ONES:
        response = responder_client.get(f"/staff/incidents/{quoted(one)}")
        assert response.status_code == 404
        assert b"Glucose sync delayed" not in response.data


@pytest.mark.parametrize("one", ONES[:3])
def test_a_form_field_with_another_scripts_digit_is_a_clear_error(
        app, responder_client, components, incident, one):
    before = snapshot()
    response = declare(responder_client, [], components=[one])
    assert response.status_code == 422
    assert "Unknown component" in field_error(response, "components")
    response = declare(responder_client, components[:1], previous_incident_id=one)
    assert response.status_code == 422
    assert "Unknown incident" in response.get_data(as_text=True)
    assert snapshot() == before


@pytest.mark.parametrize("one", ONES[:3])
def test_the_write_api_takes_no_other_scripts_digit(app, admin_client, client, components,
                                                    incident, one):
    key = make_key(admin_client)
    page = client.get("/api/v2/status.json").get_json()["page"]["id"]
    base = f"/api/v1/pages/{page}"
    assert client.get(f"{base}/incidents/1", headers=oauth(key)).status_code == 200
    response = client.get(f"{base}/incidents/{quoted(one)}", headers=oauth(key))
    assert response.status_code == 404 and response.get_json() == {"error": "Not found."}
    response = client.patch(f"{base}/incidents/{quoted(one)}", headers=oauth(key),
                            json={"incident": {"status": "resolved"}})
    assert response.status_code == 404
    response = client.patch(f"{base}/components/{quoted(one)}", headers=oauth(key),
                            json={"component": {"status": "major_outage"}})
    assert response.status_code == 404
    response = client.post(f"{base}/incidents", headers=oauth(key), json={"incident": {
        "name": "Sync slow", "status": "investigating", "component_ids": [one]}})
    assert response.status_code == 422 and "unknown component" in response.get_json()["error"]
    db.session.expire_all()
    assert db.session.get(Incident, 1).status != "resolved"
    assert db.session.scalar(db.select(db.func.count()).select_from(Incident)) == 1


def test_a_sign_in_code_in_another_script_is_a_wrong_code_not_a_500(app, responder, clock):
    """The right code written in Arabic-Indic digits: ``isdigit()`` took it, and comparing
    it with ``hmac.compare_digest`` raised (a 500)."""
    from .conftest import login
    from .test_two_factor import code_now, code_step, enrolled_client, signed_in

    enrolled_client(app, responder, clock)
    c = app.test_client()
    login(c, responder.email)
    right = code_now(responder, clock)
    arabic = right.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    refused = code_step(c, arabic)
    assert refused.status_code == 401 and not signed_in(c)
    assert code_step(c, right).status_code == 302 and signed_in(c)
