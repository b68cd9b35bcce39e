"""Benchmark of the running tray service: idle CPU, resident memory, launch to ready; and the
tray with its real menu (AppIndicator) idle and listening.

Each configuration is a real ``python -m tray_stt`` in a private HOME
(tests/support/tray_process.py):

- headless (no display): launch until the control socket answers ``status``;
- xorg tray (Xvfb + trayer, when installed): launch until the icon is docked in the tray.

Idle CPU is the process's user+system time over the idle period divided by wall time (targets:
~0 %, no polling loops); RSS is VmRSS at the end (target <= 80 MB); launch targets <= 1 s.

Then the backend users get, AppIndicator (GTK, through .venv-gtk: the system python3 with
PyGObject), on Xvfb + trayer + a private D-Bus, with a private PulseAudio whose null-sink monitor
is the microphone and the loopback realtime server (server turns): idle RSS, then RSS and CPU while
listening to silence and to espeak-ng speech. Beside it, the floor: a bare AppIndicator with a
12-item GTK menu in the same python. Targets: <= 70 MB idle, <= 80 MB listening, <= 1 % CPU.
GTK records the X server's GL visuals on the root window the first time a GTK program starts
(loading Mesa, +50 MB, only then); the floor runs first, so every tray run sees a warm X server
as on a desktop. RssAnon (private memory) is shown beside RSS (which also counts mapped
libraries); the CPU of libpulse's own thread (PortAudio's ALSA "pulse" device) is shown apart:
its wake-ups are set by the PulseAudio server, not by tray-stt. The microphone sends as often as
tray-stt asks, as one nobody else records from does (benchmarks/bench_listen.py also measures
one kept at 12.5 ms packets by another recorder).

    .venv/bin/python -m benchmarks.bench_tray [--idle-seconds 20] [--listen-seconds 30]
        [--runs 3] [--only appindicator]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

from tests.support import REPO
from tests.support.tray_process import TrayProcess, private_env
from tray_stt import APP_NAME
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


# -- the real menu: AppIndicator (GTK) idle and listening ------------------------------------------

GTK_PYTHON = REPO / ".venv-gtk" / "bin" / "python"
SENTENCES = ["Hello from the tray.", "This is the second sentence.", "And a third one."]
BARE_INDICATOR = """
import gi
gi.require_version("Gtk", "3.0")
gi.require_version("AyatanaAppIndicator3", "0.1")
from gi.repository import AyatanaAppIndicator3 as AppIndicator, Gtk
indicator = AppIndicator.Indicator.new(
    "bare-indicator", "dialog-information", AppIndicator.IndicatorCategory.APPLICATION_STATUS
)
indicator.set_status(AppIndicator.IndicatorStatus.ACTIVE)
menu = Gtk.Menu()
for number in range(12):
    menu.append(Gtk.MenuItem(label=f"Menu item {number}"))
menu.show_all()
indicator.set_menu(menu)
Gtk.main()
"""


def memory(pid: int) -> tuple[float, float]:
    """(VmRSS, RssAnon) in MB: all resident pages, and the private ones (not library code)."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["RssAnon"].split()[0]) / 1024


def cpu_percent(pid: int, seconds: float) -> float:
    """CPU % of one core used by ``pid`` over the next ``seconds``."""
    before, t0 = cpu_seconds(pid), time.perf_counter()
    time.sleep(seconds)
    return 100 * (cpu_seconds(pid) - before) / (time.perf_counter() - t0)


def pulse_thread_seconds(pid: int) -> float:
    """CPU seconds of libpulse's own thread in ``pid`` (named "threaded-ml"), which PortAudio's
    ALSA "pulse" device starts; how often it wakes is the PulseAudio server's doing."""
    total = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            if (task / "comm").read_text().strip() == "threaded-ml":
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / TICKS
        except OSError:
            continue  # the thread ended
    return total


def listening_cpu(pid: int, seconds: float) -> tuple[float, float]:
    """(CPU % of the whole process, of which libpulse's thread) over the next ``seconds``."""
    pulse_before, t0 = pulse_thread_seconds(pid), time.perf_counter()
    whole = cpu_percent(pid, seconds)
    pulse = 100 * (pulse_thread_seconds(pid) - pulse_before) / (time.perf_counter() - t0)
    return whole, pulse


