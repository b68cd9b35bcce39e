"""Configuration: defaults < TOML file < environment < command-line flags.

The file is flat ``key = value`` TOML. Every key can also come from ``TRAY_STT_<KEY>`` in the
environment (the API key also from ``OPENAI_API_KEY``). Unknown keys and bad values are refused
with where they came from and what is allowed. The API key is never printed.
"""

from __future__ import annotations

import contextlib
import difflib
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import platformdirs

from tray_stt import APP_NAME
from tray_stt.errors import ConfigError
from tray_stt.files import replace_file
from tray_stt.metering.ledger import default_ledger_path
from tray_stt.metering.prices import Price
from tray_stt.pushtotalk.delivery import (
    DEFAULT_TERMINALS,
    DEFAULT_WINDOW_RULES,
    DeliveryMode,
    WindowRule,
    parse_window_rule,
)
from tray_stt.pushtotalk.hotkey import HOTKEY_OFF, HotkeyMode, parse_chord
from tray_stt.pushtotalk.replacements import Replacement, parse_replacements
from tray_stt.realtime.endpoint import OPENAI_URL, Endpoint, EndpointAccess
from tray_stt.realtime.models import (
    DELAYS,
    EAGERNESS,
    Dialect,
    NoiseReduction,
    TranscriptionSettings,
    TurnMode,
)

CONFIG_ENV = "TRAY_STT_CONFIG"
ENV_PREFIX = "TRAY_STT_"


def default_log_dir() -> Path:
    """The per-user directory of daily transcript logs."""
    return platformdirs.user_data_path(APP_NAME) / "logs"


@dataclass(frozen=True)
class Config:
    """Everything the app can be told, after all sources were merged and checked."""

    api_key: str | None = field(default=None, repr=False)
    url: str = OPENAI_URL
    auth: str = "auto"
    dialect: Dialect = Dialect.GA
    transcription: TranscriptionSettings = TranscriptionSettings()
    log_dir: Path = field(default_factory=default_log_dir)
    log: bool = True
    clipboard: bool = False
    chunk_ms: int = 40
    device: str | None = None  # microphone, by name: names survive re-plugging, indices do not
    # Push-to-talk dictation (dictation.py).
    hotkey: str = "<ctrl>+<alt>+space"
    hotkey_mode: HotkeyMode = HotkeyMode.HOLD
    delivery: DeliveryMode = DeliveryMode.PASTE
    tail_ms: int = 300  # recorded after the key is let go, so the last syllable is not cut
    pre_roll_ms: int = 300  # recorded before the key went down, so the first one is not cut
    terminal_classes: tuple[str, ...] = DEFAULT_TERMINALS  # WM_CLASS names that get Ctrl+Shift+V
    join_dictations: bool = True  # a space and the right first letter between consecutive turns
    # WM_CLASS -> how text reaches such windows, over ``delivery`` (stock xterm: typed).
    window_delivery: tuple[tuple[str, WindowRule], ...] = DEFAULT_WINDOW_RULES
    # Spoken phrase -> typed text, applied to dictation before joining (pushtotalk.replacements);
    # off in the log unless asked: the log keeps what was said.
    replacements: tuple[Replacement, ...] = ()
    replacements_in_log: bool = False
    # On: with hold-to-talk the eyes are on the text, not the tray; the start cue says the key
    # was caught and the microphone is live, the stop/cancel cue whether the turn will be typed.
    sound_cues: bool = True
    # On: music in the headphones would be heard by the microphone and typed; only players that
    # were playing are paused, and exactly those resumed when the turn's recording ends.
    pause_media: bool = True
    # [endpoints."host"] tables: a key of that endpoint's own, insecure ws:// (docs/protocol.md,
    # "Which key goes where").
    endpoints: tuple[EndpointAccess, ...] = field(default=(), repr=False)
    # The crash-safe audio spool (tray_stt/spool): 1000 MB holds about 5.8 hours of 24 kHz
    # PCM16 speech not yet transcribed; 0 turns it off.
    spool_max_mb: int = 1000
    # Metering (README "Usage and budget"): the ledger file, price overrides, caps (0: off).
    usage_file: Path = field(default_factory=default_ledger_path)
    prices: Mapping[str, Price] = field(default_factory=dict)
    budget_daily_usd: float = 0.0
    budget_monthly_usd: float = 0.0

    @property
    def endpoint(self) -> Endpoint:
        """Where and how to connect, with what the configuration allows that host."""
        parts = urlsplit(self.url)
        names = {parts.netloc.rpartition("@")[2].lower(), (parts.hostname or "").lower()}
        access = next((a for a in self.endpoints if a.host.lower() in names), None)
        return Endpoint(self.url, self.api_key, self.auth, self.dialect, access)


