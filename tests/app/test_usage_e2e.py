"""The usage meter end to end: real ``tray-stt`` processes against the loopback server, then
``tray-stt usage`` reading what they metered; budget caps with exit code 6."""

from __future__ import annotations

import json
import re
import threading
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.app.test_listen_e2e import (
    SENTENCES,
    Listening,
    assert_clean_stderr,
    listen_env,
    play,
    spoken,  # noqa: F401 (fixture)
    virtual_mic,  # noqa: F401 (fixture)
)
from tests.app.test_transcribe_e2e import run_cli
from tests.support.audio_samples import silence, tone, write_wav
from tests.support.realtime_server import RealtimeServer
from tests.support.virtual_audio import needs_portaudio

WORDS = ["one", "two", "three"]


@pytest.fixture
def three_tones(tmp_path: Path) -> Path:
    rate = 24000
    parts = [silence(0.5, rate)]
    for freq in (440, 660, 880):
        parts += [tone(freq, 0.8, rate), silence(1.0, rate)]
    path = tmp_path / "tones.wav"
    write_wav(path, np.concatenate(parts), rate)
    return path


def env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "XDG_STATE_HOME": str(tmp_path / "home" / ".local" / "state"),
        "TRAY_STT_LOG": "false",
        **extra,
    }


def transcribe(server: RealtimeServer, wav: Path, tmp_path: Path, model: str, **extra: str) -> Any:
    return run_cli(
        "transcribe", str(wav), "--url", server.url, "--model", model,
        tmp_path=tmp_path, env=env(tmp_path, **extra),
    )  # fmt: skip


def usage_rows(tmp_path: Path, *args: str, **extra: str) -> list[dict[str, Any]]:
    result = run_cli("usage", "--json", *args, tmp_path=tmp_path, env=env(tmp_path, **extra))
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)["rows"]
    return rows


def billed_s(server: RealtimeServer) -> float:
    """What the server reported as billed in its completed events (duration usage)."""
    return sum(
        e["usage"]["seconds"]
        for c in server.connections
        for e in c.server_events
        if e["type"].endswith("transcription.completed")
    )


def test_usage_meters_duration_and_token_models_and_leaves_unknown_unpriced(
    three_tones: Path, tmp_path: Path
) -> None:
    with RealtimeServer(transcripts=WORDS) as server:
        assert transcribe(server, three_tones, tmp_path, "whisper-1").returncode == 0
        whisper_billed = billed_s(server)
        whisper_items = sum(len(i.audio) for i in server.connections[0].items) / 48000
        assert server.violations == []
    with RealtimeServer(transcripts=WORDS) as server:
        assert transcribe(server, three_tones, tmp_path, "gpt-4o-transcribe").returncode == 0
        tokens = [
            e["usage"]
            for e in server.connections[0].server_events
            if e["type"].endswith("transcription.completed")
        ]
    with RealtimeServer(transcripts=WORDS) as server:
        assert transcribe(server, three_tones, tmp_path, "acme-transcribe").returncode == 0
    rows = {row["model"]: row for row in usage_rows(tmp_path, "--by", "model")}
    assert set(rows) == {"whisper-1", "gpt-4o-transcribe", "acme-transcribe"}
    assert set(rows["whisper-1"]) == {
        "date", "model", "audio_s", "billed_s", "input_tokens", "output_tokens", "transcripts",
        "cost_usd",
    }  # fmt: skip
    whisper = rows["whisper-1"]
    assert whisper["transcripts"] == 3
    assert whisper["billed_s"] == pytest.approx(whisper_billed)
    assert whisper["cost_usd"] == pytest.approx(whisper_billed / 60 * 0.006)
    # the turns' audio: the speech at least, at most what the server committed as items
    # (the server's items also hold the silence before the prefix padding)
    assert 3 * 0.8 <= whisper["audio_s"] <= whisper_items
    gpt = rows["gpt-4o-transcribe"]
    audio_tokens = sum(t["input_token_details"]["audio_tokens"] for t in tokens)
    assert gpt["input_tokens"] == sum(t["input_tokens"] for t in tokens)
    assert gpt["output_tokens"] == sum(t["output_tokens"] for t in tokens) == 3
    assert gpt["cost_usd"] == pytest.approx((audio_tokens * 6.0 + 3 * 10.0) / 1e6)
    assert rows["acme-transcribe"]["cost_usd"] is None
    assert rows["acme-transcribe"]["transcripts"] == 3
    # by day (the default) one row, whose cost is unknown because one model has no price
    [day] = usage_rows(tmp_path)
    assert day["model"] is None and day["transcripts"] == 9 and day["cost_usd"] is None
    # a price override makes it known (the server bills this model by tokens)
    override = '{ "acme-transcribe" = { audio_in = 1, text_out = 1 } }'
    priced = usage_rows(tmp_path, TRAY_STT_PRICES=override)
    assert priced[0]["cost_usd"] is not None
    table = run_cli("usage", tmp_path=tmp_path, env=env(tmp_path))
    assert table.returncode == 0, table.stderr
    assert "latency today" in table.stdout and "acme-transcribe" in table.stdout
    print(table.stdout)