@contextmanager
def gtk_desktop(root: Path) -> Iterator[dict[str, str]]:
    """Xvfb + trayer + a private session bus: the variables a GTK tray needs to find them."""
    from tests.support.dbus_fixtures import _BUS_CONFIG, _start_bus, _stop
    from tests.support.tray_host import TrayHost
    from tests.support.xvfb import xvfb_server

    root.mkdir(parents=True, exist_ok=True)
    bus_dir = Path(tempfile.mkdtemp(prefix="tstt-bus-"))  # short: sun_path holds 108 bytes
    config = bus_dir / "session.conf"
    config.write_text(_BUS_CONFIG.format(directory=bus_dir))
    daemon, address = _start_bus(config)
    try:
        with xvfb_server() as display, TrayHost(display):
            yield {"DISPLAY": display, "DBUS_SESSION_BUS_ADDRESS": address, "NO_AT_BRIDGE": "1"}
    finally:
        _stop(daemon)
        shutil.rmtree(bus_dir, ignore_errors=True)


def bare_indicator(python: Path, desktop: dict[str, str], root: Path) -> tuple[float, float]:
    """RSS and RssAnon of a bare AppIndicator with a menu: what GTK itself costs."""
    env = private_env(root, **desktop)
    quiet = subprocess.DEVNULL  # GTK's warnings about the fallback icon
    process = subprocess.Popen([str(python), "-c", BARE_INDICATOR], env=env, stderr=quiet)
    try:
        from tests.support.tray_host import docked_icon, poll

        poll(lambda: docked_icon(desktop["DISPLAY"], "^bare-indicator$"), "never docked")
        time.sleep(2.0)
        return memory(process.pid)
    finally:
        process.terminate()
        process.wait(10)


def speak_repeatedly(wav: Path, pulse: dict[str, str], stop: threading.Event) -> None:
    """Play ``wav`` into the virtual microphone again and again until ``stop``."""
    while not stop.is_set():
        subprocess.run(["paplay", "--device=vmic", str(wav)], env=pulse, check=True)


def appindicator_run(
    python: Path,
    desktop: dict[str, str],
    pulse: dict[str, str],
    wav: Path,
    root: Path,
    idle_s: float,
    listen_s: float,
) -> dict[str, float]:
    """One tray with the AppIndicator menu: idle, then listening to silence, then to speech."""
    from tests.support.realtime_server import RealtimeServer
    from tests.support.tray_host import docked_icon, poll

    with RealtimeServer(transcripts=lambda pcm: "words") as server:
        env = private_env(
            root,
            **desktop,
            PYSTRAY_BACKEND="appindicator",
            TRAY_STT_URL=server.url,
            TRAY_STT_DEVICE="pulse",
            PULSE_SERVER=pulse["PULSE_SERVER"],
        )
        seed_yesterdays_log(Path(env["XDG_DATA_HOME"]))
        tray = TrayProcess(env, argv=[str(python), "-m", "tray_stt"])
        try:
            tray.wait_serving()
            poll(lambda: docked_icon(desktop["DISPLAY"], "^tray-stt$"), "the icon never docked")
            pid = tray.process.pid
            time.sleep(1.0)
            row = {"idle cpu": cpu_percent(pid, idle_s)}
            row["idle rss"], row["idle anon"] = memory(pid)
            tray.command("start")
            tray.wait_status(lambda s: s["state"] in ("listening", "speech"))
            time.sleep(2.0)
            row["silence cpu"], row["silence pulse"] = listening_cpu(pid, listen_s)
            stop = threading.Event()
            player = threading.Thread(target=speak_repeatedly, args=(wav, pulse, stop))
            player.start()
            try:
                time.sleep(2.0)
                row["speech cpu"], row["speech pulse"] = listening_cpu(pid, listen_s)
                row["listening rss"], row["listening anon"] = memory(pid)
            finally:
                stop.set()
                player.join()
            tray.command("quit")
            tray.wait()
        finally:
            tray.stop()
    return row


def span(values: list[float]) -> str:
    """A range of measurements, "low-high" (one value alone)."""
    low, high = min(values), max(values)
    return f"{low:.1f}" if f"{low:.1f}" == f"{high:.1f}" else f"{low:.1f}-{high:.1f}"


def seed_yesterdays_log(data_home: Path) -> None:
    """Yesterday's log, as a user has one: the Recent submenu is full from the start, so each
    transcript changes its labels, not its length (only a user's first ten transcripts differ)."""
    logs = data_home / APP_NAME / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    yesterday = date.today() - timedelta(days=1)
    lines = [f"09:{minute:02d}:00  Earlier transcript {minute}.\n" for minute in range(12)]
    (logs / f"{yesterday.isoformat()}.txt").write_text("".join(lines), encoding="utf-8")


