"""View markers, stated once on the view, and what the app's URL map says with them.

``@cacheable``: the render cache (``render_cache``) and the publisher (``publish``) may keep
the view's bytes; ``@frameable``: other sites may frame it; ``@uses_session``: it reads or
sets the session cookie (every other public view is cookieless, so any cache may keep it).
The staff area uses the session by blueprint (``SESSION_BLUEPRINTS``).

``view_markers(app)`` reads the markers from ``app.url_map`` and ``app.view_functions``
once, on first use (routes cannot change after the first request).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Optional, TypeVar
from urllib.parse import parse_qsl, urlencode

from flask import Flask
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Rule

V = TypeVar("V", bound=Callable)

#: Blueprints whose every view may read and set the session cookie (nested ones included).
SESSION_BLUEPRINTS = frozenset({"staff", "auth"})

_EXTENSION_KEY = "statuspage.view_markers"


@dataclass(frozen=True)
class Cacheable:
    """A cacheable view's declaration: the query parameters it reads, each with the pattern
    of the values it accepts. A request with any other query parameter (or value) goes to
    the app uncached: the view may read it, the cache must not guess."""

    query: dict[str, re.Pattern] = field(default_factory=dict)


def cacheable(view: Optional[V] = None, *, query: Optional[dict[str, str]] = None):
    """Mark a GET view whose bytes the render cache and the publisher may keep.

    ``@cacheable`` or ``@cacheable(query={"page": r"[1-9][0-9]{0,5}"})``.
    """
    marker = Cacheable({name: re.compile(pattern) for name, pattern in (query or {}).items()})

    def mark(function: V) -> V:
        function.cacheable = marker  # type: ignore[attr-defined]
        return function

    return mark(view) if view is not None else mark


def frameable(view: V) -> V:
    """Mark a view that other sites may frame (the badge, the embed)."""
    view.frameable = True  # type: ignore[attr-defined]
    return view


def uses_session(view: V) -> V:
    """Mark a view outside the staff area that needs the session (e.g. a CSRF form)."""
    view.uses_session = True  # type: ignore[attr-defined]
    return view


def _first_segment(rule: str) -> str:
    """``/staff/incidents/<int:incident_id>`` -> ``staff``."""
    return re.split(r"[/<]", rule.lstrip("/"), maxsplit=1)[0]


def _first_segments(rule: str, count: int) -> str:
    """``/api/v1/pages/<page_id>``, 2 -> ``api/v1``."""
    return "/".join(re.split(r"[/<]", rule.lstrip("/"))[:count])


class ViewMarkers:
    """The markers of one app's views, derived once from its URL map."""

    def __init__(self, app: Flask):
        views = app.view_functions
        rules = list(app.url_map.iter_rules())
        self.session_endpoints = frozenset(
            endpoint for endpoint, view in views.items()
            if getattr(view, "uses_session", False)
            or any(name in SESSION_BLUEPRINTS for name in endpoint.split(".")[:-1]))
        self.frameable_endpoints = frozenset(
            endpoint for endpoint, view in views.items() if getattr(view, "frameable", False))
        #: endpoint -> its declaration, for the GET views marked @cacheable
        self.cacheable: dict[str, Cacheable] = {
            rule.endpoint: views[rule.endpoint].cacheable for rule in rules
            if "GET" in (rule.methods or ())
            and getattr(views.get(rule.endpoint), "cacheable", None) is not None}
        #: The cacheable rules, sorted by their text (the publisher's order).
        self.cacheable_rules: list[Rule] = sorted(
            (rule for rule in rules if rule.endpoint in self.cacheable), key=lambda r: r.rule)
        #: The first path segments of what only the app answers (forms, tokens, health):
        #: everything neither cacheable nor a static file, in the URL map's order. Where a
        #: first segment also holds cacheable views, two segments: ``api/v1`` (the write
        #: API) goes to the app, ``api/v2`` stays with the export.
        cached_segments = {_first_segment(rule.rule) for rule in self.cacheable_rules}
        self.dynamic_prefixes: list[str] = list(dict.fromkeys(
            _first_segments(rule.rule, 2 if _first_segment(rule.rule) in cached_segments
                            else 1)
            for rule in rules
            if rule.endpoint not in self.cacheable and rule.endpoint != "static"))
        self._adapter = app.url_map.bind("localhost")
        # Per path, so the render cache's miss path matches the URL map once per path.
        self.cacheable_at = lru_cache(maxsize=4096)(self._cacheable_at)

    def _cacheable_at(self, path: str) -> Optional[Cacheable]:
        """The declaration of the cacheable view at ``path`` (in its canonical spelling)."""
        try:
            endpoint, args = self._adapter.match(path, method="GET")
        except HTTPException:  # NotFound, MethodNotAllowed, RequestRedirect
            return None
        marker = self.cacheable.get(endpoint)
        if marker is None or self._adapter.build(endpoint, args) != path:
            return None  # /incidents/007, //: the view may answer them, the cache keeps /7, /
        return marker

    def cacheable_key(self, path: str, query: str) -> Optional[tuple[str, str]]:
        """The cache key of a request: (path, canonical query), or None when not cacheable."""
        marker = self.cacheable_at(path)
        if marker is None:
            return None
        if not query:
            return path, ""
        seen = {}
        for name, value in parse_qsl(query, keep_blank_values=True):
            rule = marker.query.get(name)
            if rule is None or name in seen or not rule.fullmatch(value):
                return None
            seen[name] = value
        return path, urlencode(sorted(seen.items()))

    def frameable_paths(self) -> list[str]:
        """The paths (without arguments) of the views other sites may frame."""
        return sorted(rule.rule for rule in self._adapter.map.iter_rules()
                      if rule.endpoint in self.frameable_endpoints and not rule.arguments)


def view_markers(app: Flask) -> ViewMarkers:
    """The app's ``ViewMarkers``, made on first use."""
    markers = app.extensions.get(_EXTENSION_KEY)
    if markers is None:
        markers = app.extensions[_EXTENSION_KEY] = ViewMarkers(app)
    return markers
