"""The ``tray-stt`` command line and composition root."""

from __future__ import annotations

import argparse
import getpass
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from tray_stt import APP_NAME, __version__
from tray_stt.app.control import COMMANDS, send_command
from tray_stt.app.formats import FORMATS
from tray_stt.app.signals import signals_handled
from tray_stt.config import Config, config_path, load_config
from tray_stt.credentials import KeyStore
from tray_stt.errors import BillingError, ConfigError, ExitCode, TraySttError
from tray_stt.pushtotalk.hotkey import HOTKEY_OFF
from tray_stt.realtime.models import Dialect, NoiseReduction, TurnMode

# Each command imports what only it needs where it runs (docs/architecture.md, "Native and heavy
# imports"): the tray at rest loads no numpy, soxr, PortAudio or websocket.
if TYPE_CHECKING:
    from tray_stt.app.console import TranscriptOutput


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    from tray_stt.autostart.choose import run_autostart_command

    parser = argparse.ArgumentParser(
        prog=APP_NAME, description="Realtime speech-to-text over the OpenAI Realtime API."
    )
    parser.add_argument("--version", action="version", version=f"tray-stt {__version__}")
    parser.add_argument("--config", metavar="FILE", help="config file (default: per-user config)")
    parser.add_argument(
        "--quiet-start", action="store_true", help="start the tray without a ready notification"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    transcribe = commands.add_parser(
        "transcribe",
        help="transcribe audio or video files through realtime sessions",
        description="Stream audio or video files (wav, mp3, m4a, ogg/opus, flac, webm, mp4, ...)"
        " through realtime sessions; print each transcript, or subtitles.",
    )
    transcribe.add_argument("files", nargs="+", metavar="FILE", help="audio or video files")
    _add_session_options(transcribe)
    transcribe.add_argument(
        "--realtime", action="store_true", help="pace like a live microphone (default: fast)"
    )
    transcribe.add_argument(
        "--format", choices=FORMATS, default="txt", help="output: text lines, subtitles or JSON"
    )
    transcribe.add_argument(
        "--output", metavar="DIR", type=Path, help="write NAME.EXT per input into DIR"
    )
    transcribe.add_argument(
        "--jobs", metavar="N", type=_positive, default=1, help="files transcribed at once"
    )
    transcribe.set_defaults(handler=run_transcribe)

    listen = commands.add_parser(
        "listen",
        help="transcribe the microphone live",
        description="Stream the microphone; show speech, partial and final text. Ctrl+C stops.",
    )
    _add_session_options(listen)
    listen.add_argument("--device", help="input device name (see `tray-stt devices`)")
    listen.set_defaults(handler=run_listen)

    _add_dictate_command(commands)

    pending = commands.add_parser(
        "pending", help="list the recordings not transcribed yet (kept in the audio spool)"
    )
    pending.set_defaults(handler=run_pending)
    retry = commands.add_parser(
        "retry",
        help="transcribe the pending recordings now",
        description="Transcribe the spooled recordings into the log of the day they were spoken.",
    )
    _add_session_options(retry)
    retry.set_defaults(handler=run_retry)
    _add_usage_command(commands)
    _add_history_command(commands)

    doctor = commands.add_parser(
        "doctor",
        help="check what tray-stt needs here, and say what to install or change",
        description="One table of checks (microphone, API key, tools, tray, D-Bus services). "
        "Exits 0 when everything the configuration needs is there, otherwise with the exit "
        "code of the first required check that failed (3 key, 4 credit, 5 network, 2 other).",
    )
    doctor.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS)
    doctor.set_defaults(handler=run_doctor)

    devices = commands.add_parser("devices", help="list the audio input devices")
    devices.set_defaults(handler=run_devices)

    for name, command in COMMANDS.items():
        control = commands.add_parser(name, help=command.help)
        control.set_defaults(handler=run_control)

    set_key = commands.add_parser(
        "set-key", help="store the API key in the system keyring (read from standard input)"
    )
    set_key.set_defaults(handler=run_set_key)

    autostart = commands.add_parser("autostart", help="start tray-stt at login")
    autostart.add_argument("action", choices=["enable", "disable", "status"])
    autostart.set_defaults(handler=lambda args: run_autostart_command(args.action))
    return parser