# -- value parsers: each takes a TOML value or an environment string -----------------------------


def _choice(*allowed: str) -> Callable[[object], str]:
    def parse(value: object) -> str:
        if isinstance(value, str) and value in allowed:
            return value
        raise ValueError(f"must be one of {', '.join(allowed)}")

    return parse


def _string(value: object) -> str:
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise ValueError("must be a non-empty string")


def _language(value: object) -> str:
    if isinstance(value, str) and re.fullmatch(r"[a-z]{2,3}", value):
        return value
    raise ValueError('must be an ISO-639-1 code such as "en" or "ko"')


def _strings(value: object) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if isinstance(items, list) and all(isinstance(i, str) for i in items):
        return tuple(i.strip() for i in items if i.strip())
    raise ValueError('must be a list of strings, like ["Kubernetes", "tray-stt"]')


def _window_rules(value: object) -> tuple[tuple[str, WindowRule], ...]:
    """A table ``{xterm = "type", slack = "paste+Return"}`` (or ``"xterm=type, ..."`` from the
    environment), merged over the defaults."""
    if isinstance(value, str):
        pairs = [item.partition("=")[::2] for item in value.split(",") if item.strip()]
        value = {name.strip(): rule.strip() for name, rule in pairs}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ValueError('must be a table of window classes, like { xterm = "type" }')
    rules = dict(DEFAULT_WINDOW_RULES)
    for name, rule in value.items():
        try:
            rules[str(name).strip().lower()] = parse_window_rule(rule)
        except ValueError:
            modes = ", ".join(DeliveryMode)
            raise ValueError(
                f'{name} = "{rule}": use {modes}, optionally with a key, like "paste+Return"'
            ) from None
    return tuple(rules.items())


def _inline_table(value: object) -> object:
    """A table from the environment arrives as TOML inline-table text: ``{ smiley = "🙂" }``."""
    if isinstance(value, str):
        try:
            return tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            return None
    return value


def _bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no"):
        return value.lower() in ("1", "true", "yes", "on")
    raise ValueError("must be true or false")


def _number(kind: type[int] | type[float], low: float, high: float) -> Callable[[object], Any]:
    def parse(value: object) -> int | float:
        number: int | float | None = None
        if isinstance(value, bool) or (kind is int and isinstance(value, float)):
            value = None  # true is not 1, and 0.5 is not a whole number
        if isinstance(value, str | int | float):
            with contextlib.suppress(ValueError):
                number = kind(value)
        if number is None or not low <= number <= high:
            noun = "whole number" if kind is int else "number"
            raise ValueError(f"must be a {noun} from {low:g} to {high:g}")
        return number

    return parse


def _hotkey(value: object) -> str:
    if _string(value).strip().lower() == HOTKEY_OFF:
        return HOTKEY_OFF
    try:
        return str(parse_chord(_string(value)))
    except ConfigError as exc:
        raise ValueError(str(exc).rstrip(".")) from None


def _url(value: object) -> str:
    if isinstance(value, str) and re.match(r"wss?://[^/\s]+", value):
        return value
    raise ValueError("must be a ws:// or wss:// URL")


def _endpoints(value: object) -> tuple[EndpointAccess, ...]:
    if not isinstance(value, dict):
        raise ValueError('must be tables like [endpoints."host:port"] with api_key and insecure')
    accesses = []
    for host, table in value.items():
        if not isinstance(table, dict) or not set(table) <= {"api_key", "insecure"}:
            raise ValueError(f'"{host}" may hold only api_key and insecure')
        try:
            key = _string(table["api_key"]) if "api_key" in table else None
            insecure = _bool(table.get("insecure", False))
        except ValueError as exc:
            raise ValueError(f'"{host}": api_key or insecure {exc}') from None
        accesses.append(EndpointAccess(host, key, insecure))
    return tuple(accesses)


def _path(value: object) -> Path:
    return Path(_string(value)).expanduser()


_PRICE_FIELDS = ("per_minute", "audio_in", "text_in", "text_out")