def test_usage_counts_resent_items_once_across_a_reconnection(
    three_tones: Path, tmp_path: Path
) -> None:
    with RealtimeServer(transcripts=WORDS, drop_before_completion=[[1]]) as server:
        result = transcribe(server, three_tones, tmp_path, "whisper-1")
        assert result.returncode == 0, result.stderr
        assert len(server.connections) >= 2  # the drop happened, the item was resent
        billed = billed_s(server)
        assert server.delivered == WORDS
    [row] = usage_rows(tmp_path)
    assert row["transcripts"] == 3
    assert row["billed_s"] == pytest.approx(billed)


def test_budget_cap_reached_mid_run_finishes_what_was_sent_and_exits_6(
    three_tones: Path, tmp_path: Path
) -> None:
    dear = {"TRAY_STT_PRICES": '{ "whisper-1" = { per_minute = 1 } }'}  # 1.8 s: $0.03 a turn
    caps = {**dear, "TRAY_STT_BUDGET_DAILY_USD": "0.07"}
    with RealtimeServer(transcripts=WORDS) as server:
        result = transcribe(server, three_tones, tmp_path, "whisper-1", **caps)
        assert server.violations == []
    assert result.returncode == 6, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout.splitlines() == WORDS  # what was already sent is still delivered
    assert "of the daily budget of $0.07 is spent" in result.stderr  # the 80 % notice, once
    assert result.stderr.count("is spent") == 1
    assert "budget_daily_usd" in result.stderr.splitlines()[-1]
    # over the cap, nothing starts: no connection, exit 6, one sentence
    with RealtimeServer(transcripts=WORDS) as server:
        again = transcribe(server, three_tones, tmp_path, "whisper-1", **caps)
        assert server.connections == []
    assert again.returncode == 6
    assert again.stderr.strip().splitlines() == [
        line for line in again.stderr.strip().splitlines() if line.startswith("tray-stt: ")
    ]
    assert "daily budget of $0.07 is used up" in again.stderr
    # raising the cap lets it start again
    with RealtimeServer(transcripts=WORDS) as server:
        raised = transcribe(server, three_tones, tmp_path, "whisper-1", **dear)
    assert raised.returncode == 0, raised.stderr


@pytest.mark.desktop
@needs_portaudio
def test_listen_stops_by_itself_when_a_cap_is_reached_mid_session(
    spoken: Path,  # noqa: F811 (the fixture imported above)
    virtual_mic: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    caps = {
        "TRAY_STT_PRICES": '{ "gpt-transcribe" = { per_minute = 1 } }',  # a sentence: ~$0.03
        "TRAY_STT_BUDGET_DAILY_USD": "0.01",
        **env(tmp_path),
    }
    with RealtimeServer(transcripts=SENTENCES) as server:
        args = ["--url", server.url, "--device", "pulse"]
        listening = Listening(args, {**listen_env(virtual_mic, tmp_path), **caps})
        listening.wait_for(
            "listening notice", lambda: any("listening on" in x for x in listening.stderr)
        )
        player = threading.Thread(target=play, args=(spoken, virtual_mic))
        player.start()
        code = listening.finish()  # no Ctrl+C: the cap ends it
        player.join()
        assert server.violations == []
    assert code == 6, listening.stderr
    assert listening.finals == SENTENCES[:1]  # what was sent is delivered, then nothing more
    assert "daily budget of $0.01 is used up" in listening.stderr[-1]
    assert_clean_stderr(listening)


def test_usage_shows_what_local_turn_detection_kept_from_being_sent(tmp_path: Path) -> None:
    from tests.support.audio_samples import spoken_wav

    wav = tmp_path / "spoken.wav"
    spoken_wav(wav, ["Hello from the tray.", "A second sentence."], gap_s=2.0)
    with RealtimeServer(transcripts=["one", "two"]) as server:
        result = transcribe(server, wav, tmp_path, "gpt-live-transcribe")
        assert result.returncode == 0, result.stderr
        sent_ms = len(server.connections[0].audio) / 48
    table = run_cli("usage", tmp_path=tmp_path, env=env(tmp_path))
    assert table.returncode == 0, table.stderr
    [line] = [x for x in table.stdout.splitlines() if x.startswith("client-side turn detection")]
    match = re.search(r"heard (\d+):(\d\d), sent (\d+):(\d\d): .* \((\d+)%\) was never sent", line)
    assert match, line
    heard_s = int(match[1]) * 60 + int(match[2])
    sent_s = int(match[3]) * 60 + int(match[4])
    with wave.open(str(wav)) as w:
        assert abs(heard_s - w.getnframes() / w.getframerate()) <= 1  # all the file was heard
    assert abs(sent_s - sent_ms / 1000) <= 1  # and what the server received was sent
    assert heard_s > sent_s and int(match[5]) > 0


def test_usage_latency_shows_a_slow_server(three_tones: Path, tmp_path: Path) -> None:
    with RealtimeServer(transcripts=WORDS, completion_delay=1.5) as server:
        assert transcribe(server, three_tones, tmp_path, "whisper-1").returncode == 0
    table = run_cli("usage", tmp_path=tmp_path, env=env(tmp_path))
    [line] = [x for x in table.stdout.splitlines() if x.startswith("latency today")]
    match = re.search(r"(\d+) utterances\): median ([\d.]+) s, p95 ([\d.]+) s", line)
    assert match, line
    # the server waits 1.5 s from each commit to its transcript: no latency can be shorter
    assert int(match[1]) == 3 and float(match[2]) >= 1.5 and float(match[3]) >= float(match[2])