def _add_session_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS)
    command.add_argument("--url", help="realtime endpoint (ws:// or wss://)")
    command.add_argument("--model", help="transcription model, e.g. gpt-transcribe")
    command.add_argument("--language", help='spoken language, ISO-639-1 ("en", "ko")')
    command.add_argument("--prompt", help="text that guides the transcription")
    command.add_argument("--turn", choices=[t.value for t in TurnMode], help="turn detection")
    command.add_argument(
        "--noise-reduction", choices=[n.value for n in NoiseReduction], help="input filtering"
    )
    command.add_argument("--dialect", choices=[d.value for d in Dialect], help="protocol shape")
    command.add_argument("--log-dir", metavar="DIR", help="directory of the daily logs")
    command.add_argument("--no-log", action="store_true", help="do not write the daily log")
    command.add_argument("--clipboard", action="store_true", help="copy each transcript")


def _add_dictate_command(commands: Any) -> None:
    dictate = commands.add_parser(
        "dictate",
        help="push-to-talk dictation into the focused window",
        description="Hold the hotkey and speak; on release the text goes into the window that "
        "had focus. Esc while talking cancels. Ctrl+C quits.",
    )
    _add_session_options(dictate)
    dictate.add_argument("--device", help="input device name (see `tray-stt devices`)")
    dictate.add_argument("--hotkey", help='the push-to-talk chord, e.g. "<ctrl>+<alt>+space"')
    dictate.add_argument("--hotkey-mode", choices=["hold", "toggle"], help="hold or toggle")
    dictate.add_argument(
        "--delivery", choices=["paste", "type", "clipboard"], help="how the text is put in"
    )
    dictate.add_argument("--tail-ms", type=int, help="audio kept after the key is let go")
    dictate.set_defaults(handler=run_dictate)


def _add_usage_command(commands: Any) -> None:
    usage = commands.add_parser(
        "usage",
        help="audio sent, billed, transcripts and cost per day",
        description="What listening cost, from the usage ledger: one row per day (this month "
        "by default), or per day and model; with today's latency.",
    )
    usage.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS)
    usage.add_argument("--since", metavar="YYYY-MM-DD", help="first day (default: the 1st)")
    usage.add_argument("--until", metavar="YYYY-MM-DD", help="last day (default: today)")
    usage.add_argument("--by", choices=["day", "model"], default="day", help="rows per")
    usage.add_argument("--json", action="store_true", help="print JSON rows")
    usage.set_defaults(handler=run_usage)


def _add_history_command(commands: Any) -> None:
    history = commands.add_parser(
        "history",
        help="the transcripts of the daily logs, by day or searched",
        description="Print logged transcripts as `HH:MM:SS  text`: today's by default, one "
        "day's with --date, every day's matching --search (a date line before each day when "
        "more than one is shown). Exits 1 when nothing is found.",
    )
    history.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS)
    history.add_argument("--log-dir", metavar="DIR", help="directory of the daily logs")
    history.add_argument("--date", metavar="YYYY-MM-DD", help="the day (or today, yesterday)")
    history.add_argument(
        "--search", nargs="+", metavar="WORD", help="only transcripts holding every word"
    )
    history.set_defaults(handler=run_history)


def run_doctor(args: argparse.Namespace) -> int:
    """``tray-stt doctor``: the checks, as a table."""
    from tray_stt.app.doctor import checks_for, exit_code, format_table, run_checks

    config = _load(args, {})
    results = run_checks(checks_for(config, os.environ))
    print(format_table(results))
    return exit_code(results)


def run_history(args: argparse.Namespace) -> int:
    """``tray-stt history``: the daily logs read back."""
    from datetime import date

    from tray_stt.app.history import history, parse_day

    today = date.today()
    day = parse_day(args.date, today) if args.date is not None else None
    words = [word for phrase in args.search or [] for word in phrase.split()]
    config = _load(args, {"log_dir": args.log_dir})
    found = history(config.log_dir, day, words, today)
    if found.empty:
        print(f"{APP_NAME}: {found.empty}", file=sys.stderr)
        return ExitCode.FAILURE
    for line in found.lines:
        print(line)
    return ExitCode.OK


