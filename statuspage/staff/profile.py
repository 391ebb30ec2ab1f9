"""A staff member's own profile (/staff/profile): how they are paged, a test page.

The ways (``paging.ways``): a phone number for SMS and Apprise URLs for push. What is saved
is never sent back in full, not even to its owner: the phone shows as "+1 *** *** 0123",
each URL as its service and scheme (and host, for a self-hosted one), each with a box to
remove it; a phone typed replaces the saved one, URLs typed are added. "Send me a test
page" queues a page through the engine like any other; the page shows what each way of
the latest one answered, as the notifier sends it.
"""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for

from .. import submissions
from ..clock import utcnow
from ..forms import ActionForm
from ..outbox import pages
from ..paging import ways
from .common import INVALID, actor, bp, commit_once, commit_or_show_errors


@bp.route("/profile", methods=["GET", "POST"], endpoint="profile")
def profile():
    """Your ways of being paged: save them, or show them with what the test page got."""
    user = actor()
    if request.method == "GET":
        return _render(user, {})
    ActionForm()  # CSRFProtect has already checked the token
    remove = {int(n) for n in request.form.getlist("remove_url") if n.isdigit()}
    done = commit_or_show_errors(
        ways.save_ways, user, phone=request.form.get("phone"),
        remove_phone=request.form.get("remove_phone") == "yes", remove=remove,
        new_urls=request.form.get("new_page_urls"), read=pages.url_reader(), actor=user,
        now=utcnow())
    if done.ok:
        flash("Your ways of being paged were saved." if done.result else "Nothing changed.",
              "success")
        return redirect(url_for("staff.profile"))
    return _render(user, done.errors, INVALID)


@bp.post("/profile/test-page", endpoint="profile_test_page")
def test_page():
    """Send me a test page: once per form shown, through every way of the profile."""
    ActionForm()  # CSRFProtect has already checked the token
    user = actor()
    press = submissions.parse_submission_id(request.form.get("submission_id"))
    done = commit_once("profile.test_page", pages.send_test_page, user, actor=user,
                       now=utcnow(), press=press)
    if done.repeat is not None:
        flash("This test page was already sent.", "info")
    else:
        flash("Test page queued: what each way answers shows below as it is sent "
              "(reload the page).", "success")
    return redirect(url_for("staff.profile", _anchor="test-page"))


def _render(user, errors, status=200):
    test = pages.latest_test_page(user)
    return render_template(
        "staff/profile.html", errors=errors, action_form=ActionForm(),
        phone=ways.mask_phone(user.phone), saved=pages.saved_ways(user),
        sms_on=bool(current_app.config.get("SMS_URL")),
        allow_private=bool(current_app.config.get("PAGE_ALLOW_PRIVATE_HOSTS")),
        max_urls=ways.MAX_PAGE_URLS, test=test,
        test_ways=pages.ways_of([test.id])[test.id] if test else [],
    ), status
