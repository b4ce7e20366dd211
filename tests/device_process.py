"""A long-running MicroPython process (an emulated device) that tests talk to while it runs.

tests/micropython_runner.py runs a script to completion; a device instead keeps running while
the test publishes, restarts the broker or kills it. ``DeviceProcess`` starts
``micropython -X heapsize=...`` with the firmware on MICROPYPATH, collects every JSON line it
prints (``{"event": ...}``) from a reader thread, and lets the test wait for one.
"""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import threading
import time
from pathlib import Path

from tests.micropython_runner import DEFAULT_HEAP, REPO, micropython_binary, micropython_env

FIRMWARE = REPO / "firmware"


class DeviceProcess:
    """``micropython -X heapsize=<heap> <script> <args...>`` with JSON-line events."""

    def __init__(self, script: str | Path, args=(), heap: str = DEFAULT_HEAP,
                 env: dict[str, str] | None = None, stderr_path: Path | None = None):
        self.argv = [micropython_binary(), "-X", "heapsize=%s" % heap, str(script)]
        self.argv += [str(a) for a in args]
        environment = micropython_env((str(FIRMWARE),))
        environment.update(env or {})
        self.stderr_path = stderr_path
        stderr = open(stderr_path, "wb") if stderr_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=stderr,
                                        env=environment, cwd=str(REPO))
        if stderr_path:
            stderr.close()  # the child holds its own descriptor
        self.events: list[dict] = []
        self.other_lines: list[str] = []
        self._lines: queue.Queue = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for raw in self.process.stdout:
            line = raw.decode(errors="replace").strip()
            try:
                event = json.loads(line)
            except ValueError:
                self.other_lines.append(line)
                continue
            if isinstance(event, dict):
                self._lines.put(event)
        self._lines.put(None)

    def _pull(self, timeout: float) -> dict | None:
        item = self._lines.get(timeout=timeout)
        if item is not None:
            self.events.append(item)
        return item

    def wait_for(self, name: str, timeout: float = 10.0, **fields) -> dict:
        """Block until an event named ``name`` (with the given field values) is printed;
        earlier events stay in ``self.events``. Fails with the output on timeout or exit."""
        for event in self.events:
            if event.get("event") == name and all(event.get(k) == v for k, v in fields.items()):
                return event
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("no %r event within %.1f s\n%s" % (name, timeout,
                                                                      self.transcript()))
            try:
                event = self._pull(remaining)
            except queue.Empty:
                continue
            if event is None:
                raise AssertionError("device exited (%s) before %r\n%s" % (
                    self.process.wait(), name, self.transcript()))
            if event.get("event") == name and all(event.get(k) == v for k, v in fields.items()):
                return event

    def wait_count(self, name: str, count: int, timeout: float = 10.0) -> list[dict]:
        """Block until ``count`` events named ``name`` were printed; return them all."""
        deadline = time.monotonic() + timeout
        while len(self.named(name)) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("fewer than %d %r events within %.1f s\n%s" % (
                    count, name, timeout, self.transcript()))
            try:
                if self._pull(remaining) is None:
                    raise AssertionError("device exited before %d %r events\n%s" % (
                        count, name, self.transcript()))
            except queue.Empty:
                continue
        return self.named(name)

    def named(self, name: str) -> list[dict]:
        """Every event named ``name`` seen so far."""
        return [event for event in self.events if event.get("event") == name]

    def log_names(self) -> list[str]:
        """Names of the ``log`` events seen so far, in order."""
        return [event.get("name") for event in self.named("log")]

    def transcript(self) -> str:
        """Events, non-JSON output and stderr, for assertion messages."""
        text = "--- events ---\n" + "\n".join(json.dumps(e) for e in self.events[-60:])
        if self.other_lines:
            text += "\n--- other stdout ---\n" + "\n".join(self.other_lines[-40:])
        if self.stderr_path and Path(self.stderr_path).exists():
            stderr = Path(self.stderr_path).read_text(errors="replace")
            text += "\n--- stderr ---\n" + stderr[-3000:]
        return text

    def wait_exit(self, timeout: float = 10.0) -> int:
        """Wait for the process to exit on its own; drain its events; return the exit code."""
        code = self.process.wait(timeout=timeout)
        self._drain()
        return code

    def _drain(self) -> None:
        """After exit: move every remaining line into ``self.events``."""
        self._reader.join(timeout=5)
        while True:
            try:
                if self._pull(0.01) is None:
                    break
            except queue.Empty:
                break

    def kill(self) -> None:
        """SIGKILL: the device loses power (no clean MQTT DISCONNECT)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=5)

    def stop(self) -> None:
        """Kill if still running, collect the remaining events, release the pipe."""
        self.kill()
        self._drain()
        if self.process.stdout:
            self.process.stdout.close()