def run_usage(args: argparse.Namespace) -> int:
    """``tray-stt usage``: the ledger, added up."""
    from tray_stt.app.usage import usage_report

    config = _load(args, {})
    print(
        usage_report(config, args.since, args.until, by_model=args.by == "model", as_json=args.json)
    )
    return ExitCode.OK


def run_dictate(args: argparse.Namespace) -> int:
    """``tray-stt dictate``: push-to-talk in the foreground until Ctrl+C."""
    from tray_stt.app.console import LiveOutput, TranscriptOutput
    from tray_stt.app.pushtotalk import PushToTalk
    from tray_stt.app.retry import AutoRetry

    overrides = _session_overrides(args)
    for key in ("hotkey", "hotkey_mode", "delivery", "tail_ms"):
        overrides[key] = getattr(args, key)
    config = _load(args, overrides)
    if config.hotkey == HOTKEY_OFF:
        raise ConfigError('`tray-stt dictate` needs a hotkey: pass --hotkey "<ctrl>+<alt>+space".')
    config.endpoint.check()
    output = LiveOutput(None, None)  # the dictation writes the daily log itself
    retries = AutoRetry(config, output, output.note)
    talk = PushToTalk(config, retries)
    retries.deliver = TranscriptOutput(talk.log, None)  # retried text: the log, not the window
    for warning in talk.dictation.warnings:
        output.note(warning)
    talk.start()
    output.note(f"hold {config.hotkey} and speak ({config.delivery.value}); Ctrl+C quits.")
    try:
        while talk.dictation.running:  # until a fatal session error, or Ctrl+C
            talk.dictation.wait(0.2)
    except KeyboardInterrupt:
        output.note("stopping: delivering the last transcript.")
    finally:
        retries.close()
        talk.close()
        output.close()
    failure = talk.dictation.wait(0)
    if failure is not None:
        raise failure
    return ExitCode.OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    from tray_stt.app.service import run_tray_service

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command is None:
            return run_tray_service(args.config, quiet=args.quiet_start)
        # Ctrl+C and SIGTERM (kill, a service manager, logout) ask for a clean stop however the
        # process was started: a shell without job control (a script, `sh -c "tray-stt listen
        # &"`) starts commands with SIGINT ignored, and Python keeps ignoring it, so `listen`
        # would record until killed and lose the tail.
        with (
            signals_handled(signal.default_int_handler, signal.SIGINT),
            signals_handled(_terminated, signal.SIGTERM),
        ):
            code: int = args.handler(args)
        return code
    except TraySttError as exc:
        print(f"{APP_NAME}: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{APP_NAME}: interrupted.", file=sys.stderr)
        return ExitCode.INTERRUPTED


class Terminated(KeyboardInterrupt):
    """SIGTERM: stop as Ctrl+C does, but never wait long for a server (a service manager or a
    logout gives little time)."""


TERM_GRACE_S = 5.0  # after SIGTERM, for transcripts already on their way


def _terminated(signum: int, frame: object) -> None:
    raise Terminated


def _load(args: argparse.Namespace, overrides: dict[str, object]) -> Config:
    path, must_exist = config_path(args.config, os.environ)
    keys = KeyStore()  # the key `tray-stt set-key` stored serves every command
    return load_config(
        path, must_exist=must_exist, env=os.environ, overrides=overrides, stored_key=keys.load
    )


def _session_overrides(args: argparse.Namespace) -> dict[str, object]:
    return {
        "url": args.url,
        "model": args.model,
        "language": args.language,
        "prompt": args.prompt,
        "turn": args.turn,
        "noise_reduction": args.noise_reduction,
        "dialect": args.dialect,
        "log_dir": args.log_dir,
        "log": False if args.no_log else None,
        "clipboard": True if args.clipboard else None,
        "device": getattr(args, "device", None),
    }


def _sinks(config: Config, output_class: type[TranscriptOutput]) -> TranscriptOutput:
    # Over a budget cap nothing starts (exit code 6); near one, the notice comes first.
    from tray_stt.desktop.clipboard import ClipboardSink
    from tray_stt.metering.budget import budget_watch
    from tray_stt.transcripts import daily_log

    usage = budget_watch(config)
    budget = usage.refuse_if_over()
    log = daily_log(config)
    # Clipboard trouble is reported through the output, which is made just below.
    clipboard = ClipboardSink(lambda message: output.note(message)) if config.clipboard else None
    output = output_class(log, clipboard, usage=usage)
    if budget.message:
        output.note(budget.message)
    return output


