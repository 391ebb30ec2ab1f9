"""The nginx configuration that serves the static export (``statuspage.publish``).

What is published, what is framed and what only the app answers are read from the views'
markers (``statuspage.web.markers``); the headers and the Content-Security-Policy are the
app's own (``statuspage.web.headers``).
"""

from __future__ import annotations

import re

from flask import Flask

from ..web.headers import EMBED_CSP, PAGE_CSP, fixed_headers
from ..web.markers import view_markers


def _paged_locations(app: Flask) -> list[str]:
    """A ``location`` per cacheable path with a query parameter: ``/history?page=3`` is
    the file ``history/page/3/index.html`` (``publish.file_for``)."""
    markers = view_markers(app)
    blocks = []
    for rule in markers.cacheable_rules:
        query = markers.cacheable[rule.endpoint].query
        if rule.arguments or len(query) != 1:
            continue  # the publisher writes pages of argument-free paths only
        (name, pattern), = query.items()
        capture = re.sub(r"\W", "_", rule.rule.strip("/")) + "_" + name
        blocks.append(f"""location = {rule.rule} {{
    if ($arg_{name} ~ "^(?<{capture}>{pattern.pattern})$") {{
        rewrite ^ {rule.rule}/{name}/${capture}/index.html last;
    }}
    try_files {rule.rule}/index.html =404;
}}""")
    return blocks


def _calendar_locations(app: Flask) -> list[str]:
    """A ``location`` per published calendar (``/maintenance.ics``): nginx's mime.types
    knows no ``.ics``, and a calendar app wants ``text/calendar``."""
    return [f"""location = {rule.rule} {{
    types {{ text/calendar ics; }}
}}""" for rule in view_markers(app).cacheable_rules
            if not rule.arguments and rule.rule.endswith(".ics")]


def nginx_locations(app: Flask, root: str, upstream: str, *, max_age: int = 1, swr: int = 1,
                    stale_if_error: int = 86400, indent: int = 4) -> str:
    """The inside of an nginx ``server {}`` that serves the export at ``root`` and sends
    what only the app can answer to gunicorn at ``upstream`` (host:port).

    The README prints it; ``make bench`` runs it.
    """
    cache = f"public, max-age={max_age}, stale-while-revalidate={swr}, " \
            f"stale-if-error={stale_if_error}"

    def headers(frameable: bool, cache_control: str = cache, pad: str = "    ") -> str:
        csp = EMBED_CSP if frameable else PAGE_CSP
        lines = [f'add_header Cache-Control "{cache_control}" always;']
        lines += [f'add_header {name} "{value}" always;'
                  for name, value in fixed_headers(csp, frameable=frameable)]
        return ("\n" + pad).join(lines)

    markers = view_markers(app)
    framed = "|".join(re.escape(path.lstrip("/")) for path in markers.frameable_paths())
    dynamic = "|".join(re.escape(prefix) for prefix in markers.dynamic_prefixes)
    paged = "\n".join(_paged_locations(app) + _calendar_locations(app))
    text = f"""root {root};
charset utf-8;
charset_types text/css text/xml application/json application/rss+xml
              application/atom+xml image/svg+xml application/javascript text/calendar;
gzip_static on;        # the .gz files beside each page, compressed once
etag on;
{headers(False, pad="")}

location / {{
    try_files $uri $uri/index.html =404;
}}
location = / {{
    try_files /index.html =404;
}}
location ~ /\\. {{    # the publisher's stamp and temporary files
    return 404;
}}
{paged}
location ~ ^/({framed})$ {{    # other sites may frame these
    try_files $uri $uri/index.html =404;
    {headers(True)}
}}
location /api/ {{    # widgets on other sites read the API from the browser
    {headers(False)}
    add_header Access-Control-Allow-Origin "*" always;
}}
location /static/ {{
    {headers(False, "public, max-age=300")}
}}
location ~ ^/({dynamic})(/|$) {{    # sessions, forms, tokens: the app itself
    proxy_pass http://{upstream};
    proxy_set_header Host $host;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto $scheme;
}}
"""
    pad = " " * indent
    return "\n".join(pad + line if line else line for line in text.splitlines())