def _prices(value: object) -> dict[str, Price]:
    """``{ "model" = { per_minute = 0.006 } }`` or ``{ audio_in, text_in, text_out }`` (USD per
    million tokens); from the environment, the same inline table as text."""
    if isinstance(value, str):
        try:
            value = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            value = None
    shape = 'must be a table like { "my-model" = { per_minute = 0.006 } }'
    if not isinstance(value, dict):
        raise ValueError(shape)
    prices: dict[str, Price] = {}
    for model, raw in value.items():
        numbers = raw if isinstance(raw, dict) else {}
        if not numbers or set(numbers) - set(_PRICE_FIELDS):
            raise ValueError(f"{shape}; for {model!r} use only {', '.join(_PRICE_FIELDS)}")
        checked = {k: _number(float, 0, 1e6)(v) for k, v in numbers.items()}
        if "per_minute" in checked and len(checked) > 1:
            raise ValueError(f"{shape}; {model!r} is priced per minute or per token, not both")
        prices[str(model)] = Price(**checked)
    return prices


PARSERS: dict[str, Callable[[object], Any]] = {
    "api_key": _string,
    "url": _url,
    "auth": _choice("auto", "bearer", "api-key"),
    "dialect": lambda v: Dialect(_choice(*Dialect)(v)),
    "model": _string,
    "language": _language,
    "prompt": _string,
    "keywords": _strings,
    "languages": lambda v: tuple(_language(x) for x in _strings(v)),
    "delay": _choice(*DELAYS),
    "noise_reduction": lambda v: NoiseReduction(_choice(*NoiseReduction)(v)),
    "logprobs": _bool,
    "turn": lambda v: TurnMode(_choice(*TurnMode)(v)),
    "vad_threshold": _number(float, 0.0, 1.0),
    "prefix_padding_ms": _number(int, 0, 5000),
    "silence_duration_ms": _number(int, 100, 10000),
    "eagerness": _choice(*EAGERNESS),
    "log_dir": _path,
    "log": _bool,
    "clipboard": _bool,
    "chunk_ms": _number(int, 20, 100),
    "device": _string,
    "hotkey": _hotkey,
    "hotkey_mode": lambda v: HotkeyMode(_choice(*HotkeyMode)(v)),
    "delivery": lambda v: DeliveryMode(_choice(*DeliveryMode)(v)),
    "tail_ms": _number(int, 0, 3000),
    "pre_roll_ms": _number(int, 0, 2000),
    "terminal_classes": _strings,
    "join_dictations": _bool,
    "window_delivery": lambda v: _window_rules(v),
    "replacements": lambda v: parse_replacements(_inline_table(v)),
    "replacements_in_log": _bool,
    "sound_cues": _bool,
    "pause_media": _bool,
    "endpoints": _endpoints,
    "spool_max_mb": _number(int, 0, 1_000_000),
    "usage_file": _path,
    "prices": _prices,
    "budget_daily_usd": _number(float, 0, 1e6),
    "budget_monthly_usd": _number(float, 0, 1e6),
}
# The file is flat: the transcription settings sit beside the app's own keys.
_SETTINGS_KEYS = {f.name for f in fields(TranscriptionSettings)}
assert set(PARSERS) == _SETTINGS_KEYS | {f.name for f in fields(Config)} - {"transcription"}


def default_config_path() -> Path:
    """Where the config file lives unless ``--config`` or TRAY_STT_CONFIG say otherwise."""
    return platformdirs.user_config_path(APP_NAME) / "config.toml"


def config_path(explicit: str | None, env: Mapping[str, str]) -> tuple[Path, bool]:
    """The config file to read, and whether the user named it (then it must exist)."""
    named = explicit or env.get(CONFIG_ENV)
    return (Path(named).expanduser(), True) if named else (default_config_path(), False)


def load_config(
    path: Path,
    *,
    must_exist: bool,
    env: Mapping[str, str],
    overrides: Mapping[str, object],
    stored_key: Callable[[], str | None] = lambda: None,
) -> Config:
    """Merge every source into one checked Config.

    ``stored_key`` reads the key saved by the app (keyring): asked only when no other source
    has one, since a keyring may prompt to be unlocked.
    """
    values: dict[str, Any] = {}
    for key, raw in _read_file(path, must_exist).items():
        values[key] = _parse(key, raw, f"{path}: {key}")
    for key in PARSERS:
        env_name = ENV_PREFIX + key.upper()
        if env_name in env:
            values[key] = _parse(key, env[env_name], f"the environment variable {env_name}")
    if "api_key" not in values and env.get("OPENAI_API_KEY"):
        values["api_key"] = env["OPENAI_API_KEY"].strip()
    for key, raw in overrides.items():
        if raw is not None:
            flag = "--" + key.replace("_", "-")
            values[key] = _parse(key, raw, flag)
    if "api_key" not in values:
        stored = stored_key()
        if stored:
            values["api_key"] = stored
    settings = {k: values.pop(k) for k in list(values) if k in _SETTINGS_KEYS}
    return replace(Config(), transcription=TranscriptionSettings(**settings), **values)