def run_transcribe(args: argparse.Namespace) -> int:
    """``tray-stt transcribe FILE...``."""
    from tray_stt.app.console import TranscriptOutput
    from tray_stt.app.transcribe import Batch, TranscribeJob
    from tray_stt.audio.media import open_audio

    config = _load(args, _session_overrides(args))
    files = [open_audio(path) for path in args.files]  # refuse a bad file before any network
    config.endpoint.check()
    job = TranscribeJob(args.format, args.output, args.jobs, args.realtime)
    output = _sinks(config, TranscriptOutput)
    try:
        batch = Batch(config, files, output, job)
        # Each file's session waits for the server in fast mode; the batch ignores these.
        if run_until_done(batch, (), wait_ready=False, stop=batch.stop, output=output):
            return ExitCode.INTERRUPTED  # the files not started are not
    finally:
        output.close()
    outputs = batch.outputs
    over = next((o.over_budget for o in outputs if o.over_budget is not None), None)
    if over is not None:
        raise over
    if any(o.log_failures for o in outputs):
        return ExitCode.FAILURE
    return ExitCode.NETWORK if any(o.failed for o in outputs) else ExitCode.OK


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of 1 or more, not {text!r}")
    return value


def run_listen(args: argparse.Namespace) -> int:
    """``tray-stt listen``: the microphone, live, until Ctrl+C."""
    from tray_stt.app.console import LiveOutput
    from tray_stt.app.listening import live_microphone, live_session, live_spool
    from tray_stt.app.retry import AutoRetry

    config = _load(args, _session_overrides(args))
    config.endpoint.check()
    output = _sinks(config, LiveOutput)
    microphone = live_microphone(config, output.note)
    spool = live_spool(config, output)
    # What is pending (an earlier crash, an outage, no credit) goes whenever a connection works.
    retries = AutoRetry(config, output, output.note)
    try:
        # No credit does not end listening: the audio is kept (spool) and it exits 4 at the end.
        session = live_session(config, retries, spool, billing_ends_session=False)
    except TraySttError:
        if spool is not None:
            spool.close()
        raise
    for warning in session.warnings:
        output.note(warning)
    error: BaseException | None = None
    output.stop_input = microphone.stop  # a cap reached: stop capturing, finish what was sent
    output.no_credit_note = (
        f"{BillingError.no_credit('insufficient_quota')} What you say meanwhile is kept: "
        "`tray-stt retry` transcribes it once the account has credit."
    )
    try:
        microphone.start()
        settings = config.transcription
        # "listening" is said once the server streams: before that the user sees why not.
        output.ready_note = (
            f"listening on {microphone.device_name} with {settings.model} "
            f"({settings.effective_turn.value} turns); Ctrl+C stops."
        )
        run_until_done(
            session, microphone.chunks(), wait_ready=False, stop=microphone.stop, output=output
        )
    except BaseException as exc:
        error = exc
        raise
    finally:
        microphone.stop()
        retries.close()
        if spool is not None:
            note = str(error) if isinstance(error, TraySttError) else None
            spool.close(note, finished=error is None)
        output.close()
    if output.over_budget is not None:
        raise output.over_budget
    if output.no_credit and not retries.caught_up:
        return ExitCode.BILLING
    if output.log_failures:
        return ExitCode.FAILURE
    return ExitCode.NETWORK if output.failed and not retries.caught_up else ExitCode.OK


def run_pending(args: argparse.Namespace) -> int:
    """``tray-stt pending``: the recordings the spool holds that have no transcript yet."""
    from tray_stt.spool.pending import pending_runs
    from tray_stt.spool.store import default_spool_dir

    states = pending_runs(default_spool_dir())
    recordings = [recording for state in states for recording in state.recordings()]
    for state in states:
        for problem in state.problems:
            print(f"{APP_NAME}: a spool file is damaged ({problem}).", file=sys.stderr)
    for recording in recordings:
        minutes, seconds = divmod(round(recording.duration_s), 60)
        print(f"{recording.started:%Y-%m-%d %H:%M:%S}  {minutes}:{seconds:02d}  {recording.reason}")
    if not recordings:
        print("No pending recordings.", file=sys.stderr)
    return ExitCode.OK


