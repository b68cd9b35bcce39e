"""The tray's menu model through a FakeIcon: items, check and radio items, actions and Quit."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tests.support.tray_harness import Tray, checked_items, find, icon_is, labels
from tray_stt import __version__
from tray_stt.app.state import AppState, RetryPending, Snapshot
from tray_stt.config import Config
from tray_stt.realtime.models import MODELS
from tray_stt.tray.icons import IconState
from tray_stt.tray.view import LANGUAGES, TrayActions, TrayView

TOP_LEVEL = [
    "Idle",  # the status line: disabled, first, current (issue 14, item 7)
    "----",
    "Start listening",
    "Recent",
    "Copy transcripts to clipboard",
    "Language",
    "Model",
    "----",
    "Open today's log",
    "Open log folder",
    "Usage…",
    "Start at login",
    "Set API key…",
    "Settings",
    f"About tray-stt {__version__}",
    "----",
    "Quit",
]


def test_tray_menu_items_in_order(tray: Tray) -> None:
    menu = tray.icon.menu
    assert labels(menu) == TOP_LEVEL
    defaults = [item.text for item in menu.items if item.default]
    assert defaults == ["Start listening"]
    assert menu.items[0].enabled is False  # the status line says, it does nothing
    assert labels(find(menu, "Recent").submenu) == ["No transcripts yet"]
    assert find(menu, "Recent", "No transcripts yet").enabled is False
    assert labels(find(menu, "Language").submenu) == [label for _, label in LANGUAGES]
    shown = labels(find(menu, "Model").submenu)
    models = [label.split(" (")[0] for label in shown]
    assert set(models) == set(MODELS)
    assert "gpt-transcribe (default)" in shown
    assert "whisper-1 (shuts down 2027-02-26)" in shown  # no longer only on the console
    current = [MODELS[name].shutdown is None for name in models]
    assert current == sorted(current, reverse=True)  # models being retired come last
    for submenu in ("Language", "Model"):
        assert all(item.radio for item in find(menu, submenu).submenu.items)
    assert checked_items(menu, "Language") == ["Detect automatically"]
    assert checked_items(menu, "Model") == ["gpt-transcribe (default)"]
    assert find(menu, "Copy transcripts to clipboard").checked is False
    assert find(menu, "Start at login").checked is False


def test_tray_left_click_toggles_listening(tray: Tray) -> None:
    assert icon_is(tray.icon.icon, IconState.IDLE)
    tray.icon.click()
    snapshot = tray.wait(lambda s: s.listening)
    assert snapshot.state is AppState.CONNECTING
    assert icon_is(tray.icon.icon, IconState.CONNECTING)
    assert tray.icon.title == "tray-stt: connecting"
    assert labels(tray.icon.menu)[:3] == ["Connecting…", "----", "Stop listening"]
    tray.icon.click()
    tray.wait(lambda s: not s.listening and s.state is AppState.IDLE)
    assert icon_is(tray.icon.icon, IconState.IDLE)
    assert labels(tray.icon.menu)[:3] == ["Idle", "----", "Start listening"]


def test_tray_clipboard_check_item_persists_and_keeps_comments(tray: Tray) -> None:
    tray.icon.choose("Copy transcripts to clipboard")
    tray.wait(lambda s: s.config.clipboard)
    assert find(tray.icon.menu, "Copy transcripts to clipboard").checked is True
    text = tray.config_file.read_text()
    assert text.startswith("# my settings, keep this comment\n")
    assert "# chosen by hand" in text
    assert tray.file()["clipboard"] is True
    tray.icon.choose("Copy transcripts to clipboard")
    tray.wait(lambda s: not s.config.clipboard)
    assert tray.file()["clipboard"] is False


def test_tray_language_radio_persists_and_auto_removes_the_key(tray: Tray) -> None:
    tray.icon.choose("Language", "Deutsch")
    tray.wait(lambda s: s.config.transcription.language == "de")
    assert tray.file()["language"] == "de"
    assert checked_items(tray.icon.menu, "Language") == ["Deutsch"]
    tray.icon.choose("Language", "Detect automatically")
    tray.wait(lambda s: s.config.transcription.language is None)
    assert "language" not in tray.file()
    assert checked_items(tray.icon.menu, "Language") == ["Detect automatically"]


def test_tray_model_radio_persists_and_restarts_a_running_session(tray: Tray) -> None:
    tray.icon.click()
    tray.wait(lambda s: s.listening)
    label = "gpt-4o-mini-transcribe (shuts down 2027-02-26)"
    tray.icon.choose("Model", label)
    other = "gpt-4o-mini-transcribe"
    tray.wait(lambda s: s.config.transcription.model == other and len(tray.workers) == 2)
    assert tray.file()["model"] == other
    assert "# my settings, keep this comment" in tray.config_file.read_text()
    assert checked_items(tray.icon.menu, "Model") == [label]
    warned = [body for _, body, _ in tray.notifier.shown if "shut down" in body]
    assert warned == [
        "gpt-4o-mini-transcribe is scheduled to shut down on 2027-02-26. Switch to gpt-transcribe."
    ]


def test_tray_start_at_login_check_item(tray: Tray) -> None:
    tray.icon.choose("Start at login")
    tray.wait(lambda s: s.autostart)
    assert tray.autostart.on
    assert find(tray.icon.menu, "Start at login").checked is True
    tray.icon.choose("Start at login")
    tray.wait(lambda s: not s.autostart)
    assert not tray.autostart.on


def test_tray_action_items_call_their_actions(tray: Tray) -> None:
    for label in ("Open today's log", "Open log folder", "Set API key…", "Settings"):
        tray.icon.choose(label)
    tray.icon.choose(f"About tray-stt {__version__}")
    tray.icon.choose("Usage…")
    assert tray.opened == ["log", "folder", "key", "settings", "about", "usage"]


def test_tray_failing_action_does_not_reach_the_toolkit(tmp_path: Path) -> None:
    t = Tray(tmp_path)
    try:
        t.view._actions = TrayActions(*([lambda: 1 / 0] * 5))  # type: ignore[arg-type]
        t.icon.choose("Settings")  # raises inside: logged, and the loop keeps running
        t.icon.click()
        t.wait(lambda s: s.listening)
    finally:
        t.close()


def test_tray_quit_item_ends_loop_and_controller(tmp_path: Path) -> None:
    t = Tray(tmp_path)
    t.icon.choose("Quit")
    t.tray_thread.join(5)
    t.worker.join(5)
    assert not t.tray_thread.is_alive() and not t.worker.is_alive()


def test_tray_menu_offers_pending_recordings_only_when_there_are_some() -> None:
    posted: list[object] = []
    snapshot = Snapshot(AppState.IDLE, "", False, "", "", Config(), False, 0, pending=2)
    actions = TrayActions(*(lambda: None for _ in range(5)))
    view = TrayView(posted.append, lambda: snapshot, actions)
    menu = view.build_menu()
    assert labels(menu)[:6] == [
        "Idle",
        "----",
        "Start listening",
        "Recent",
        "Copy transcripts to clipboard",
        "Transcribe 2 pending recordings",
    ]
    find(menu, "Transcribe 2 pending recordings")(None)
    assert posted == [RetryPending()]
    snapshot = replace(snapshot, pending=1)
    assert "Transcribe 1 pending recording" in labels(view.build_menu())
    snapshot = replace(snapshot, pending=0)
    assert labels(view.build_menu()) == TOP_LEVEL


def test_tray_usage_item_shows_todays_spend(tray: Tray) -> None:
    from dataclasses import replace

    from tray_stt.tray.view import TrayView

    metered = replace(tray.controller.snapshot, usage_today="$0.02 · 3 min today")
    view = TrayView(lambda command: None, lambda: metered, tray.view._actions)
    assert "Usage: $0.02 · 3 min today…" in labels(view.build_menu())
