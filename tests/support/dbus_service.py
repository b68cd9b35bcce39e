"""The parent's side of a fake D-Bus service run as a child process (notifications, portal,
MPRIS players), and the one step every child takes first (``claim_name``).

The child prints READY once it owns its bus name and appends one JSON line per method call to a
log file, which the test reads back. It runs as ``python path/to/its/file.py`` with the repository
root on PYTHONPATH, so its own ``from tests.support... import`` lines resolve as they do here.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support import REPO


class ServiceProcess:
    """A running fake service and the calls it has received."""

    def __init__(
        self, script: str, options: list[str], bus_address: str, log_path: Path, name: str
    ) -> None:
        self.bus_address = bus_address
        self.log_path = log_path
        self._name = name
        log_path.write_text("")
        argv = [sys.executable, script, "--log", str(log_path), *options]
        path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
        env = {**os.environ, "DBUS_SESSION_BUS_ADDRESS": bus_address, "PYTHONPATH": path}
        self._process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True)
        self._await_ready()

    def _await_ready(self, timeout: float = 10.0) -> None:
        assert self._process.stdout is not None
        ready, _, _ = select.select([self._process.stdout], [], [], timeout)
        line = self._process.stdout.readline().strip() if ready else ""
        if line != "READY":
            self.stop()
            raise RuntimeError(f"the {self._name} did not start: {line!r}")

    def calls(self, method: str | None = None) -> list[dict[str, Any]]:
        """Every call received so far, oldest first; only those to ``method`` if given."""
        lines = self.log_path.read_text().splitlines()
        calls = [json.loads(line) for line in lines if line]
        return [c for c in calls if method is None or c["method"] == method]

    def stop(self) -> None:
        """Terminate the service process."""
        if self._process.poll() is None:
            self._process.terminate()
        self._process.wait(5)
        if self._process.stdout is not None:
            self._process.stdout.close()


def claim_name(connection: Any, name: str) -> None:
    """In the child: own ``name`` on the bus ``connection`` is open to, then say READY; exit if
    another process owns it (no queueing: a second fake must not wait behind the first)."""
    from jeepney import message_bus  # type: ignore[import-untyped, unused-ignore]

    do_not_queue, primary_owner = 4, 1  # RequestName's flag and its first reply
    reply = connection.send_and_get_reply(message_bus.RequestName(name, do_not_queue))
    if reply.body[0] != primary_owner:
        sys.exit(f"{name} is already owned on this bus")
    print("READY", flush=True)
