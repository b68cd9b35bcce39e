"""Listening in the background: a microphone feeding a realtime session on a worker thread."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

from tray_stt.audio.microphone import Microphone, MicrophoneState
from tray_stt.config import Config
from tray_stt.metering.ledger import UsageLedger
from tray_stt.metering.local_turns import CountingTurns
from tray_stt.realtime.events import Event, Notice
from tray_stt.realtime.models import TurnMode
from tray_stt.realtime.session import Session, SessionOptions
from tray_stt.realtime.turns import TurnDetector
from tray_stt.spool.store import Spool, open_spool

# Through a network outage the microphone keeps capturing (48 KB a second). Without a spool the
# newest ten minutes are kept in memory for when it is back, about 29 MB at most; with one,
# memory keeps the newest minute (2.9 MB) and the older audio waits on disk for a retry.
OFFLINE_AUDIO_MS = 10 * 60 * 1000
SPOOLED_OFFLINE_AUDIO_MS = 60 * 1000
# Where the server decides turns its VAD waits for hundreds of milliseconds of silence anyway, so
# audio may reach it later than in 40 ms blocks and messages: PortAudio's callback and the
# capture thread wake 5 times a second instead of 25, the sender 10 (each message the most
# `chunk_ms` allows); transcripts come at most 160 ms later. With the sender's stall check this
# took the tray listening from 2.6-2.8 % of a core to 0.5-0.6 % in silence and 1.0-1.2 % with
# back-to-back speech, `tray-stt listen` to 0.6 % (benchmarks/bench_tray.py, bench_listen.py).
# libpulse's thread wakes for each packet the sound server sends, one per quantum of the source:
# 0.1 % of a core at the 200 ms our stream asks for, but 0.4-0.5 % when another program keeps the
# source at a short quantum (12.5 ms), which no setting of ours (nor PULSE_LATENCY_MSEC) changes.
SERVER_TURN_BLOCK_MS = 200
SERVER_TURN_CHUNK_MS = 100


def live_microphone(
    config: Config,
    on_notice: Callable[[str], None],
    *,
    on_state: Callable[[MicrophoneState], None] = lambda _state: None,
    microphone: Callable[..., Microphone] = Microphone,
) -> Microphone:
    """The microphone of a live source (``listen``, the tray's listening): in larger blocks and
    chunks where the server decides turns; local turns keep the default blocks and ``chunk_ms``
    for the detector's timing."""
    if not config.transcription.effective_turn.on_server:
        return microphone(
            config.device, chunk_ms=config.chunk_ms, on_notice=on_notice, on_state=on_state
        )
    return microphone(
        config.device,
        chunk_ms=max(config.chunk_ms, SERVER_TURN_CHUNK_MS),
        on_notice=on_notice,
        on_state=on_state,
        block_ms=SERVER_TURN_BLOCK_MS,
    )


def local_turns(config: Config) -> TurnDetector | None:
    """A client-side voice detector when the turn mode asks for one, metered: the ledger learns
    how much audio it kept from being sent."""
    if config.transcription.effective_turn is not TurnMode.LOCAL:
        return None
    from tray_stt.audio.vad import LocalTurns  # numpy and the model, for local turns only

    model = config.transcription.model
    return CountingTurns(LocalTurns(), UsageLedger(config.usage_file), model)


def live_spool(config: Config, on_event: Callable[[Event], None]) -> Spool | None:
    """A new spool run for a live source (None when ``spool_max_mb`` is 0 or it failed)."""
    return open_spool(config.spool_max_mb, lambda message: on_event(Notice(message)))


def live_options(*, billing_ends_session: bool = True, spooled: bool = False) -> SessionOptions:
    """A live source's options: retry the network for ever (also when it is down at the start,
    docs/protocol.md, "Session lifetime and reconnection"), bounded silence and outage audio in
    memory."""
    return SessionOptions(
        live_silence_ms=5000,
        reconnect_attempts=None,
        offline_audio_ms=SPOOLED_OFFLINE_AUDIO_MS if spooled else OFFLINE_AUDIO_MS,
        billing_ends_session=billing_ends_session,
    )


def live_session(
    config: Config,
    on_event: Callable[[Event], None],
    spool: Spool | None = None,
    *,
    billing_ends_session: bool = True,
) -> Session:
    """A session for a live source, everything not yet logged also in ``spool``.
    ``billing_ends_session``: the command line ends on no credit; the tray keeps listening (and
    keeps the audio) and shows the state instead."""
    options = live_options(billing_ends_session=billing_ends_session, spooled=spool is not None)
    return Session(
        config.endpoint,
        config.transcription,
        on_event,
        options=options,
        turns=local_turns(config),
        spool=spool,
    )


class MicrophoneListener:
    """Runs microphone + session until ``stop``; reports every event, then how it ended."""

    def __init__(
        self,
        config: Config,
        on_event: Callable[[Event], None],
        on_end: Callable[[BaseException | None], None],
        *,
        microphone: Callable[..., Microphone] = Microphone,
        on_microphone: Callable[[MicrophoneState], None] = lambda _state: None,
    ) -> None:
        """``on_microphone``: each change of the microphone's state (LOST, CAPTURING...), from
        the listening thread."""
        self._spool = live_spool(config, on_event)
        try:
            # Refuses a bad configuration here. No credit is a state the tray shows, not an end.
            self._session = live_session(config, on_event, self._spool, billing_ends_session=False)
        except BaseException:
            if self._spool is not None:
                self._spool.close()
            raise
        self._microphone = live_microphone(
            config, self._notice, on_state=on_microphone, microphone=microphone
        )
        self._on_event = on_event
        self._on_end = on_end
        self._stopping = threading.Event()
        self._muted = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tray-stt-listen", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End the input: the session commits what was said and delivers it, then ends."""
        self._stopping.set()
        self._microphone.stop()

    def mute(self, muted: bool) -> None:
        """Send silence of the same length instead of the microphone while ``muted``.

        Silence rather than nothing: the server's turn detection then ends an utterance that was
        under way, and the audio timeline (capture times, resends) stays continuous.
        """
        if muted:
            self._muted.set()
        else:
            self._muted.clear()

    def _chunks(self) -> Iterator[bytes]:
        for chunk in self._microphone.chunks():
            yield bytes(len(chunk)) if self._muted.is_set() else chunk

    def _notice(self, message: str) -> None:
        self._on_event(Notice(message))

    def _run(self) -> None:
        try:
            self._microphone.start()
            if self._stopping.is_set():
                # stop() came before start() opened the device: its stop() found nothing to
                # stop, and the microphone would record until the next one.
                self._microphone.stop()
            self._session.run(self._chunks())
        except BaseException as exc:  # reported to the controller, which shows it
            self._microphone.stop()
            self._close_spool(exc)
            self._on_end(exc)
            return
        self._microphone.stop()
        self._close_spool(None)
        self._on_end(None)

    def _close_spool(self, error: BaseException | None) -> None:
        if self._spool is not None:
            note = str(error) if error is not None else None
            self._spool.close(note, finished=error is None)
