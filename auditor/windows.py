"""Streaming extraction: a recording's audio as windows of a few minutes, cut at quiet moments.

ffmpeg writes 16 kHz mono PCM to a pipe; it is read in small chunks, so a four-hour broadcast is
never held in memory at once. Chunks are gathered into windows of about `window_seconds`, each cut
at the quietest stretch of its last part (a pause between sentences, so no word is split), and
each window knows its offset in the recording. `prefetch` runs the decoding in a thread, so the
next window is decoded while the current one is transcribed.
"""

from __future__ import annotations

import logging
import queue
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from auditor.errors import InputError, MediaToolError
from auditor.media import SAMPLE_RATE, MediaInfo, cause_line, check_stream, ffmpeg_pcm_args
from auditor.options import DEFAULT_WINDOW_SECONDS
from auditor.speech import Piece, find_speech

log = logging.getLogger("auditor")

T = TypeVar("T")

CHUNK_SECONDS = 5.0  # read from the ffmpeg pipe this much at a time
SEARCH_FRACTION = 0.25  # look for the cut in the last quarter of a window
QUIET_FRAME = 400  # 25 ms frames for the energy curve
QUIET_SPAN = 12  # frames averaged: the cut lands in the middle of the quietest 300 ms


@dataclass(frozen=True)
class Window:
    offset: float  # seconds from the start of the recording
    samples: npt.NDArray[np.float32]
    speech: tuple[Piece, ...] | None = None  # its voice activity, when found with it

    @property
    def duration(self) -> float:
        return float(self.samples.shape[0]) / SAMPLE_RATE


def pcm_chunks(
    info: MediaInfo,
    audio_stream: int = 0,
    timeout: float | None = None,
    chunk_seconds: float = CHUNK_SECONDS,
) -> Iterator[npt.NDArray[np.float32]]:
    """Decode one audio stream through an ffmpeg pipe; yield float32 chunks in [-1, 1]."""
    check_stream(info, audio_stream)
    args = ffmpeg_pcm_args(info, audio_stream)
    log.debug("running %s", args)
    chunk_bytes = int(chunk_seconds * SAMPLE_RATE) * 2
    with tempfile.TemporaryFile() as errors:
        try:
            proc = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors
            )
        except OSError as exc:
            raise MediaToolError(f"cannot run ffmpeg ({args[0]}): {exc}") from exc
        assert proc.stdout is not None
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            proc.kill()

        def watch() -> threading.Timer | None:
            # The limit counts only time spent waiting for ffmpeg: while the consumer transcribes,
            # ffmpeg is blocked on the full pipe, which is no hang.
            if not timeout:
                return None
            timer = threading.Timer(timeout, expire)
            timer.daemon = True
            timer.start()
            return timer

        watchdog: threading.Timer | None = None
        total = 0
        try:
            carry = b""
            while True:
                watchdog = watch()
                data = proc.stdout.read(chunk_bytes)
                if watchdog:
                    watchdog.cancel()
                if not data:
                    break
                data = carry + data
                usable = len(data) - len(data) % 2
                carry = data[usable:]
                if usable:
                    total += usable // 2
                    yield np.frombuffer(data[:usable], dtype=np.int16).astype(np.float32) / 32768.0
            watchdog = watch()
            code = proc.wait()
        finally:
            if watchdog:
                watchdog.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
        if expired.is_set():
            raise InputError(
                info.path, f"ffmpeg gave no audio for {timeout:g} s (hung?); stopped it"
            )
        if code != 0:
            errors.seek(0)
            message = cause_line(errors.read().decode("utf-8", "replace"))
            raise InputError(info.path, f"audio could not be decoded: {message}")
    if total == 0:
        raise InputError(info.path, "audio stream holds no samples (empty or truncated)")


