"""Composition of push-to-talk: microphone + dictation + delivery + the global hotkey.

Shared by ``tray-stt dictate`` and the tray service, so both build it the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from tray_stt.audio.microphone import Microphone, MicrophoneState
from tray_stt.config import Config
from tray_stt.desktop.hotkey_process import HotkeyProcess, use_hotkey_process
from tray_stt.desktop.inject import Deliverer
from tray_stt.desktop.keyboard import KeyboardHotkey
from tray_stt.desktop.media import MediaPause
from tray_stt.desktop.xwindows import KeyGrab
from tray_stt.metering.budget import budget_watch
from tray_stt.pushtotalk.delivery import Desktop
from tray_stt.pushtotalk.dictation import Dictation
from tray_stt.pushtotalk.hotkey import MODIFIERS, Chord, parse_chord
from tray_stt.pushtotalk.talk import DictationEvent, DictationState, TalkAction
from tray_stt.realtime.events import Notice
from tray_stt.spool.store import open_spool
from tray_stt.transcripts import daily_log

if TYPE_CHECKING:  # numpy: loaded with the first dictation, not by the tray's idle hotkey
    from tray_stt.pushtotalk.cues import SoundCues


class PushToTalk:
    """Dictation driven by the configured hotkey (when ``hotkey`` is on) and by commands."""

    def __init__(
        self,
        config: Config,
        on_event: Callable[[DictationEvent], None],
        *,
        on_state: Callable[[DictationState], None] = lambda _state: None,
        hotkey: bool = True,
        microphone: Microphone | None = None,
        cues: SoundCues | None = None,
        on_microphone: Callable[[MicrophoneState], None] = lambda _state: None,
    ) -> None:
        """Refuses a bad configuration (ConfigError) before anything opens.

        ``on_microphone``: each change of the microphone's state (LOST, CAPTURING...), from the
        dictation's microphone thread.
        """
        from tray_stt.pushtotalk.cues import SoundCues

        notice = _notice_to(on_event)
        # Cues follow the dictation's state, so the hotkey, toggle and commands all sound alike.
        self.cues = cues or SoundCues(config.sound_cues)
        self.log = daily_log(config)
        self.media = MediaPause() if config.pause_media else None
        if self.media is not None:
            on_state = _both(self.media.on_state, on_state)
        self.deliverer = Deliverer(
            config.delivery,
            terminal_classes=config.terminal_classes,
            on_notice=notice,
            join_dictations=config.join_dictations,
            window_rules=dict(config.window_delivery),
            keep_on_clipboard=config.clipboard,
            replacements=config.replacements,
        )
        # 20 ms chunks: the tail ends closer to where it should, for the same CPU.
        mic = microphone or Microphone(
            config.device, chunk_ms=20, on_notice=notice, on_state=on_microphone
        )
        self.dictation = Dictation(
            config,
            mic,
            self.deliverer,
            tail_ms=config.tail_ms,
            pre_roll_ms=config.pre_roll_ms,
            log=self.log,
            usage=budget_watch(config),
            on_event=on_event,
            on_state=_both(self.cues.on_state, on_state),
            spool=open_spool(config.spool_max_mb, notice),
        )
        self.hotkey = (
            global_hotkey(config, self.dictation.handle, self.deliverer.desktop) if hotkey else None
        )

    def start(self) -> None:
        """Open the microphone and the session, then listen to the keyboard."""
        self.dictation.start()
        if self.hotkey is not None:
            try:
                self.hotkey.start()
            except Exception:
                self.dictation.close()
                raise

    def close(self) -> None:
        """Stop listening; the transcripts of turns already ended are still delivered."""
        if self.hotkey is not None:
            self.hotkey.stop()
        self.dictation.close()
        self.cues.close()
        if self.media is not None:
            self.media.close()  # resumes what a turn still running had paused
        if self.log is not None:
            self.log.close()


def global_hotkey(
    config: Config, on_action: Callable[[TalkAction], None], desktop: Desktop
) -> KeyboardHotkey | HotkeyProcess:
    """The configured chord as a global hotkey (not started); grabbed on X11.

    The tray listens with it all the time and opens the dictation only when it fires. On macOS
    pynput listens in a helper process (hotkey_process.py: in the tray's process it crashes).
    """
    grab = _x11_grab if desktop is Desktop.X11 else None
    kind = HotkeyProcess if use_hotkey_process() else KeyboardHotkey
    return kind(parse_chord(config.hotkey), config.hotkey_mode, on_action, grab=grab)


def _x11_grab(chord: Chord) -> Callable[[], None]:
    """Keep the chord from the focused window; without the grab it still works, but leaks."""
    if chord.key in MODIFIERS:
        return lambda: None
    try:
        grab = KeyGrab(chord.key, chord.modifiers)
    except Exception:  # another program grabbed it, or the layout lacks the key
        return lambda: None
    return grab.close


def _both(
    first: Callable[[DictationState], None], second: Callable[[DictationState], None]
) -> Callable[[DictationState], None]:
    def both(state: DictationState) -> None:
        first(state)
        second(state)

    return both


def _notice_to(on_event: Callable[[DictationEvent], None]) -> Callable[[str], None]:
    return lambda message: on_event(Notice(message))
