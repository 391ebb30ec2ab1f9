"""The house rules that a reader relies on, checked so that CI fails when one is broken.

Every ``import`` of a ``statuspage`` module is read from the source with ``ast``,
function-level imports included: an import hidden inside a function still makes a cycle.
"""

from __future__ import annotations

import ast
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


#: A module a reader can hold in mind; past this, split it by job.
MAX_MODULE_LINES = 470


def test_no_module_is_too_long_to_read():
    long = {name: n for name, path in modules().items()
            if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES}
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
    assert {"statuspage.public", "statuspage.api", "statuspage.staff.incidents"} <= views
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
    for name in graph:
        if name == "statuspage.models" or name.startswith("statuspage.models."):
            assert {m for m in graph[name] if not m.startswith("statuspage.models")} <= {
                "statuspage.extensions"}, name


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