def run_retry(args: argparse.Namespace) -> int:
    """``tray-stt retry``: transcribe the pending recordings now, into the days they were
    spoken; exit codes as ``transcribe``."""
    from tray_stt.app.console import TranscriptOutput
    from tray_stt.app.retry import retry_pending

    config = _load(args, _session_overrides(args))
    config.endpoint.check()
    output = _sinks(config, TranscriptOutput)
    try:
        result = retry_pending(config, output, output.note)
    finally:
        output.close()
    if result.runs:
        output.note(f"transcribed {result.seconds:.1f} s of pending recordings.")
    if output.log_failures:
        return ExitCode.FAILURE
    return ExitCode.NETWORK if output.failed or result.left else ExitCode.OK


def run_control(args: argparse.Namespace) -> int:
    """``tray-stt toggle|start|stop|status|quit``: drive the running tray."""
    answer = send_command(args.command)
    if not answer.get("ok"):
        print(
            f"{APP_NAME}: {answer.get('error', 'the running tray refused the command')}",
            file=sys.stderr,
        )
        return ExitCode.FAILURE
    if args.command == "status":
        for key in ("state", "dictation", "detail", "endpoint", "model", "log", "today"):
            print(f"{key + ':':<10} {answer.get(key, '')}")
        from tray_stt.app.usage import today_line

        print(f"{'usage:':<10} {today_line(_load(args, {}))}")
    return ExitCode.OK


def run_set_key(args: argparse.Namespace) -> int:
    """``tray-stt set-key``: store the API key (asked for without echo on a terminal)."""
    try:
        key = getpass.getpass("OpenAI API key: ") if sys.stdin.isatty() else sys.stdin.readline()
    except EOFError:  # Ctrl+D at the prompt
        key = ""
    print(KeyStore().save(key))
    return ExitCode.OK


def run_devices(args: argparse.Namespace) -> int:
    """``tray-stt devices``: the input devices, the default one marked."""
    from tray_stt.audio.devices import format_devices, list_input_devices

    print(format_devices(list_input_devices()))
    return ExitCode.OK


# How often the main thread looks up from waiting for the session. A signal interrupts the wait
# at once on POSIX (the kernel hands process signals to the main thread first), so this only
# bounds Ctrl+C where waits are not interruptible (Windows); 0.2 s woke it 5 times a second.
_DONE_POLL_S = 1.0


class _Runnable(Protocol):
    """What ``run_until_done`` drives: a session, or a batch of them."""

    def run(self, chunks: Iterable[bytes], *, wait_ready: bool = False) -> None: ...

    def give_up(self, reason: str) -> None: ...


def run_until_done(
    session: _Runnable,
    chunks: Iterable[bytes],
    *,
    wait_ready: bool,
    stop: Callable[[], None],
    output: TranscriptOutput,
) -> bool:
    """Run a session on a worker thread; the first Ctrl+C or SIGTERM calls ``stop`` to end the
    input (after SIGTERM the wait is bounded); True if it was stopped so."""

    failure: list[BaseException] = []
    # Waited on instead of Thread.join: a Ctrl+C that interrupts join() makes Python 3.11/3.12
    # mark the thread stopped while it still runs (CPython gh-90882), so the last transcripts
    # would be dropped at exit.
    done = threading.Event()
    interrupted = False

    def work() -> None:
        try:
            session.run(chunks, wait_ready=wait_ready)
        except BaseException as exc:  # re-raised on the main thread below
            failure.append(exc)
        finally:
            done.set()

    worker = threading.Thread(target=work, name="tray-stt-worker", daemon=True)
    worker.start()
    try:
        while not done.wait(_DONE_POLL_S):
            pass
    except KeyboardInterrupt as interrupt:
        output.note("stopping: waiting for the last transcripts (Ctrl+C again to quit now).")
        stop()
        if isinstance(interrupt, Terminated) and not done.wait(TERM_GRACE_S):
            session.give_up("stopped (SIGTERM) before the server answered")
        while not done.wait(_DONE_POLL_S):
            pass
        interrupted = True
    if failure:
        raise failure[0]
    return interrupted


if __name__ == "__main__":
    sys.exit(main())
