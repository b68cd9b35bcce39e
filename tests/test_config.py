"""Configuration precedence and refusal of bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from tray_stt.config import Config, config_path, load_config
from tray_stt.errors import ConfigError
from tray_stt.pushtotalk.delivery import DeliveryMode, WindowRule
from tray_stt.pushtotalk.replacements import Replacement
from tray_stt.realtime.models import Dialect, TurnMode


def load(path: Path, env: dict[str, str] | None = None, **overrides: object) -> Config:
    return load_config(path, must_exist=False, env=env or {}, overrides=overrides)


def test_config_defaults_without_a_file(tmp_path: Path) -> None:
    config = load(tmp_path / "missing.toml")
    assert config.transcription.model == "gpt-transcribe"
    assert config.url == "wss://api.openai.com/v1/realtime?intent=transcription"
    assert config.dialect is Dialect.GA and config.log and not config.clipboard


def test_config_precedence_file_then_environment_then_flags(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('model = "whisper-1"\nlanguage = "ko"\nturn = "manual"\n')
    env = {"TRAY_STT_LANGUAGE": "en", "TRAY_STT_TURN": "semantic", "OPENAI_API_KEY": "sk-env"}
    config = load(path, env, turn="server")
    chosen = config.transcription
    assert (chosen.model, chosen.language, chosen.turn) == ("whisper-1", "en", TurnMode.SERVER)
    assert config.api_key == "sk-env"


def test_config_api_key_is_never_in_repr(tmp_path: Path) -> None:
    config = load(tmp_path / "none.toml", {"OPENAI_API_KEY": "sk-secret-value"})
    assert "sk-secret-value" not in repr(config)


def test_config_unknown_key_names_file_and_suggests(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('modle = "whisper-1"\n')
    with pytest.raises(ConfigError) as info:
        load(path)
    assert str(path) in str(info.value) and "did you mean 'model'" in str(info.value)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('turn = "sometimes"', "turn must be one of server, semantic, manual"),
        ("vad_threshold = 2", "vad_threshold must be a number from 0 to 1"),
        ("chunk_ms = 10.5", "chunk_ms must be a whole number from 20 to 100"),
        ('language = "English"', "language must be an ISO-639-1 code"),
        ('url = "https://example.com"', "url must be a ws:// or wss:// URL"),
        ("keywords = [1, 2]", "keywords must be a list of strings"),
        ("clipboard = 1", "clipboard must be true or false"),
    ],
)
def test_config_bad_values_say_what_is_allowed(tmp_path: Path, line: str, expected: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(line + "\n")
    with pytest.raises(ConfigError) as info:
        load(path)
    assert str(info.value).startswith(f"{path}: ") and expected in str(info.value)


def test_config_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="TRAY_STT_DIALECT must be one of ga, beta, auto"):
        load(tmp_path / "none.toml", {"TRAY_STT_DIALECT": "v2"})


def test_config_invalid_toml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("model = \n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load(path)


def test_config_unreadable_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.mkdir()  # a directory cannot be read as a file, even by root
    with pytest.raises(ConfigError, match="Cannot read the config file"):
        load(path)


def test_config_named_file_must_exist(tmp_path: Path) -> None:
    path, must_exist = config_path(str(tmp_path / "nope.toml"), {})
    assert must_exist
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(path, must_exist=True, env={}, overrides={})


def test_config_path_from_environment(tmp_path: Path) -> None:
    path, must_exist = config_path(None, {"TRAY_STT_CONFIG": str(tmp_path / "c.toml")})
    assert path == tmp_path / "c.toml" and must_exist


def test_config_api_key_value_is_hidden_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('api_key = ""\n')
    with pytest.raises(ConfigError) as info:
        load(path)
    assert "(hidden)" in str(info.value)


def test_config_lists_from_environment_are_comma_separated(tmp_path: Path) -> None:
    config = load(tmp_path / "none.toml", {"TRAY_STT_KEYWORDS": "Kubernetes, tray-stt"})
    assert config.transcription.keywords == ("Kubernetes", "tray-stt")


def test_save_settings_keeps_comments_and_round_trips(tmp_path: Path) -> None:
    from tray_stt.config import save_settings

    path = tmp_path / "config.toml"
    path.write_text('# my settings\nmodel = "whisper-1"  # the old one\nlanguage = "ko"\n')
    save_settings(path, {"model": "gpt-transcribe", "language": None, "clipboard": True})
    text = path.read_text()
    assert "# my settings" in text and "# the old one" in text
    config = load(path)
    assert config.transcription.model == "gpt-transcribe"
    assert config.transcription.language is None and config.clipboard
    assert path.stat().st_mode & 0o777 == 0o600


def test_save_settings_creates_the_file_and_refuses_bad_values(tmp_path: Path) -> None:
    from tray_stt.config import save_settings

    path = tmp_path / "new" / "config.toml"
    save_settings(path, {"turn": TurnMode.LOCAL})
    assert load(path).transcription.turn is TurnMode.LOCAL
    with pytest.raises(ConfigError, match="language must be an ISO-639-1 code"):
        save_settings(path, {"language": "Klingon"})
    assert load(path).transcription.language is None  # nothing was written


def test_config_hotkey_is_normalised_or_off(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('hotkey = "Ctrl+Alt+Space"\n')
    assert load(path).hotkey == "<ctrl>+<alt>+<space>"  # pynput spelling
    assert load(path, {"TRAY_STT_HOTKEY": " Off "}).hotkey == "off"
    with pytest.raises(ConfigError, match="TRAY_STT_HOTKEY"):
        load(path, {"TRAY_STT_HOTKEY": "ctrl+nosuchkey"})


def test_config_window_delivery_merges_over_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('window_delivery = { Slack = "paste+Return", xterm = "paste" }\n')
    rules = dict(load(path).window_delivery)
    assert rules["slack"] == WindowRule(DeliveryMode.PASTE, "Return")
    assert rules["xterm"] == WindowRule(DeliveryMode.PASTE)  # the user's over the default
    assert rules["uxterm"] == WindowRule(DeliveryMode.PRIMARY)  # a default kept
    from_env = load(path, {"TRAY_STT_WINDOW_DELIVERY": "kitty=type, foot=clipboard"})
    assert dict(from_env.window_delivery)["foot"] == WindowRule(DeliveryMode.CLIPBOARD)


def test_config_window_delivery_bad_rule_says_what_is_allowed(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('window_delivery = { xterm = "teleport" }\n')
    with pytest.raises(
        ConfigError, match='xterm = "teleport": use paste, type, clipboard, primary'
    ):
        load(path)


def test_config_replacements_from_a_table_or_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        'log = true\n\n[replacements]\n"new line" = "\\n"\nsmiley = "🙂"\n"스마일" = "😊"\n'
    )
    config = load(path)
    assert config.replacements == (
        Replacement("new line", "\n"),
        Replacement("smiley", "🙂"),
        Replacement("스마일", "😊"),
    )
    assert not config.replacements_in_log  # the log keeps what was said
    assert config.pause_media and not load(path, {"TRAY_STT_PAUSE_MEDIA": "no"}).pause_media
    env = {"TRAY_STT_REPLACEMENTS": '{ "café noir" = "☕" }', "TRAY_STT_REPLACEMENTS_IN_LOG": "1"}
    from_env = load(path, env)
    assert from_env.replacements == (Replacement("café noir", "☕"),)
    assert from_env.replacements_in_log


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("replacements = 3", "replacements must be a table like"),
        ("replacements = { smiley = 1 }", 'replacements entry "smiley" must map to text'),
        ('replacements = { "" = "x" }', "replacements has an empty phrase"),
    ],
)
def test_config_bad_replacements_are_one_sentence_naming_the_key(
    tmp_path: Path, line: str, expected: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(line + "\n")
    with pytest.raises(ConfigError) as caught:
        load(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {expected}") and message.count("\n") == 0
    with pytest.raises(ConfigError, match="TRAY_STT_REPLACEMENTS must be a table"):
        load(tmp_path / "none.toml", {"TRAY_STT_REPLACEMENTS": "{ not toml"})


def test_config_endpoint_table_gives_that_host_its_own_key_and_ws(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        'url = "ws://gpu-box.lan:8000/v1/realtime"\napi_key = "sk-openai"\n'
        '[endpoints."gpu-box.lan:8000"]\napi_key = "box-key"\ninsecure = true\n'
        '[endpoints."other.example"]\napi_key = "other-key"\n'
    )
    endpoint = load(path).endpoint
    endpoint.check()
    assert endpoint.headers() == {"Authorization": "Bearer box-key"}
    moved = load(path, url="ws://elsewhere.lan/v1/realtime").endpoint
    with pytest.raises(ConfigError, match="insecure = true"):
        moved.check()
    other = load(path, url="wss://other.example/v1/realtime").endpoint
    assert other.headers() == {"Authorization": "Bearer other-key"}
    assert "box-key" not in repr(load(path)) and "sk-openai" not in repr(load(path))


def test_config_without_endpoint_tables_sends_no_key_to_third_parties(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('url = "wss://proxy.example/v1/realtime"\napi_key = "sk-openai"\n')
    assert load(path).endpoint.headers() == {}
    assert load(path, url="ws://localhost:9/").endpoint.headers() == {
        "Authorization": "Bearer sk-openai"
    }


@pytest.mark.parametrize(
    "table",
    ['[endpoints."h"]\nkey = "x"\n', '[endpoints."h"]\ninsecure = "maybe"\n', "endpoints = 3\n"],
)
def test_config_endpoint_tables_are_checked(tmp_path: Path, table: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(table)
    with pytest.raises(ConfigError, match="endpoints"):
        load(path)