def quietest_point(samples: npt.NDArray[np.float32], lo: int, hi: int) -> int:
    """The sample index in [lo, hi) at the middle of the quietest ~300 ms stretch."""
    lo = max(0, lo)
    hi = min(samples.shape[0], hi)
    frames = (hi - lo) // QUIET_FRAME
    if frames < QUIET_SPAN:
        return hi
    region = samples[lo : lo + frames * QUIET_FRAME].reshape(frames, QUIET_FRAME)
    energy = np.mean(region.astype(np.float64) ** 2, axis=1)
    smoothed = np.convolve(energy, np.ones(QUIET_SPAN) / QUIET_SPAN, mode="valid")
    best = int(np.argmin(smoothed))
    return lo + (best + QUIET_SPAN // 2) * QUIET_FRAME


def cut_windows(
    chunks: Iterable[npt.NDArray[np.float32]], window_seconds: float = DEFAULT_WINDOW_SECONDS
) -> Iterator[Window]:
    """Gather chunks into windows of at most `window_seconds`, each ending at a quiet moment."""
    size = max(int(window_seconds * SAMPLE_RATE), QUIET_FRAME * QUIET_SPAN * 2)
    search = int(size * SEARCH_FRACTION)
    pending: list[npt.NDArray[np.float32]] = []
    buffered = 0
    offset = 0  # samples already emitted
    for chunk in chunks:
        pending.append(chunk)
        buffered += chunk.shape[0]
        while buffered >= size:
            joined = np.concatenate(pending)
            cut = quietest_point(joined, size - search, size)
            yield Window(offset / SAMPLE_RATE, joined[:cut].copy())
            offset += cut
            rest = joined[cut:].copy()
            pending = [rest]
            buffered = rest.shape[0]
    if buffered:
        yield Window(offset / SAMPLE_RATE, np.concatenate(pending))


_DONE = object()


@dataclass(frozen=True)
class _Failure:
    error: BaseException


class Prefetch(Iterator[T]):
    """Produce `items` in a thread, started at once, at most `depth` ahead of the consumer.

    The producer's errors are raised in the consumer. `close()` (or leaving a `with` block) stops
    the producer; iterate or close, never neither.
    """

    def __init__(self, items: Iterable[T], depth: int = 1) -> None:
        self._slots: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._finished = False
        self._thread = threading.Thread(
            target=self._produce, args=(iter(items),), name="auditor-decode", daemon=True
        )
        self._thread.start()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self, iterator: Iterator[T]) -> None:
        try:
            for item in iterator:
                if not self._put(item):
                    break
        except BaseException as exc:  # handed to the consumer, raised there
            self._put(_Failure(exc))
            return
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()  # ends ffmpeg when the consumer stopped early
        self._put(_DONE)

    def __next__(self) -> T:
        if self._finished:
            raise StopIteration
        item = self._slots.get()
        if item is _DONE:
            self.close()
            raise StopIteration
        if isinstance(item, _Failure):
            self.close()
            raise item.error
        return item  # type: ignore[return-value]

    def close(self) -> None:
        self._finished = True
        self._stop.set()
        self._thread.join(timeout=10)

    def __enter__(self) -> Prefetch[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def prefetch(items: Iterable[T], depth: int = 1) -> Prefetch[T]:
    return Prefetch(items, depth)


def with_speech(windows: Iterable[Window]) -> Iterator[Window]:
    for window in windows:
        speech = tuple(find_speech(window.samples, window.offset))
        yield Window(window.offset, window.samples, speech)


def stream_windows(
    info: MediaInfo,
    audio_stream: int = 0,
    window_seconds: float = DEFAULT_WINDOW_SECONDS,
    timeout: float | None = None,
    speech: bool = False,
) -> Prefetch[Window]:
    """Windows of the recording's audio, decoded one window ahead in a thread that starts now;
    with `speech`, that thread also finds each window's voice activity (auditor.speech).

    Use it in a `with` block: leaving it stops ffmpeg and the thread.
    """
    check_stream(info, audio_stream)  # fail in the caller's thread, before any thread starts
    windows = cut_windows(pcm_chunks(info, audio_stream, timeout), window_seconds)
    return Prefetch(with_speech(windows) if speech else windows)