def appindicator_table(python: Path, runs: int, idle_s: float, listen_s: float) -> None:
    """Measure the floor and the tray ``runs`` times each; print ranges."""
    from tests.support.audio_samples import spoken_wav
    from tests.support.virtual_audio import virtual_microphone

    floors: list[tuple[float, float]] = []
    rows: list[dict[str, float]] = []
    loads: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-tray-gtk-") as temp:
        wav = Path(temp) / "speech.wav"
        spoken_wav(wav, SENTENCES, gap_s=1.5)
        (Path(temp) / "pulse").mkdir()
        with (
            virtual_microphone(Path(temp) / "pulse", feed_latency_ms=400) as pulse,
            gtk_desktop(Path(temp) / "desktop") as desktop,
        ):
            bare_indicator(python, desktop, Path(temp) / "warm-up")  # GL visuals recorded
            for run in range(runs):
                floors.append(bare_indicator(python, desktop, Path(temp) / f"bare{run}"))
                loads.append(os.getloadavg()[0])
                rows.append(
                    appindicator_run(
                        python, desktop, pulse, wav, Path(temp) / f"run{run}", idle_s, listen_s
                    )
                )
                loads.append(os.getloadavg()[0])

    def column(key: str) -> str:
        return span([row[key] for row in rows])

    print(
        f"\nAppIndicator (GTK menu, {python}); {runs} runs, ranges; idle {idle_s:g} s, "
        f"listening {listen_s:g} s to silence then to speech; load average (1 min) "
        f"{min(loads):.2f}-{max(loads):.2f} on {os.cpu_count()} cores"
    )
    print("targets: idle RSS <= 70 MB, listening RSS <= 80 MB, listening CPU <= 1 % of a core")
    header = f"{'backend':<28} {'idle RSS MB':>12} {'(anon)':>10} {'listening RSS MB':>17}"
    print(f"{header} {'(anon)':>10} {'CPU % idle':>11} {'silence':>9} {'speech':>9}")
    print(
        f"{'bare AppIndicator + menu':<28} {span([f[0] for f in floors]):>12}"
        f" {span([f[1] for f in floors]):>10} {'-':>17} {'-':>10} {'-':>11} {'-':>9} {'-':>9}"
    )
    print(
        f"{'tray-stt, appindicator':<28} {column('idle rss'):>12} {column('idle anon'):>10}"
        f" {column('listening rss'):>17} {column('listening anon'):>10}"
        f" {column('idle cpu'):>11} {column('silence cpu'):>9} {column('speech cpu'):>9}"
    )
    print(
        f"{'  of which libpulse thread':<28} {'':>12} {'':>10} {'':>17} {'':>10} {'':>11}"
        f" {column('silence pulse'):>9} {column('speech pulse'):>9}"
    )


def main() -> None:
    """Run the configurations and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    parser.add_argument("--listen-seconds", type=float, default=30.0)
    parser.add_argument("--runs", type=int, default=3, help="AppIndicator runs (ranges shown)")
    parser.add_argument("--gtk-python", type=Path, default=GTK_PYTHON)
    parser.add_argument("--only", choices=["appindicator"], help="skip the other configurations")
    args = parser.parse_args()
    if args.only is None:
        headless_and_xorg(args.idle_seconds)
    if args.gtk_python.exists():
        appindicator_table(args.gtk_python, args.runs, args.idle_seconds, args.listen_seconds)
    else:
        print(f"\nno {args.gtk_python}: the AppIndicator row needs it (bash .ci/setup test)")


def headless_and_xorg(idle_seconds: float) -> None:
    """The menu-less configurations: launch time, idle CPU and RSS."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-tray-") as temp:
        rows.append(
            (
                "headless",
                "socket answers",
                *measure(private_env(Path(temp) / "headless"), socket_answers, idle_seconds),
            )
        )
        desktop = xorg_env(Path(temp) / "xorg")
        if desktop is not None:
            env, servers = desktop
            try:
                docked = measure(env, icon_docked, idle_seconds)
                rows.append(("xorg + trayer", "icon docked", *docked))
            finally:
                for server in servers:
                    server.terminate()
                    server.wait(5)
    print(f"idle period: {idle_seconds:g} s; targets: launch <= 1 s, CPU ~0 %, RSS <= 80 MB")
    print(
        f"{'configuration':<16} {'ready when':<16} {'launch s':>9} {'idle CPU %':>11} {'RSS MB':>8}"
    )
    for name, when, launch_s, cpu, memory_mb in rows:
        print(f"{name:<16} {when:<16} {launch_s:>9.2f} {cpu:>11.2f} {memory_mb:>8.1f}")


if __name__ == "__main__":
    main()
