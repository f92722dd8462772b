"""When each job's bank last called, and a thread that ends the jobs idle too long.

The operator cannot tell a bank that is computing from one that died: the bank's job
runner heartbeats (Jobs.GetStatus every `jobs.heartbeat_s`, bank_node/job_watch.py)
while a job runs, and every call of the bank on a job marks it seen. A job not seen for
`jobs.session_idle_s` is handed to `expire` (the job desk fails it and frees its
session), so no job or session outlives its bank by more than that. A job given its
own limit (an interrupted job waiting for a resume: `jobs.resume_window_s`) keeps it
until its bank calls again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

log = logging.getLogger(__name__)


class IdleJobs:
    def __init__(self, idle_s: float, expire: Callable[[str], None]) -> None:
        self.idle_s = idle_s
        self._expire = expire
        self._lock = threading.Lock()
        self._seen: dict[str, float] = {}  # job id -> monotonic time of last call
        self._limit: dict[str, float] = {}  # job id -> its own idle limit, if any
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="idle-jobs", daemon=True)

    def seen(self, job_id: str) -> None:
        with self._lock:
            self._seen[job_id] = time.monotonic()
            self._limit.pop(job_id, None)

    def give_time(self, job_ids: Iterable[str], idle_s: float | None = None) -> None:
        """Start the clock for jobs not seen yet (e.g. after a restart); `idle_s`
        gives them their own limit (an interrupted job's resume window) until the
        bank calls again."""
        now = time.monotonic()
        with self._lock:
            for job_id in job_ids:
                self._seen.setdefault(job_id, now)
                if idle_s is not None:
                    self._limit[job_id] = idle_s

    def forget(self, job_id: str) -> None:
        with self._lock:
            self._seen.pop(job_id, None)
            self._limit.pop(job_id, None)

    def reap(self, now: float | None = None) -> list[str]:
        """Expire every job idle for longer than idle_s; returns their ids."""
        now = time.monotonic() if now is None else now
        with self._lock:
            stale = [
                j
                for j, seen in self._seen.items()
                if now - seen > self._limit.get(j, self.idle_s)
            ]
            for job_id in stale:
                del self._seen[job_id]
                self._limit.pop(job_id, None)
        for job_id in stale:
            self._expire(job_id)
        return stale

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        interval = min(5.0, self.idle_s / 4)
        while not self._stop.wait(interval):
            try:
                self.reap()
            except Exception:  # keep reaping; the next round may succeed
                log.exception("idle job reaper failed")
