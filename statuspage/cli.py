"""``flask --app statuspage ...`` commands: thin wrappers over the domain modules."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Optional

import click
from flask import Flask, current_app

from . import accounts, seed, two_factor
from .addresses import normalise_staff_email
from .clock import utcnow
from .extensions import db
from .errors import ValidationError
from .models import StaffUser
from .transactions import write_transaction

def _read_password(prompt: str) -> str:
    if sys.stdin.isatty():
        return click.prompt(prompt, hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\r\n")


def _staff_or_exit(email: str) -> StaffUser:
    user = db.session.scalar(
        db.select(StaffUser).where(StaffUser.email == normalise_staff_email(email)))
    if user is None:
        click.echo("No staff account with that email.", err=True)
        raise SystemExit(1)
    return user


def _fail_validation(exc: ValidationError):
    for field, message in exc.errors.items():
        click.echo(f"{field}: {message}", err=True)
    raise SystemExit(1)


@click.command("seed")
def seed_command():
    """Add the default components (idempotent)."""
    with write_transaction():
        added = seed.seed_components(utcnow())
    click.echo(f"Seeded {added} component(s).")
    from .monitors.cli import seed_targets_or_exit

    monitors = seed_targets_or_exit()
    if monitors:
        click.echo(f"Seeded {monitors} monitor(s) from MONITOR_TARGETS.")


@click.command("create-staff")
@click.argument("email")
@click.option("--role", type=click.Choice(["admin", "responder"]), default="responder")
def create_staff_command(email, role):
    """Create a staff account; reads the password (one line from stdin when piped)."""
    password = _read_password("Password")  # asked before the write lock is taken
    try:
        with write_transaction():
            accounts.create_staff(email, role, password, actor=None, now=utcnow())
    except ValidationError as exc:
        _fail_validation(exc)
    click.echo(f"Created {role} {normalise_staff_email(email)}.")


@click.command("set-password")
@click.argument("email")
@click.option("--reset-2fa", "reset_2fa", is_flag=True,
              help="Also clear their two-factor sign-in (they set it up again).")
def set_password_command(email, reset_2fa):
    """Set a staff member's password (for a locked-out admin); ends their sessions.

    With --reset-2fa, their second factor is cleared too (audited); without, it stays.
    """
    _staff_or_exit(email)  # before the prompt: a mistyped address is told at once
    password = _read_password("New password")
    try:
        # The account read again under the lock: the prompt may have taken a while.
        with write_transaction():
            user = _staff_or_exit(email)
            accounts.set_password(user, password, actor=None, now=utcnow())
            if reset_2fa:
                two_factor.reset(user, actor=None, now=utcnow())
    except ValidationError as exc:
        _fail_validation(exc)
    click.echo("Password set." + (" Two-factor sign-in cleared." if reset_2fa else ""))


def ensure_first_admin() -> tuple[str, str | None] | None:
    """Create the first admin if there is none; (email, generated password or None).

    Commits (the look-up and the creation in one write transaction: two starts at once
    make one admin). None when an admin exists. The password is None when it came from
    ADMIN_PASSWORD (it is never printed then).
    """
    email = current_app.config["ADMIN_EMAIL"]
    given = current_app.config["ADMIN_PASSWORD"]
    password = given or accounts.generate_password()
    try:
        with write_transaction():
            if db.session.scalar(db.select(StaffUser.id).where(StaffUser.role == "admin")):
                return None
            accounts.create_staff(email, "admin", password, actor=None, now=utcnow())
    except ValidationError as exc:
        _fail_validation(exc)
    return normalise_staff_email(email), (None if given else password)


def _echo_first_admin(created: tuple[str, str | None]) -> None:
    email, password = created
    sign_in = f"{current_app.config['PUBLIC_URL']}/staff/login"
    click.echo("")
    click.echo(f"  First admin created. Sign in at {sign_in} with:")
    click.echo(f"    email:    {email}")
    if password is None:
        click.echo("    password: (the one in STATUSPAGE_ADMIN_PASSWORD)")
    else:
        click.echo(f"    password: {password}")
        click.echo("  This password is shown only once.")
    click.echo("")


@click.command("ensure-admin")
def ensure_admin_command():
    """Create the first admin if there is none (ADMIN_EMAIL, ADMIN_PASSWORD)."""
    created = ensure_first_admin()
    if created is None:
        click.echo("An admin account exists.")
        return
    _echo_first_admin(created)


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _wait_until_serving(host: str, port: int, procs, seconds: float = 60) -> bool:
    """True once a worker answers /health/live (the server binds before its workers boot)."""
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/health/live"
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and all(p.poll() is None for p in procs):
        try:
            # Patient: a worker's first answer can take seconds while everything starts at
            # once, and gunicorn's access log writes a probe that gave up as "500 0".
            with urllib.request.urlopen(url, timeout=10) as response:
                if response.status == 200:
                    return True
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    return False


#: The servers and gunicorn worker classes ``serve`` knows (WEB_SERVER, WEB_WORKER_CLASS).
SERVERS = ("granian", "gunicorn")
GUNICORN_WORKERS = ("asgi", "gthread", "sync")


def _server_command(cfg, host: str, port: int, workers: int) -> list[str]:
    """The HTTP server's command line (WEB_SERVER); a message and exit 2 for an unknown
    one, before anything starts."""
    server, worker = cfg["WEB_SERVER"], cfg["WEB_WORKER_CLASS"]
    if server not in SERVERS or (server == "gunicorn" and worker not in GUNICORN_WORKERS):
        click.echo(f"WEB_SERVER must be one of {', '.join(SERVERS)} and, for gunicorn, "
                   f"WEB_WORKER_CLASS one of {', '.join(GUNICORN_WORKERS)} (got "
                   f"{server!r}, {worker!r})", err=True)
        raise SystemExit(2)
    return server_command(server, worker, host=host, port=port, workers=workers,
                          threads=cfg["WEB_THREADS"])


def server_command(server: str, worker_class: Optional[str], *, host: str, port: int,
                   workers: int, threads: int, access_log: bool = True,
                   extra: tuple[str, ...] = ()) -> list[str]:
    """The command line of ``server`` ("granian", or "gunicorn" with ``worker_class``) on
    ``statuspage.asgi:app`` (``statuspage.wsgi:app`` for gunicorn's WSGI workers); ``extra``
    before the app. ``serve``, the process tests and ``make bench`` start servers so."""
    bindir = os.path.dirname(sys.executable)
    if server == "granian":
        return [os.path.join(bindir, "granian"), "--interface", "asgi", "--workers",
                str(workers), "--host", host, "--port", str(port),
                *(["--access-log"] if access_log else []), "--respawn-failed-workers",
                *extra, "statuspage.asgi:app"]
    return [os.path.join(bindir, "gunicorn"), "--workers", str(workers),
            "--worker-class", worker_class, "--bind", f"{host}:{port}",
            *(["--access-logfile", "-"] if access_log else []),
            *(["--threads", str(threads)] if worker_class == "gthread" else []),
            *extra, "statuspage.asgi:app" if worker_class == "asgi" else "statuspage.wsgi:app"]


@click.command("serve")
@click.option("--host", default=None, help="Default: HOST (127.0.0.1).")
@click.option("--port", default=None, type=int, help="Default: PORT (5050).")
@click.option("--workers", default=None, type=int, help="Default: WEB_WORKERS.")
@click.option("--no-notifier", is_flag=True, help="Serve the web app only.")
@click.option("--no-monitor", is_flag=True, help="Do not start the monitor process.")
def serve_command(host, port, workers, no_notifier, no_monitor):
    """Serve with granian (WEB_SERVER) and run the notifier beside it; Ctrl-C stops both.

    Creates the first admin if there is none, and prints its sign-in last, once the server
    is listening, so that the server's own log lines do not push it off the screen.
    """
    cfg = current_app.config
    host = host or cfg["HOST"]
    port = port or cfg["PORT"]
    workers = workers or cfg["WEB_WORKERS"]
    if not _port_is_free(host, port):
        click.echo(f"Port {port} on {host} is in use (another server, or an earlier "
                   f"`make run` still running). Stop it, or choose another port: "
                   f"STATUSPAGE_PORT={port + 1} make run", err=True)
        raise SystemExit(2)
    commands = [_server_command(cfg, host, port, workers)]  # a bad WEB_SERVER stops here
    created = ensure_first_admin()
    from .monitors.cli import seed_targets_or_exit

    seed_targets_or_exit()  # a bad MONITOR_TARGETS stops here, saying why
    if not no_notifier and "notifier" in current_app.cli.commands:
        commands.append([sys.executable, "-m", "flask", "--app", "statuspage", "notifier"])
    if not no_notifier and not no_monitor:  # always: it idles until a monitor is added
        commands.append([sys.executable, "-m", "flask", "--app", "statuspage", "monitor"])
    if cfg.get("STATIC_EXPORT_DIR"):  # keeps the static copy of the public site current
        commands.append([sys.executable, "-m", "flask", "--app", "statuspage", "publisher"])
    procs = [subprocess.Popen(cmd) for cmd in commands]
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True
        for p in procs:
            if p.poll() is None:
                p.terminate()

    signal.signal(signal.SIGTERM, stop)
    try:
        if _wait_until_serving(host, port, procs):
            if created is not None:
                _echo_first_admin(created)
            click.echo(f"Serving on http://{host}:{port}/ — staff sign-in: "
                       f"{cfg['PUBLIC_URL']}/staff/login (Ctrl-C to stop)")
        while not stopping and all(p.poll() is None for p in procs):
            time.sleep(0.5)
    except KeyboardInterrupt:
        # Ctrl-C in a terminal has already sent SIGINT to every child (one process group):
        # give them a moment to stop on that before a second signal reaches them.
        deadline = time.monotonic() + 3
        for p in procs:
            try:
                p.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
    finally:
        stop()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
    codes = [p.returncode for p in procs]
    if any(c not in (0, -signal.SIGTERM, -signal.SIGINT) for c in codes):
        raise SystemExit(1)


@click.command("notifier")
@click.option("--once", is_flag=True, help="Run one tick and exit (tests, cron).")
def notifier_command(once):
    """Send the subscriber emails: a tick every NOTIFIER_INTERVAL_SECONDS (APScheduler).

    Run it as its own process, never inside the web workers. Several may run against
    one PostgreSQL. FIXED_NOW (tests only, under TESTING) makes this process take that
    instant as now.
    """
    import logging

    from . import scheduler

    app = current_app._get_current_object()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s "
                        "%(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    try:
        fixed = scheduler.fixed_clock(app.config)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    if fixed is not None:
        app.config["CLOCK"] = fixed
    if once:
        report = scheduler.run_once()
        click.echo(f"{report.enqueued} outage email(s) queued, {report.sent} sent, "
                   f"{report.retrying} to retry, {report.failed} failed.")
        return
    scheduler.run_forever(app)


def init_app(app: Flask) -> None:
    from .monitors.cli import monitor_command

    app.cli.add_command(monitor_command)
    for command in (seed_command, create_staff_command, set_password_command,
                    ensure_admin_command, serve_command, notifier_command):
        app.cli.add_command(command)