def _parse(key: str, raw: object, where: str) -> Any:
    try:
        return PARSERS[key](raw)
    except ValueError as exc:
        shown = "(hidden)" if key in ("api_key", "endpoints") else repr(raw)
        raise ConfigError(f"{where} {exc} (got {shown}).") from None


def _read_file(path: Path, must_exist: bool) -> dict[str, object]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if must_exist:
            raise ConfigError(f"The config file {path} does not exist.") from None
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(f"Cannot read the config file {path}: {reason}.") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"The config file {path} is not valid TOML: {exc}.") from None
    for key in data:
        if key not in PARSERS:
            raise ConfigError(f"{path}: unknown key {key!r}{_suggest(key)}.")
    return data


def _suggest(key: str) -> str:
    close = difflib.get_close_matches(key, PARSERS, n=1)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f"; allowed keys are {', '.join(PARSERS)}"


def save_settings(path: Path, changes: Mapping[str, object]) -> None:
    """Write choices made in the app into the config file, keeping the user's comments.

    A value of None removes the key (back to the default). The write is atomic.
    """
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    for key, value in changes.items():
        if value is not None:
            _parse(key, _plain(value), f"the setting {key}")  # refuse what a load would refuse
    try:
        document = tomlkit.parse(path.read_text(encoding="utf-8")) if path.exists() else None
    except (OSError, UnicodeDecodeError, TOMLKitError) as exc:
        raise ConfigError(f"Cannot update the config file {path}: {exc}.") from None
    document = document if document is not None else tomlkit.document()
    for key, value in changes.items():
        if value is None:
            document.pop(key, None)
        else:
            document[key] = _plain(value)
    _write_atomically(path, tomlkit.dumps(document))


def _plain(value: object) -> object:
    """A value as TOML holds it: enums as their text, paths as strings, tuples as lists."""
    if isinstance(value, StrEnum | Path):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def _write_atomically(path: Path, text: str) -> None:
    try:
        replace_file(path, text.encode("utf-8"), mode=0o600, dir_mode=0o700)
    except OSError as exc:
        raise ConfigError(f"Cannot write the config file {path}: {exc.strerror or exc}.") from None


CONFIG_TEMPLATE = """\
# tray-stt settings. Every key is optional; README.md lists them all.
# model = "gpt-transcribe"
# language = "en"
# turn = "server"          # server | semantic | manual | local
# device = "USB Microphone"
# clipboard = false
# hotkey = "<ctrl>+<alt>+space"   # push-to-talk; or "f9"; "off": no global hotkey in the tray
# hotkey_mode = "hold"       # hold | toggle
# delivery = "paste"         # paste | type | clipboard
# join_dictations = true     # consecutive turns into one field: "Hello there. How are you."
# window_delivery = { xterm = "type", slack = "paste+Return" }   # per WM_CLASS
# replacements = { "new line" = "\\n", smiley = "🙂", "tray stt" = "tray-stt" }   # dictation
# replacements_in_log = false   # the log keeps what was said
# sound_cues = true          # short sounds when push-to-talk starts, stops or is cancelled
# pause_media = true         # pause playing media players (MPRIS) while push-to-talk records
#
# A server other than OpenAI gets no key unless it has its own here (after the keys above):
# [endpoints."gpu-box.lan:8000"]
# api_key = "key-of-that-server"
# insecure = true            # allow ws:// (unencrypted) to it
# budget_daily_usd = 0.50    # stop listening when today's spend reaches it (0: off)
# budget_monthly_usd = 5     # the same for the month
# prices = { "my-azure-deployment" = { per_minute = 0.006 } }   # USD; per token: audio_in,
#                            # text_in, text_out per million
"""


def write_config_template(path: Path) -> None:
    """Create a commented config file for the user to edit."""
    _write_atomically(path, CONFIG_TEMPLATE)
