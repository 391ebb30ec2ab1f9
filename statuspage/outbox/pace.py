"""A channel's pace, shared by its workers: at most MAIL_MAX_PER_SECOND messages a second
(a provider's limit), and a pause for the whole channel when the server asks us to slow
down (SMTP 421/451), growing while it keeps asking and forgotten at the next message it
accepts. Time comes from the ``clock`` and ``sleep`` passed in (tests pass their own)."""

from __future__ import annotations

import threading
import time
from typing import Callable, Optional

from .channel import Answer

#: The first pause after a slow-down answer, doubled at each one in a row, up to the cap.
SLOW_DOWN_FIRST_SECONDS = 0.25
SLOW_DOWN_MAX_SECONDS = 30.0
#: A waiting worker looks at the stop request this often.
_STEP = 0.1


class Pace:
    def __init__(self, max_per_second: Optional[float] = None, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = 1.0 / max_per_second if max_per_second else 0.0
        self.clock, self.sleep = clock, sleep
        self._lock = threading.Lock()
        self._next_slot = 0.0  # the earliest time the next message may go
        self._resume_at = 0.0  # the end of the current slow-down pause
        self.pause = 0.0  # the length of the last slow-down pause (0: none in a row)

    def slot(self) -> float:
        """Reserve the next moment a message may go (monotonic seconds)."""
        with self._lock:
            at = max(self.clock(), self._next_slot, self._resume_at)
            self._next_slot = at + self.interval
            return at

    def wait(self, deadline: float, stop: Callable[[], bool]) -> bool:
        """Wait for this worker's turn; False when it would come after ``deadline`` or a
        stop was requested meanwhile (the worker then gives its claim back)."""
        at = self.slot()
        if at > deadline:
            return False
        while True:
            if stop():
                return False
            left = at - self.clock()
            if left <= 0:
                return True
            self.sleep(min(left, _STEP))

    def answered(self, answer: Answer) -> None:
        """Slow down on a slow-down answer; an accepted message ends the slow-down."""
        with self._lock:
            if answer.slow_down:
                self.pause = min(SLOW_DOWN_MAX_SECONDS,
                                 max(SLOW_DOWN_FIRST_SECONDS, self.pause * 2))
                self._resume_at = self.clock() + self.pause
            elif answer.sent:
                self.pause = 0.0
