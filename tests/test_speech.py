"""Speech packing: pieces of speech from many windows into full 30 s chunks, and times back."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from auditor.asr import decode_part_size, in_parts, lay_out, worker_layout
from auditor.media import SAMPLE_RATE
from auditor.speech import CHUNK_SECONDS, Chunk, Piece, TimeMap, find_speech, pack

CLIP = Path(__file__).parent / "data" / "zh_tts" / "d02.wav"


def piece(start: float, seconds: float) -> Piece:
    return Piece(start, np.zeros(int(seconds * SAMPLE_RATE), dtype=np.float32))


def windows_of(durations: list[list[float]]) -> list[list[Piece]]:
    """Pieces per window, each piece starting 1 s after the previous one ends."""
    at = 0.0
    out = []
    for window in durations:
        pieces = []
        for seconds in window:
            pieces.append(piece(at, seconds))
            at += seconds + 1.0
        out.append(pieces)
    return out


def test_chunks_are_full_across_windows_and_only_the_last_is_part_filled() -> None:
    windows = windows_of([[10, 10, 5], [8, 9, 12], [10, 10, 10], [3]])
    groups = [g for g in pack(windows, group=2) if g]
    chunks = [c for g in groups for c in g]
    assert all(c.duration <= CHUNK_SECONDS for c in chunks)
    # Per window, the fourth window's 3 s would have been a chunk of its own, and so would
    # the ends of the others: 4 windows, 7 chunks. Carried over: 87 s of speech in 4 chunks.
    assert len(chunks) == 4
    assert sum(c.duration for c in chunks) == pytest.approx(87)
    starts = [p.start for c in chunks for p in c.pieces]
    assert starts == sorted(starts) and len(starts) == 10
    assert [len(g) for g in groups] == [2, 2]


def test_groups_wait_until_full_and_each_window_reports_progress() -> None:
    windows = windows_of([[20], [20], [20]])
    out = list(pack(windows, group=8))
    assert out[:3] == [[], [], []]  # one (empty) report per window: nothing full enough yet
    assert [c.duration for c in out[3]] == [20, 20, 20]


def test_time_map_puts_times_back_in_the_recording() -> None:
    first = Chunk([piece(100.0, 2.0), piece(110.0, 3.0)])
    second = Chunk([piece(200.0, 4.0)])
    to_recording = TimeMap([first, second])
    assert to_recording.duration == pytest.approx(9.0)
    assert to_recording(0.5) == pytest.approx(100.5)
    assert to_recording(2.5) == pytest.approx(110.5)
    assert to_recording(6.0) == pytest.approx(201.0)
    # On the seam of two pieces: a start belongs to the later piece, an end to the earlier one.
    assert to_recording(2.0) == pytest.approx(110.0)
    assert to_recording(2.0, is_end=True) == pytest.approx(102.0)
    assert to_recording(99.0) == pytest.approx(204.0)  # past the end: the last piece's end


def test_find_speech_keeps_the_voice_and_drops_the_silence() -> None:
    with wave.open(str(CLIP)) as w:
        voice = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16) / 32768.0
    silence = np.zeros(5 * SAMPLE_RATE)
    samples = np.concatenate([silence, voice, silence, voice, silence]).astype(np.float32)
    pieces = find_speech(samples, offset=60.0)
    voice_seconds = voice.shape[0] / SAMPLE_RATE
    assert pieces
    assert sum(p.duration for p in pieces) < 2 * voice_seconds + 2.0  # the silence is gone
    assert 60.0 + 4.0 <= pieces[0].start <= 60.0 + 5.5  # times are the recording's
    second = 60.0 + 10.0 + voice_seconds
    assert any(second - 1.0 <= p.start <= second + 1.5 for p in pieces)
    assert find_speech(np.zeros(0, dtype=np.float32), 0.0) == []


@pytest.mark.parametrize(
    ("device", "threads", "batched", "layout"),
    [
        ("cpu", 2, True, (2, 1)),
        ("cpu", 1, True, (1, 1)),
        ("cpu", 8, True, (4, 2)),
        ("cpu", 2, False, (1, 2)),  # sequential decoding: one worker with every thread
        ("cuda", 16, True, (1, 16)),
    ],
)
def test_worker_layout(device: str, threads: int, batched: bool, layout: tuple[int, int]) -> None:
    assert worker_layout(device, threads, batched) == layout


def test_parts_keep_order_and_size() -> None:
    chunks = [Chunk([piece(float(i), 1.0)]) for i in range(5)]
    parts = in_parts(chunks, 2)
    assert [len(p) for p in parts] == [2, 2, 1]
    assert [c for p in parts for c in p] == chunks
    assert in_parts(chunks[:1], 4) == [chunks[:1]]
    assert in_parts([], 2) == []


def test_decoding_calls_do_not_depend_on_the_thread_layout() -> None:
    # Word times depend on which chunks share a decoding call: the grouping follows the batch
    # size (in the settings key) and the device, not the number of workers or threads.
    assert decode_part_size("cpu", 8, chunks=8) == 2
    assert decode_part_size("cpu", 8, chunks=5) == 2
    assert decode_part_size("cpu", 1, chunks=1) == 1
    assert decode_part_size("cuda", 16, chunks=3) == 16


def test_a_short_group_is_spread_over_the_workers() -> None:
    # A minute of speech (two or three chunks) in one call would leave all workers but one idle.
    assert [decode_part_size("cpu", 8, chunks=n) for n in (1, 2, 3, 4)] == [1, 1, 1, 1]
    assert decode_part_size("cpu", 16, chunks=12) == 3


def test_chunks_are_laid_out_from_whole_seconds() -> None:
    # faster-whisper places a chunk's words by its offset cut down to 10 ms frames: from a whole
    # second, the cut is exact, and a word's time does not depend on the chunks before it.
    rng = np.random.default_rng(0)

    def noise(start: float, size: int) -> Piece:
        return Piece(start, rng.standard_normal(size).astype(np.float32))

    chunks = [
        Chunk([noise(0.0, 2 * SAMPLE_RATE + 37), noise(10.0, 555)]),
        Chunk([noise(20.0, SAMPLE_RATE)]),
        Chunk([noise(40.0, 999)]),
    ]
    audio, bounds = lay_out(chunks)
    assert [a for a, _ in bounds] == [0, 3 * SAMPLE_RATE, 4 * SAMPLE_RATE]
    for chunk, (a, b) in zip(chunks, bounds, strict=True):
        assert np.array_equal(audio[a:b], np.concatenate([p.samples for p in chunk.pieces]))
        assert int(a / SAMPLE_RATE * 100) == a / SAMPLE_RATE * 100  # whole frames
    assert not audio[bounds[0][1] : bounds[1][0]].any()  # silence between, never heard
    to_recording = TimeMap(chunks, [a / SAMPLE_RATE for a, _ in bounds])
    assert to_recording(3.5) == pytest.approx(20.5)
    assert to_recording.duration == pytest.approx(sum(c.duration for c in chunks))
