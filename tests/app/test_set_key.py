"""`tray-stt set-key` as a person uses it: at a terminal prompt, and through a pipe."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def environment(tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "home" / ".config"),
    }


def test_set_key_ctrl_d_at_the_prompt_is_a_sentence_not_a_traceback(tmp_path: Path) -> None:
    controller, terminal = os.openpty()
    child = subprocess.Popen(
        [sys.executable, "-m", "tray_stt", "set-key"],
        env=environment(tmp_path),
        stdin=terminal,
        stderr=subprocess.PIPE,
        start_new_session=True,  # no controlling terminal: getpass prompts on the pty
    )
    try:
        assert child.stderr is not None
        prompt = child.stderr.read(len("OpenAI API key: "))  # getpass flushes the pty first
        assert prompt == b"OpenAI API key: "
        os.write(controller, b"\x04")  # Ctrl+D: end of input at the prompt
        code = child.wait(60)
        stderr = child.stderr.read().decode()
    finally:
        child.kill()
        os.close(controller)
        os.close(terminal)
    assert code == 2
    assert "Traceback" not in stderr
    assert "No API key was entered, so none was stored" in stderr


def test_set_key_without_a_keyring_names_the_file_in_plain_words(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tray_stt", "set-key"],
        env=environment(tmp_path),
        input=b"sk-piped\n",
        capture_output=True,
        timeout=60,
    )
    said = done.stdout.decode() + done.stderr.decode()
    assert done.returncode == 0, said
    assert said.count("No system keyring is available") == 1  # one sentence, said once
    assert "Error" not in said  # no exception class names in user text ("NoKeyringError")
    stored = tmp_path / "home" / ".config" / "tray-stt" / "api_key"
    assert stored.read_text() == "sk-piped\n"
    assert stored.stat().st_mode & 0o777 == 0o600
