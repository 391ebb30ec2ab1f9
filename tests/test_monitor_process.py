"""The monitor as real processes: ``flask --app statuspage monitor``. Two of them, with
the same fixed "now", check each monitor once (the lease); SIGTERM stops them cleanly; a
bad MONITOR_TARGETS stops one at start with a message, not a traceback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from statuspage import audit
from statuspage.extensions import db
from statuspage.models import MonitorCheck, MonitorHeartbeat
from statuspage.monitors import settings
from tests.conftest import T0
from tests.tracked_app import tracked  # noqa: F401  (fixture)

pytestmark = pytest.mark.process

ROOT = Path(__file__).resolve().parent.parent
FLASK = str(Path(sys.executable).parent / "flask")


def env(database_url, instance, **extra):
    e = {k: v for k, v in os.environ.items()
         if not k.startswith("STATUSPAGE_") and k != "DATABASE_URL"}
    e.update({"STATUSPAGE_DATABASE_URL": database_url,
              "STATUSPAGE_INSTANCE_PATH": str(instance),
              "STATUSPAGE_SECRET_KEY": "test-secret-key",
              "STATUSPAGE_TESTING": "true", "STATUSPAGE_FIXED_NOW": T0.isoformat(),
              "STATUSPAGE_MONITOR_ROUND_SECONDS": "0.05"})
    e.update({f"STATUSPAGE_{k}": v for k, v in extra.items()})
    return e


def test_two_monitor_processes_check_each_monitor_once_per_interval(
        app, database_url, tmp_path, tracked, components):  # noqa: F811
    for n in range(4):
        settings.create(settings.clean({"name": f"m{n}", "url": tracked.url(),
                                        **settings.DEFAULTS}, component_id=components[n].id),
                        actor=audit.SystemActor("test"), now=T0)
    db.session.commit()
    procs = [subprocess.Popen([FLASK, "--app", "statuspage", "monitor"], cwd=ROOT,
                              env=env(database_url, tmp_path), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    try:
        deadline = time.monotonic() + 120
        while True:  # both ran several rounds: each beat, and beat again
            db.session.rollback()
            beats = db.session.scalar(db.select(db.func.count()).select_from(MonitorHeartbeat))
            if beats >= 2 and tracked.hits >= 4:
                break
            assert time.monotonic() < deadline, "the monitor processes did not run"
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            time.sleep(0.1)
        time.sleep(1)  # many more rounds of 0.05 s each, at the same fixed now
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        outputs = [p.communicate(timeout=60)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    db.session.rollback()
    counts = db.session.execute(db.select(MonitorCheck.monitor_id, db.func.count())
                                .group_by(MonitorCheck.monitor_id)).all()
    assert sorted(c for _, c in counts) == [1, 1, 1, 1]
    assert tracked.hits == 4


@pytest.mark.parametrize("targets, message", [
    (json.dumps([{"name": "Meta", "url": "http://169.254.169.254/",
                  "component": "Login"}]), "MONITOR_TARGETS entry 1 (Meta): url: Link-local"),
    ("[{", "Error: MONITOR_TARGETS is not valid JSON"),
])
def test_a_bad_monitor_target_stops_the_process_with_a_message(
        app, database_url, tmp_path, components, targets, message):
    result = subprocess.run([FLASK, "--app", "statuspage", "monitor", "--once"], cwd=ROOT,
                            env=env(database_url, tmp_path, MONITOR_TARGETS=targets),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
