"""``flask --app statuspage ...`` commands: thin wrappers over the domain modules."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import click
from flask import Flask, current_app

from . import accounts
from .clock import utcnow
from .extensions import db
from .errors import ValidationError
from .models import Component, StaffUser

#: The playbook's examples of what can break, as the default components.
DEFAULT_COMPONENTS = (
    ("Login", "Signing in to the app"),
    ("Saving entries", "Logging meals, measurements and other entries"),
    ("Charts & dashboards", "Charts and dashboards of your entries"),
    ("Food photo analysis", "Analysing food photos"),
    ("Report generation", "Generating reports"),
)


def seed_components(now) -> int:
    """Add the default components that are missing; returns how many were added."""
    existing = set(db.session.scalars(db.select(Component.name)))
    added = 0
    for position, (name, description) in enumerate(DEFAULT_COMPONENTS):
        if name in existing:
            continue
        db.session.add(Component(name=name, description=description, position=position,
                                 status="operational", created_at=now, updated_at=now))
        added += 1
    return added


def _read_password(prompt: str) -> str:
    if sys.stdin.isatty():
        return click.prompt(prompt, hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\r\n")


def _fail_validation(exc: ValidationError):
    for field, message in exc.errors.items():
        click.echo(f"{field}: {message}", err=True)
    raise SystemExit(1)


@click.command("seed")
def seed_command():
    """Add the default components (idempotent)."""
    added = seed_components(utcnow())
    db.session.commit()
    click.echo(f"Seeded {added} component(s).")


@click.command("create-staff")
@click.argument("email")
@click.option("--role", type=click.Choice(["admin", "responder"]), default="responder")
def create_staff_command(email, role):
    """Create a staff account; reads the password (one line from stdin when piped)."""
    password = _read_password("Password")
    try:
        accounts.create_staff(email, role, password, actor=None, now=utcnow())
    except ValidationError as exc:
        _fail_validation(exc)
    db.session.commit()
    click.echo(f"Created {role} {accounts.normalise_email(email)}.")


@click.command("set-password")
@click.argument("email")
def set_password_command(email):
    """Set a staff member's password (for a locked-out admin); ends their sessions."""
    user = db.session.scalar(
        db.select(StaffUser).where(StaffUser.email == accounts.normalise_email(email))
    )
    if user is None:
        click.echo("No staff account with that email.", err=True)
        raise SystemExit(1)
    password = _read_password("New password")
    try:
        accounts.set_password(user, password, actor=None, now=utcnow())
    except ValidationError as exc:
        _fail_validation(exc)
    db.session.commit()
    click.echo("Password set.")


@click.command("ensure-admin")
def ensure_admin_command():
    """Create the first admin if there is none (ADMIN_EMAIL, ADMIN_PASSWORD)."""
    if db.session.scalar(db.select(StaffUser.id).where(StaffUser.role == "admin")):
        click.echo("An admin account exists.")
        return
    email = current_app.config["ADMIN_EMAIL"]
    password = current_app.config["ADMIN_PASSWORD"] or accounts.generate_password()
    try:
        accounts.create_staff(email, "admin", password, actor=None, now=utcnow())
    except ValidationError as exc:
        _fail_validation(exc)
    db.session.commit()
    click.echo("")
    click.echo("  First admin created. Sign in at /staff/login with:")
    click.echo(f"    email:    {accounts.normalise_email(email)}")
    if current_app.config["ADMIN_PASSWORD"]:
        click.echo("    password: (the one in STATUSPAGE_ADMIN_PASSWORD)")
    else:
        click.echo(f"    password: {password}")
        click.echo("  This password is shown only once.")
    click.echo("")


@click.command("serve")
@click.option("--host", default=None, help="Default: HOST (127.0.0.1).")
@click.option("--port", default=None, type=int, help="Default: PORT (5050).")
@click.option("--workers", default=None, type=int, help="Default: WEB_WORKERS.")
@click.option("--no-notifier", is_flag=True, help="Serve the web app only.")
def serve_command(host, port, workers, no_notifier):
    """Serve with gunicorn and run the notifier beside it; Ctrl-C stops both."""
    cfg = current_app.config
    host = host or cfg["HOST"]
    port = port or cfg["PORT"]
    workers = workers or cfg["WEB_WORKERS"]
    bindir = os.path.dirname(sys.executable)
    worker = cfg["WEB_WORKER_CLASS"]
    commands = [[os.path.join(bindir, "gunicorn"), "--workers", str(workers),
                 "--worker-class", worker, "--bind", f"{host}:{port}", "--access-logfile", "-",
                 *(["--threads", str(cfg["WEB_THREADS"])] if worker == "gthread" else []),
                 "statuspage.asgi:app" if worker == "asgi" else "statuspage.wsgi:app"]]
    if not no_notifier and "notifier" in current_app.cli.commands:
        commands.append([sys.executable, "-m", "flask", "--app", "statuspage", "notifier"])
    if cfg.get("STATIC_EXPORT_DIR"):  # keeps the static copy of the public site current
        commands.append([sys.executable, "-m", "flask", "--app", "statuspage", "publisher"])
    procs = [subprocess.Popen(cmd) for cmd in commands]
    click.echo(f"Serving on http://{host}:{port}/ (Ctrl-C to stop)")

    def stop(*_):
        for p in procs:
            if p.poll() is None:
                p.terminate()

    signal.signal(signal.SIGTERM, stop)
    try:
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
    except KeyboardInterrupt:
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
        report = scheduler.notifier_round()
        click.echo(f"{report.enqueued} outage email(s) queued, {report.sent} sent, "
                   f"{report.retrying} to retry, {report.failed} failed.")
        return
    scheduler.run_forever(app)


def init_app(app: Flask) -> None:
    for command in (seed_command, create_staff_command, set_password_command,
                    ensure_admin_command, serve_command, notifier_command):
        app.cli.add_command(command)
