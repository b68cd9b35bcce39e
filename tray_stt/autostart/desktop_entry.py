"""The Desktop Entry file format, without I/O: Exec quoting and parsing, `string` escapes.

Follows the freedesktop Desktop Entry Specification ("Possible value types" and "The Exec key").
Writing quotes every argument that holds a reserved character; reading is as lenient as GLib,
whose key-file and shell parsers are what GNOME's session manager runs an autostart entry with.
Every function raises ValueError, with a clause saying what is wrong, and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

# Characters that force an Exec argument into double quotes.
_RESERVED = frozenset(" \t\n\"'\\><~|&;$*?#()`")
# Inside double quotes these four are escaped with a backslash.
_QUOTE_ESCAPED = frozenset('"`$\\')
# The escapes of the `string` type, undone on the whole value before the Exec quote rule.
_STRING_ESCAPES = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}
# Field codes that expand to nothing at login: no files or URLs are passed, and the deprecated
# ones must be ignored.
_EMPTY_FIELD_CODES = frozenset("fFuUdDnNvm")


def escape_string(value: str) -> str:
    """`value` escaped as a `string`: backslash, newline, tab, carriage return, a leading space."""
    if any((ord(c) < 0x20 and c not in "\n\t\r") or c == "\x7f" for c in value):
        raise ValueError(f"{value!r} has control characters, which a desktop entry cannot hold")
    escaped = value.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")
    escaped = escaped.replace("\r", "\\r")
    return "\\s" + escaped[1:] if escaped.startswith(" ") else escaped


def quote_exec_arg(arg: str) -> str:
    """One Exec argument, double-quoted if it needs to be, with a literal ``%`` written ``%%``."""
    if arg and not _RESERVED.intersection(arg):
        return arg.replace("%", "%%")
    inner = "".join("\\" + c if c in _QUOTE_ESCAPED else c for c in arg)
    return f'"{inner}"'.replace("%", "%%")


def exec_value(argv: Sequence[str]) -> str:
    """The Exec value, as written in the file, that makes a session manager run exactly `argv`."""
    # Quote first, then escape as a `string`: readers undo them in the opposite order, so a
    # literal backslash in a quoted argument becomes four in the file, as the spec says.
    return escape_string(" ".join(quote_exec_arg(arg) for arg in argv))


def unescape_string(value: str) -> str:
    """The `string` escapes undone; an unknown escape such as ``\\$`` is kept for the quote rule."""
    out: list[str] = []
    chars = iter(value)
    for c in chars:
        if c != "\\":
            out.append(c)
            continue
        nxt = next(chars, "")
        out.append(_STRING_ESCAPES.get(nxt, "\\" + nxt))
    return "".join(out)


def split_exec(command: str) -> list[str]:
    """An unescaped Exec value split into arguments, quotes undone, as GLib's shell parser does."""
    args: list[str] = []
    word: list[str] = []
    in_word = False  # a word has begun, even if it stays empty: `""` is an argument
    quote = ""
    chars = iter(command)
    for c in chars:
        if quote == "'":
            if c == "'":
                quote = ""
            else:
                word.append(c)
        elif quote == '"':
            if c == "\\":
                nxt = next(chars, "")
                word.append(nxt if nxt in _QUOTE_ESCAPED else "\\" + nxt)
            elif c == '"':
                quote = ""
            else:
                word.append(c)
        elif c in " \t\n":
            if in_word:
                args.append("".join(word))
            word, in_word = [], False
        else:
            in_word = True
            if c in "\"'":
                quote = c
            else:
                word.append(next(chars, "") if c == "\\" else c)
    if quote:
        raise ValueError(f"its Exec line has an unterminated {quote} quote")
    return [*args, "".join(word)] if in_word else args


def expand_field_codes(args: Sequence[str], keys: Mapping[str, str], path: str) -> list[str]:
    """Field codes expanded as at login (no files): ``%%`` → ``%``, file and URL codes dropped."""
    expanded: list[str] = []
    for arg in args:
        if arg == "%i":
            icon = unescape_string(keys.get("Icon", ""))
            expanded += ["--icon", icon] if icon else []
        elif len(arg) == 2 and arg[0] == "%" and arg[1] in _EMPTY_FIELD_CODES:
            continue  # a code standing alone expands to no argument at all
        else:
            expanded.append(_expand_in(arg, keys, path))
    return expanded


def _expand_in(arg: str, keys: Mapping[str, str], path: str) -> str:
    out: list[str] = []
    chars = iter(arg)
    for c in chars:
        if c != "%":
            out.append(c)
            continue
        code = next(chars, "")
        if code == "%":
            out.append("%")
        elif code == "c":
            out.append(unescape_string(keys.get("Name", "")))
        elif code == "k":
            out.append(path)
        elif code not in _EMPTY_FIELD_CODES:
            raise ValueError(f"its Exec line has an invalid field code %{code} in {arg!r}")
    return "".join(out)


def parse_desktop_entry(text: str) -> dict[str, str]:
    """The raw (still escaped) keys of the ``[Desktop Entry]`` group, read as GLib reads them."""
    keys: dict[str, str] = {}
    group: str | None = None
    # Only "\n" ends a line: str.splitlines() would also break at U+2028 inside a value.
    for raw in text.split("\n"):
        line = raw.rstrip("\r").lstrip(" \t")
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            group = line[1 : line.find("]")]
        elif group == "Desktop Entry" and "=" in line:
            key, _, value = line.partition("=")
            keys[key.rstrip(" \t")] = value.lstrip(" \t")
    if not keys:
        raise ValueError("it has no [Desktop Entry] group")
    return keys


def entry_argv(keys: Mapping[str, str], path: str) -> list[str]:
    """The argv a session manager runs for a parsed entry at login (`path` is the file, for %k)."""
    if "Exec" not in keys:
        raise ValueError("it has no Exec key")
    argv = expand_field_codes(split_exec(unescape_string(keys["Exec"])), keys, path)
    if not argv:
        raise ValueError("its Exec line is empty")
    return argv


def switched_off(keys: Mapping[str, str]) -> str | None:
    """The key that switches an autostart entry off, if any (``Hidden`` means "deleted")."""
    if keys.get("Hidden", "").strip() in ("true", "1"):
        return "Hidden=true"
    if keys.get("X-GNOME-Autostart-enabled", "").strip() in ("false", "0"):
        return "X-GNOME-Autostart-enabled=false"
    return None
