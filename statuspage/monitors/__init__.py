"""Monitors of the tracked app (issue 15): ``settings`` (the admins' monitors and
MONITOR_TARGETS), ``probe`` (one HTTP check, no database), ``outages`` (the state machine,
proposals, auto-publish and recovery), ``runner`` (the lease, the rounds, the rollup and
the heartbeat of ``flask --app statuspage monitor``)."""
