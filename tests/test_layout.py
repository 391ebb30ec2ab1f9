"""The house rules that a reader relies on, checked so that CI fails when one is broken.

Every ``import`` of a ``statuspage`` module is read from the source with ``ast``,
function-level imports included: an import hidden inside a function still makes a cycle.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "statuspage"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(current: str, is_package: bool, level: int, target: str | None) -> str:
    base = current.split(".")
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The statuspage modules ``name`` imports, anywhere in its source."""
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
            found.update(t for t in targets if t.startswith("statuspage"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _resolve(name, is_package, node.level, node.module)
            elif node.module and node.module.startswith("statuspage"):
                base = node.module
            else:
                continue
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in known else base)
    # Importing ``statuspage.x.y`` runs ``statuspage`` and ``statuspage.x`` first, but the
    # package ``statuspage`` is only the app factory: count what is named, not its parents.
    return {m for m in found if m in known and m != name}


def import_graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports_of(name, path, known) for name, path in mods.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


# The app factory (``statuspage/__init__.py``) imports every blueprint to register it;
# nothing imports it back but the entry points, so it is left out of the cycle check.
FACTORY = "statuspage"


def test_no_import_cycle_among_statuspage_modules():
    graph = {k: v - {FACTORY} for k, v in import_graph().items() if k != FACTORY}
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_cycle_check_sees_a_cycle_hidden_in_a_function(tmp_path):
    a = tmp_path / "a.py"
    a.write_text("from . import b\n")
    b = tmp_path / "b.py"
    b.write_text("def f():\n    from .a import thing\n")
    known = {"statuspage.a", "statuspage.b"}
    graph = {
        "statuspage.a": imports_of("statuspage.a", a, known),
        "statuspage.b": imports_of("statuspage.b", b, known),
    }
    assert find_cycle(graph) == ["statuspage.a", "statuspage.b", "statuspage.a"]


#: A module a reader can hold in mind; past this, split it by job. The README's layout
#: section and the before-stop hook say the same number.
MAX_MODULE_LINES = 450
#: Modules that may pass it, each with the reason.
LONG_MODULES_ALLOWED = {
    # Issue 22, decided after review: a list of documented keys, read one at a time, and
    # named by deployments and scripts, so it stays whole and where it is.
    "statuspage.config": "a list of documented configuration keys",
}


def test_no_module_is_too_long_to_read():
    found = modules()
    assert set(LONG_MODULES_ALLOWED) <= set(found)  # an allowance outliving its module goes
    long = {name: n for name, path in found.items()
            if name not in LONG_MODULES_ALLOWED
            and (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES}
    assert long == {}


def view_modules() -> set[str]:
    """Modules that declare routes (``@bp.route``, ``@bp.get``, ``@bp.post``)."""
    found = set()
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                for deco in node.decorator_list:
                    call = deco.func if isinstance(deco, ast.Call) else deco
                    if (isinstance(call, ast.Attribute) and call.attr in ("route", "get", "post")
                            and isinstance(call.value, ast.Name) and call.value.id == "bp"):
                        found.add(name)
    return found


def test_no_view_module_imports_another_view_module():
    views = view_modules()
    assert {"statuspage.public.page", "statuspage.public.api", "statuspage.staff.incidents"} <= views
    graph = import_graph()
    crossings = {(v, other) for v in views for other in graph[v] & views}
    assert crossings == set()


def test_domain_and_outbox_modules_import_no_view_and_mail_and_outbound_no_database():
    graph = import_graph()
    views = view_modules() | {"statuspage.web", "statuspage.staff"}
    lower = [m for m in graph if m != FACTORY and m.split(".")[1] in (
        "incidents", "components", "accounts", "subscriptions", "queries", "present", "outbox",
        "monitors",
        "audit", "models", "errors", "tokens", "addresses", "severity", "text", "clock")]
    assert {m: graph[m] & views for m in lower if graph[m] & views} == {}
    assert not {m for m in graph["statuspage.mail"]
                if m.split(".")[1] in ("extensions", "models", "transactions", "outbox")}
    # Every outbound HTTP request's module knows nothing of ours: no database, no Flask.
    assert graph["statuspage.outbound"] == set()
    # The severity table is a leaf (it imports nothing of ours), so the tables may check
    # its names without reaching up a floor.
    assert graph["statuspage.severity"] == set()
    for name in graph:
        if name == "statuspage.models" or name.startswith("statuspage.models."):
            assert {m for m in graph[name] if not m.startswith("statuspage.models")} <= {
                "statuspage.extensions", "statuspage.severity"}, name


# --- One outbound HTTP module (issue 22, point 4) ------------------------------------------

OUTBOUND = "statuspage.outbound"
#: What speaks HTTP, or could be made to by hand (a raw socket, TLS on one).
HTTP_CLIENTS = {"http.client", "urllib.request", "urllib3", "requests", "httpx", "aiohttp",
                "pycurl", "xmlrpc.client", "socket", "ssl", "apprise"}
#: Modules that import one of them for something that is not an outbound HTTP request,
#: and only what each needs; an entry no longer used fails the test, so none lingers.
NOT_HTTP = {
    # SMTP: smtplib makes the connection; socket and ssl give its timeouts and TLS context.
    "statuspage.mail": {"socket", "ssl"},
    # The server's side of a request: a client that stalls its body is shut for reading.
    "statuspage.web.bodies": {"socket"},
    # socket.gethostname(): which host and process wrote the heartbeat / holds the lease.
    "statuspage.heartbeat": {"socket"},
    "statuspage.monitors.runner": {"socket"},
    # `serve`: binds to see that its port is free, and asks our own server, which it has
    # just started on that port, for /health/live: not a request to the outside.
    "statuspage.cli": {"socket", "urllib.request"},
}
#: The one exception the issue allows ("Decided after review"): the paging and SMS
#: channels may call Apprise, which makes its own requests, once the host passed the
#: address rule, so a module that imports it must import ``outbound`` too. The names are
#: the ones ARCHITECTURE.md gives those channels; rename them here with the modules.
APPRISE_MODULES = {"statuspage.outbox.channels.page", "statuspage.outbox.channels.sms"}


def _named(module: str) -> set[str]:
    """The clients ``module`` is, or is inside of (``urllib3.util`` is urllib3)."""
    return {c for c in HTTP_CLIENTS if module == c or module.startswith(c + ".")}


def http_clients_of(path: Path) -> set[str]:
    """The HTTP clients a module imports anywhere in its source, however it names them
    (``from http import client``, ``importlib.import_module("httpx")`` included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found |= _named(alias.name)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found |= _named(node.module)
            for alias in node.names:
                found |= _named(f"{node.module}.{alias.name}")
        elif (isinstance(node, ast.Call) and node.args
              and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and ((isinstance(node.func, ast.Attribute)
                    and node.func.attr == "import_module")
                   or (isinstance(node.func, ast.Name) and node.func.id == "__import__"))):
            found |= _named(node.args[0].value)
    return found


def outbound_bypasses(mods: dict[str, Path], graph: dict[str, set[str]]) -> dict[str, list]:
    """Each module that speaks HTTP other than through ``outbound``, with what it uses;
    and each exception in NOT_HTTP that its module no longer needs."""
    wrong: dict[str, list] = {}
    for name, path in mods.items():
        clients = http_clients_of(path)
        if name == OUTBOUND:
            allowed = HTTP_CLIENTS - {"apprise"}
        elif name in APPRISE_MODULES and OUTBOUND in graph.get(name, set()):
            allowed = {"apprise"}
        else:
            allowed = NOT_HTTP.get(name, set())
        if clients - allowed:
            wrong[name] = sorted(clients - allowed)
        elif name in NOT_HTTP and allowed - clients:
            wrong[name] = [f"unused exception: {c}" for c in sorted(allowed - clients)]
    return wrong


def test_every_outbound_http_request_goes_through_the_one_module():
    assert outbound_bypasses(modules(), import_graph()) == {}


def test_the_outbound_check_sees_a_bypass_however_it_is_written(tmp_path):
    sources = {
        "statuspage.outbox.channels.push": "def send():\n    from http import client\n",
        "statuspage.outbox.channels.chat": "import importlib\nimportlib.import_module('httpx')\n",
        "statuspage.outbox.channels.fax": "from urllib3.util import Retry\n",
        "statuspage.mail": "import socket, ssl\nimport urllib.request\n",  # past its exception
        "statuspage.heartbeat": "import os\n",  # its exception no longer needed
        "statuspage.outbox.channels.sms": "import apprise\n",  # without the address rule
        "statuspage.outbox.channels.page": "import apprise\nfrom ... import outbound\n",
        "statuspage.outbox.channels.email": "from urllib.parse import urlsplit\n",
        "statuspage.outbound": "import http.client\nimport socket\nimport ssl\n",
    }
    mods = {}
    for number, (name, source) in enumerate(sources.items()):
        mods[name] = tmp_path / f"m{number}.py"
        mods[name].write_text(source)
    known = set(mods)
    graph = {name: imports_of(name, path, known) for name, path in mods.items()}
    assert outbound_bypasses(mods, graph) == {
        "statuspage.outbox.channels.push": ["http.client"],
        "statuspage.outbox.channels.chat": ["httpx"],
        "statuspage.outbox.channels.fax": ["urllib3"],
        "statuspage.mail": ["urllib.request"],
        "statuspage.heartbeat": ["unused exception: socket"],
        "statuspage.outbox.channels.sms": ["apprise"],
    }


# Operations record what happened (``statuspage.events``); the outbox decides who hears of
# it and through which channel. So an operation imports no channel, no queueing module of
# the outbox and nothing that sends: only the outbox's reads of what staff see.
OPERATIONS = ("statuspage.incidents", "statuspage.maintenance", "statuspage.components",
              "statuspage.record", "statuspage.api_write", "statuspage.subscriptions",
              "statuspage.roles", "statuspage.monitors.outages")
OUTBOX_READS = {"statuspage.outbox.status"}


def channels_imported(imported: set[str]) -> set[str]:
    """What of ``imported`` an operation may not import: the outbox (but its reads), the
    mail and the outbound HTTP modules."""
    return {m for m in imported
            if (m == "statuspage.outbox" or m.startswith("statuspage.outbox.")
                or m in ("statuspage.mail", "statuspage.outbound")) and m not in OUTBOX_READS}


def test_operations_record_events_and_name_no_channel():
    graph = import_graph()
    assert {m: channels_imported(graph[m]) for m in OPERATIONS
            if channels_imported(graph[m])} == {}
    # Each operation that causes a message says so through events, ...
    assert all("statuspage.events" in graph[m] for m in (
        "statuspage.incidents", "statuspage.maintenance", "statuspage.components",
        "statuspage.api_write", "statuspage.subscriptions"))
    # ... which sits below the outbox and never reaches up into it.
    assert graph["statuspage.events"] <= {"statuspage.models", "statuspage.extensions"}


def test_the_channel_check_sees_an_operation_that_queues_for_itself(tmp_path):
    known = {"statuspage.incidents", "statuspage.events", "statuspage.outbox",
             "statuspage.outbox.slack", "statuspage.outbox.status", "statuspage.mail"}
    fake = tmp_path / "incidents.py"
    fake.write_text("from . import events\nfrom .outbox import status\n"
                    "def declare():\n    from .outbox import slack\n")
    assert channels_imported(imports_of("statuspage.incidents", fake, known)) == {
        "statuspage.outbox.slack"}
    fake.write_text("from .outbox.status import email_status\nfrom . import mail\n")
    assert channels_imported(imports_of("statuspage.incidents", fake, known)) == {
        "statuspage.mail"}


# --- Only the outbox sends ---------------------------------------------------------------

#: What sends a message: ``statuspage.mail``'s SMTP session, the libraries that speak SMTP,
#: and the outbox's channels. Everything else queues a row and lets the engine send it.
SENDING_NAMES = {"SMTPSession"}
SENDING_LIBRARIES = {"smtplib", "flask_mail"}
#: ``mail`` speaks SMTP for the outbox; ``extensions`` creates Flask-Mail's object unbound.
MAY_SEND = {"statuspage.mail", "statuspage.extensions"}


def sends_itself(name: str, path: Path, known: set[str]) -> set[str]:
    """How ``name`` would send a message itself, outside the outbox: each sending name or
    library it imports or reaches through ``mail``, and each channel module it imports."""
    tree = ast.parse(path.read_text(), str(path))
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    mail_aliases: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in SENDING_LIBRARIES:
                    found.add(alias.name)
                if alias.name == "statuspage.mail":
                    mail_aliases.add(alias.asname or "statuspage.mail")
        elif isinstance(node, ast.ImportFrom):
            base = (_resolve(name, is_package, node.level, node.module) if node.level
                    else node.module or "")
            if base.split(".")[0] in SENDING_LIBRARIES:
                found.add(base)
            for alias in node.names:
                if base == "statuspage.mail" and alias.name in SENDING_NAMES:
                    found.add(f"statuspage.mail.{alias.name}")
                if f"{base}.{alias.name}" == "statuspage.mail":
                    mail_aliases.add(alias.asname or alias.name)
        elif (isinstance(node, ast.Attribute) and node.attr in SENDING_NAMES
              and isinstance(node.value, ast.Name) and node.value.id in mail_aliases):
            found.add(f"statuspage.mail.{node.attr}")
    found |= {m for m in imports_of(name, path, known)
              if m == "statuspage.outbox.channels" or m.startswith("statuspage.outbox.channels.")}
    return found


def outside_the_outbox_sending(mods: dict[str, Path]) -> dict[str, set[str]]:
    known = set(mods)
    return {name: found for name, path in mods.items()
            if name != "statuspage.outbox" and not name.startswith("statuspage.outbox.")
            and name not in MAY_SEND and (found := sends_itself(name, path, known))}


def test_only_the_outbox_sends_a_message():
    assert outside_the_outbox_sending(modules()) == {}


def test_the_sending_check_sees_a_module_that_sends_itself(tmp_path):
    sender = tmp_path / "sender.py"
    sender.write_text("from . import mail\n\ndef f(s):\n    return mail.SMTPSession(s)\n")
    direct = tmp_path / "direct.py"
    direct.write_text("from .mail import SMTPSession\n")
    channel = tmp_path / "channel.py"
    channel.write_text("def f():\n    from .outbox.channels import email\n")
    raw = tmp_path / "raw.py"
    raw.write_text("import smtplib\n")
    quiet = tmp_path / "quiet.py"
    quiet.write_text("from . import mail\nfrom .outbox import queue\nmail.staff_message\n")
    mods = {"statuspage.sender": sender, "statuspage.direct": direct,
            "statuspage.channel": channel, "statuspage.raw": raw, "statuspage.quiet": quiet,
            "statuspage.mail": PACKAGE / "mail.py", "statuspage.outbox.queue": quiet,
            "statuspage.outbox.channels": PACKAGE / "outbox" / "channels" / "__init__.py",
            "statuspage.outbox.channels.email": PACKAGE / "outbox" / "channels" / "email.py"}
    assert outside_the_outbox_sending(mods) == {
        "statuspage.sender": {"statuspage.mail.SMTPSession"},
        "statuspage.direct": {"statuspage.mail.SMTPSession"},
        "statuspage.channel": {"statuspage.outbox.channels.email"},
        "statuspage.raw": {"smtplib"},
    }


# --- Severity in one place ---------------------------------------------------------------

TEMPLATES = PACKAGE.parent / "templates"
SEVERITY_NAME = re.compile(r"SEV-[1-4]")
#: The one module that may name a severity: what each means is its table.
SEVERITY_MODULE = "statuspage.severity"
#: (module, string) pairs allowed elsewhere, each with its reason. config.py documents every
#: key with its default, and OUTAGE_EMAIL_SEVERITIES is by nature a list of severity names
#: operators write; its default is the table's ``outage_email`` (tests/test_severity.py
#: checks they agree).
SEVERITY_NAMES_ALLOWED = {("statuspage.config", "SEV-1,SEV-2")}


def severity_names_in_code(path: Path) -> list[tuple[int, str]]:
    """(line, text) of each string constant in the code that names a severity. A string
    standing alone as a statement (a docstring) says why, not what: it is left out, as are
    comments (which ``ast`` never sees)."""
    tree = ast.parse(path.read_text(), str(path))
    prose = {id(node.value) for node in ast.walk(tree)
             if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)}
    return sorted((node.lineno, node.value) for node in ast.walk(tree)
                  if isinstance(node, ast.Constant) and isinstance(node.value, str)
                  and id(node) not in prose and SEVERITY_NAME.search(node.value))


_JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.DOTALL)


def severity_names_in_template(path: Path) -> list[tuple[int, str]]:
    """(line, line's text) of each line of a template that names a severity outside a Jinja
    comment: what a page says about severities comes from the table (``severity_words``)."""
    text = _JINJA_COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), path.read_text())
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1)
            if SEVERITY_NAME.search(line)]


def test_no_module_but_severity_names_a_severity():
    found = {(name, text): line for name, path in modules().items() if name != SEVERITY_MODULE
             for line, text in severity_names_in_code(path)}
    assert set(SEVERITY_NAMES_ALLOWED) <= set(found), "an allowance no longer needed"
    assert {k: v for k, v in found.items() if k not in SEVERITY_NAMES_ALLOWED} == {}
    assert severity_names_in_code(modules()[SEVERITY_MODULE])  # the check does see strings
    in_templates = {str(path.relative_to(TEMPLATES)): names for path in sorted(
        TEMPLATES.rglob("*")) if path.is_file() and path.suffix in (".html", ".txt")
        if (names := severity_names_in_template(path))}
    assert in_templates == {}


def test_the_severity_check_sees_a_comparison_but_not_prose(tmp_path):
    fake = tmp_path / "fake.py"
    fake.write_text(
        '"""Tells the on-call of a SEV-1."""\n'
        "# A SEV-2 waits.\n"
        "def told(incident):\n"
        '    """Whether a SEV-1 tells them."""\n'
        '    return incident.severity in ("SEV-1", "SEV-2") or f"{incident.x} SEV-4" == ""\n')
    assert severity_names_in_code(fake) == [(5, " SEV-4"), (5, "SEV-1"), (5, "SEV-2")]
    page = tmp_path / "page.html"
    page.write_text("{# A SEV-1 comment,\nover two lines #}\n<p>Fine.</p>\n"
                    "<p>Every 15 minutes for SEV-1.</p>\n")
    assert severity_names_in_template(page) == [(4, "<p>Every 15 minutes for SEV-1.</p>")]


# --- The top floor in rooms (issue 22, point 6) --------------------------------------------

#: The public blueprints live in ``public/``; the serving machinery in ``serving/``. The two
#: entry points stay where deployments name them, as re-exports (``statuspage.asgi:app``).
PUBLIC_VIEWS = {"page", "subscribe", "feeds", "api", "api_v1", "widgets", "health"}
SERVING = {"render_cache", "refresher", "http_caching", "page_store", "site_state", "publish",
           "nginx", "asgi", "wsgi"}


def test_public_views_and_the_serving_machinery_each_live_in_their_room():
    mods = modules()
    assert {f"statuspage.public.{m}" for m in PUBLIC_VIEWS} <= set(mods)
    assert {f"statuspage.serving.{m}" for m in SERVING} <= set(mods)
    # Nothing named publish… or …refresh… lives outside serving/.
    stray = {name for name in mods
             if ("publish" in name.rsplit(".", 1)[-1] or "refresh" in name.rsplit(".", 1)[-1])
             and not name.startswith("statuspage.serving.")}
    assert stray == set()
    # A public blueprint outside public/ (a route on a module at the top) is a stray view.
    top_views = {v for v in view_modules() if v.count(".") == 1} - {"statuspage.auth"}
    assert top_views == set()
    # The entry points at the top only re-export serving's.
    for leaf in ("asgi", "wsgi"):
        assert import_graph()[f"statuspage.{leaf}"] == {f"statuspage.serving.{leaf}"}


# --- Claims and leases: the engine's alone -------------------------------------------------

#: The columns a claim writes. Only the engine sets them (models and migrations declare them).
CLAIM_COLUMNS = {"lease_until", "claim_token", "claimed_until", "notice_claimed_until"}
ENGINE = "statuspage.outbox.engine"
#: Modules that may take rows with SKIP LOCKED for work that is not a message, each with its
#: reason: the monitors' runner shares the due checks between check loops.
SKIP_LOCKED_ALLOWED = {"statuspage.monitors.runner"}


def claims_itself(path: Path) -> set[str]:
    """What of a claim a module writes: a claim column set by keyword (``.values(lease_until
    =...)``, a model built with one) or a ``with_for_update(skip_locked=...)``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg in CLAIM_COLUMNS:
                    found.add(keyword.arg)
                if keyword.arg == "skip_locked":
                    found.add("skip_locked")
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Attribute) and target.attr in CLAIM_COLUMNS:
                    found.add(target.attr)
    return found


def claiming_outside_the_engine(mods: dict[str, Path]) -> dict[str, set[str]]:
    return {name: found for name, path in mods.items()
            if name != ENGINE and not name.startswith("statuspage.models")
            and (found := claims_itself(path) - ({"skip_locked"} if name in
                                                 SKIP_LOCKED_ALLOWED else set()))}


def test_only_the_engine_claims_and_leases():
    assert claiming_outside_the_engine(modules()) == {}


def test_the_claim_check_sees_a_module_that_claims_for_itself(tmp_path):
    update = tmp_path / "update.py"
    update.write_text("def f(t, now):\n    return t.update().values(lease_until=now)\n")
    attribute = tmp_path / "attribute.py"
    attribute.write_text("def f(row, now):\n    row.claimed_until = now\n")
    locked = tmp_path / "locked.py"
    locked.write_text("def f(q):\n    return q.with_for_update(skip_locked=True)\n")
    reading = tmp_path / "reading.py"
    reading.write_text("def f(t, now):\n    return t.c.lease_until < now\n")
    mods = {"statuspage.update": update, "statuspage.attribute": attribute,
            "statuspage.locked": locked, "statuspage.reading": reading}
    assert claiming_outside_the_engine(mods) == {
        "statuspage.update": {"lease_until"}, "statuspage.attribute": {"claimed_until"},
        "statuspage.locked": {"skip_locked"}}
