"""Benchmark of the running tray service: idle CPU, resident memory, launch to ready.

Two configurations, each a real ``python -m tray_stt`` in a private HOME
(tests/support/tray_process.py):

- headless (no display): launch until the control socket answers ``status``;
- xorg tray (Xvfb + trayer, when installed): launch until the icon is docked in the tray.

Idle CPU is the process's user+system time over the idle period divided by wall time (targets:
~0 %, no polling loops); RSS is VmRSS at the end (target <= 80 MB); launch targets <= 1 s.

    .venv/bin/python -m benchmarks.bench_tray [--idle-seconds 20]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.tray_process import TrayProcess, private_env
from tray_stt.errors import ControlError

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and its threads, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> float:
    """Resident set size in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def launch(env: dict[str, str], ready: object) -> tuple[TrayProcess, float]:
    """Start the service; seconds until ``ready(tray)`` first holds."""
    started = time.perf_counter()
    tray = TrayProcess(env)
    while not ready(tray):  # type: ignore[operator]
        if tray.process.poll() is not None:
            raise SystemExit(f"tray-stt exited: {tray.stderr}")
        time.sleep(0.005)
    return tray, time.perf_counter() - started


def socket_answers(tray: TrayProcess) -> bool:
    try:
        tray.command("status", timeout=0.5)
    except ControlError:
        return False
    return True


def measure(env: dict[str, str], ready: object, idle_s: float) -> tuple[float, float, float]:
    """(launch seconds, idle CPU %, RSS MB) of one run."""
    tray, launch_s = launch(env, ready)
    try:
        time.sleep(1.0)  # let start-up work (imports, the first draw) finish
        before, t0 = cpu_seconds(tray.process.pid), time.perf_counter()
        time.sleep(idle_s)
        used, wall = cpu_seconds(tray.process.pid) - before, time.perf_counter() - t0
        memory = rss_mb(tray.process.pid)
        tray.command("quit")
        tray.wait()
    finally:
        tray.stop()
    return launch_s, 100 * used / wall, memory


def xorg_env(root: Path) -> tuple[dict[str, str], list[subprocess.Popen[bytes]]] | None:
    """Xvfb + trayer for the tray run, or None when they are not installed."""
    if not (shutil.which("Xvfb") and shutil.which("trayer") and shutil.which("xdotool")):
        return None
    display = ":" + str(50 + os.getpid() % 200)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    xvfb = subprocess.Popen(
        ["Xvfb", display, "-screen", "0", "1024x768x24", "-nolisten", "tcp"], **quiet
    )  # type: ignore[call-overload]
    time.sleep(1.0)
    env = private_env(root, DISPLAY=display)
    trayer = subprocess.Popen(
        ["trayer", "--edge", "top", "--align", "right", "--widthtype", "pixel", "--width", "200"],
        env={**os.environ, "DISPLAY": display},
        **quiet,  # type: ignore[call-overload]
    )
    time.sleep(1.0)
    return env, [trayer, xvfb]


def icon_docked(tray: TrayProcess) -> bool:
    from tests.support.tray_host import docked_icon

    return docked_icon(tray.env["DISPLAY"]) is not None


def main() -> None:
    """Run both configurations and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-tray-") as temp:
        rows.append(
            (
                "headless",
                "socket answers",
                *measure(private_env(Path(temp) / "headless"), socket_answers, args.idle_seconds),
            )
        )
        desktop = xorg_env(Path(temp) / "xorg")
        if desktop is not None:
            env, servers = desktop
            try:
                rows.append(
                    ("xorg + trayer", "icon docked", *measure(env, icon_docked, args.idle_seconds))
                )
            finally:
                for server in servers:
                    server.terminate()
                    server.wait(5)
    print(f"idle period: {args.idle_seconds:g} s; targets: launch <= 1 s, CPU ~0 %, RSS <= 80 MB")
    print(
        f"{'configuration':<16} {'ready when':<16} {'launch s':>9} {'idle CPU %':>11} {'RSS MB':>8}"
    )
    for name, when, launch_s, cpu, memory in rows:
        print(f"{name:<16} {when:<16} {launch_s:>9.2f} {cpu:>11.2f} {memory:>8.1f}")


if __name__ == "__main__":
    main()
