"""The ``tray-stt`` command line and composition root."""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from . import __version__
from .audio import BYTES_PER_MS, WavFile, open_wav, paced
from .config import Config, config_path, load_config
from .console import Progress, TranscriptOutput
from .errors import ExitCode, TraySttError
from .models import Dialect, TurnMode
from .session import Session
from .transcripts import ClipboardSink, DailyLog


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="tray-stt", description="Realtime speech-to-text over the OpenAI Realtime API."
    )
    parser.add_argument("--version", action="version", version=f"tray-stt {__version__}")
    parser.add_argument("--config", metavar="FILE", help="config file (default: per-user config)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    transcribe = commands.add_parser(
        "transcribe",
        help="transcribe WAV files through a realtime session",
        description="Stream WAV files through realtime sessions; print each transcript line.",
    )
    transcribe.add_argument("files", nargs="+", metavar="FILE", help="WAV files, in order")
    transcribe.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS)
    transcribe.add_argument("--url", help="realtime endpoint (ws:// or wss://)")
    transcribe.add_argument("--model", help="transcription model, e.g. gpt-transcribe")
    transcribe.add_argument("--language", help='spoken language, ISO-639-1 ("en", "ko")')
    transcribe.add_argument("--prompt", help="text that guides the transcription")
    transcribe.add_argument("--turn", choices=[t.value for t in TurnMode], help="turn detection")
    transcribe.add_argument("--dialect", choices=[d.value for d in Dialect], help="protocol shape")
    transcribe.add_argument("--log-dir", metavar="DIR", help="directory of the daily logs")
    transcribe.add_argument("--no-log", action="store_true", help="do not write the daily log")
    transcribe.add_argument("--clipboard", action="store_true", help="copy each transcript")
    transcribe.add_argument(
        "--realtime", action="store_true", help="pace like a live microphone (default: fast)"
    )
    transcribe.set_defaults(handler=run_transcribe)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return ExitCode.USAGE
    try:
        code: int = args.handler(args)
        return code
    except TraySttError as exc:
        print(f"tray-stt: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("tray-stt: interrupted.", file=sys.stderr)
        return ExitCode.INTERRUPTED


def _load(args: argparse.Namespace, overrides: dict[str, object]) -> Config:
    path, must_exist = config_path(args.config, os.environ)
    return load_config(path, must_exist=must_exist, env=os.environ, overrides=overrides)


def run_transcribe(args: argparse.Namespace) -> int:
    """``tray-stt transcribe FILE...``."""
    config = _load(
        args,
        {
            "url": args.url,
            "model": args.model,
            "language": args.language,
            "prompt": args.prompt,
            "turn": args.turn,
            "dialect": args.dialect,
            "log_dir": args.log_dir,
            "log": False if args.no_log else None,
            "clipboard": True if args.clipboard else None,
        },
    )
    wavs = [open_wav(path) for path in args.files]  # refuse a bad file before any network
    config.endpoint.check()
    log = DailyLog(config.log_dir) if config.log else None
    # Clipboard trouble is reported through the output, which is made just below.
    clipboard = ClipboardSink(lambda message: output.note(message)) if config.clipboard else None
    output = TranscriptOutput(log, clipboard)
    try:
        for index, wav in enumerate(wavs):
            session = Session(config.endpoint, config.transcription, output)
            if index == 0:
                for warning in session.warnings:
                    output.note(warning)
            _transcribe_file(session, wav, output, config.chunk_ms, realtime=args.realtime)
    finally:
        if clipboard is not None:
            clipboard.close()
        if log is not None:
            log.close()
    if output.log_failures:
        return ExitCode.FAILURE
    return ExitCode.NETWORK if output.failed else ExitCode.OK


def _transcribe_file(
    session: Session, wav: WavFile, output: TranscriptOutput, chunk_ms: int, *, realtime: bool
) -> None:
    progress = Progress(Path(wav.path).name, wav.duration_s)
    output.status = progress
    chunks = paced(_counted(wav.pcm_chunks(chunk_ms), progress), realtime=realtime)
    try:
        run_until_done(session, chunks, wait_ready=not realtime, output=output)
    finally:
        progress.clear()
        output.status = None


def _counted(chunks: Iterable[bytes], progress: Progress) -> Iterator[bytes]:
    sent = 0
    for chunk in chunks:
        yield chunk
        sent += len(chunk)
        progress.update(sent / BYTES_PER_MS / 1000)


def run_until_done(
    session: Session, chunks: Iterable[bytes], *, wait_ready: bool, output: TranscriptOutput
) -> None:
    """Run a session on a worker thread; the first Ctrl+C ends the input gracefully."""
    failure: list[BaseException] = []

    def work() -> None:
        try:
            session.run(chunks, wait_ready=wait_ready)
        except BaseException as exc:  # re-raised on the main thread below
            failure.append(exc)

    worker = threading.Thread(target=work, name="tray-stt-worker", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.2)
    except KeyboardInterrupt:
        output.note("stopping: waiting for the last transcripts (Ctrl+C again to quit now).")
        session.stop()
        while worker.is_alive():
            worker.join(0.2)
    if failure:
        raise failure[0]


if __name__ == "__main__":
    sys.exit(main())
