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
