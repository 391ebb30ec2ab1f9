"""What a subscriber gets by email, in one set of words for every surface that says it
(issue 23, point 6): /updates, /subscribe, the confirmation email (text and HTML), the
confirm page and the "You are subscribed" page. Without ``listed`` the words say what
anyone may choose; with it (``subscriptions.listed_choices``), what this subscriber chose,
listed back to them. Plain strings: each template escapes them as its format needs
(``templates/_what_you_get.html`` for HTML; the text email wraps them itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Mapping, Optional

from .outbox.rules import format_delay

CLOSING = ("Nothing else. Every email has a link to unsubscribe in one click, and one to "
           "change these choices.")
EVERY_SUBSCRIBER = ("An outage of the whole app reaches every subscriber, whatever they "
                    "chose.")


@dataclass(frozen=True)
class Promise:
    #: (label, words): "Outage emails", "Maintenance notices", "About", and for one
    #: subscriber "Times in".
    items: tuple[tuple[str, str], ...]
    closing: str = CLOSING


def delay_text(config: Mapping) -> str:
    """OUTAGE_EMAIL_DELAY_SECONDS in words: "30 minutes"."""
    return format_delay(timedelta(seconds=float(config["OUTAGE_EMAIL_DELAY_SECONDS"])))


def _names(names: tuple[str, ...]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def what_you_get(config: Mapping, listed=None) -> Promise:
    """The emails a subscriber gets, from ``config`` (SITE_NAME, the outage email's delay)
    and, for one subscriber, their choices (a ``subscriptions.Listed``)."""
    outage = (f"an email when a major outage of the {config['SITE_NAME']} app has lasted "
              f"more than {delay_text(config)}, and an all-clear email when it is over.")
    if listed is not None and not listed.maintenance_notices:
        maintenance = "none: you turned them off."
    else:
        maintenance = ("when maintenance is planned, shortly before it starts, when it "
                       "starts and when it is complete, and if it moves or is called off.")
    about: Optional[str]
    if listed is None:
        about = f"the features you choose, or everything. {EVERY_SUBSCRIBER}"
    elif listed.features:
        about = (f"only {_names(listed.features)}. An outage of the whole app reaches you "
                 "too.")
    else:
        about = "everything, features added later too."
    items = [("Outage emails", outage), ("Maintenance notices", maintenance),
             ("About", about)]
    if listed is not None:
        items.append(("Times in", listed.timezone))
    return Promise(tuple(items))
