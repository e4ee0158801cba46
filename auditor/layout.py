"""How many worker processes a local batch runs (`batch --workers auto`): measured, then kept.

Which layout is fastest depends on the machine: on 2 cores one process of two decoding threads
audits a batch faster than two processes of one thread each (28.0 s against 32.2 s for ten
one-minute files, `scripts/bench.py --only batch --batch-workers 1,2,auto`), and on more cores
more processes may win. So `--workers auto` measures. It cuts a sample from the batch's own
first file, times the local executor auditing it under each candidate layout (the model loaded
beforehand, two files at once in each worker, as a batch runs), and keeps the fastest under
AUDITOR_HOME/cache, keyed by the machine and the settings that change decoding speed, so that
later runs start at once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from auditor.errors import InputError
from auditor.files import atomic_file, auditor_home, printable
from auditor.media import SAMPLE_RATE, copy_span, extract_audio, probe

__all__ = [
    "ROUNDS",
    "Layout",
    "LayoutChoice",
    "Trial",
    "available_memory",
    "candidates",
    "cut_sample",
    "load_choice",
    "machine_key",
    "pick",
    "save_choice",
    "silence",
]

log = logging.getLogger(__name__)

# A speech chunk for each of the two files a worker holds: every decoding thread has work.
SAMPLE_SECONDS = 30.0
MIN_SPEECH_SECONDS = 5.0  # less, and the trial times finding silence, not decoding
# Each worker holds a model and two files' audio. A 60-minute audit peaked at 1266 MiB
# (scripts/bench.py --only memory); the rest is room for the second file.
WORKER_MEMORY = 3 * 2**29
MAX_TRIALS = 4
ROUNDS = 3  # timed rounds of each layout, alternating; the median is its speed
# More processes cost memory and start-up, which the timing leaves out (a batch pays it once per
# worker): on 2 cores it timed two workers 4% faster than one, while batches of ten one-minute
# files took 15% longer with two. A layout with more workers must be this much faster.
CLOSE = 0.10
_FORMAT = 1


@dataclass(frozen=True)
class Layout:
    workers: int
    threads: int  # per worker

    def __str__(self) -> str:
        return f"{self.workers} worker(s) x {self.threads} thread(s)"


@dataclass(frozen=True)
class Trial:
    layout: Layout
    audio_seconds: float  # audited in all, by all the workers together
    wall: float

    @property
    def speed(self) -> float:
        """Audio seconds audited per wall second (times real time)."""
        return self.audio_seconds / self.wall if self.wall > 0 else 0.0


@dataclass(frozen=True)
class LayoutChoice:
    layout: Layout
    trials: tuple[Trial, ...]
    measured: str  # when, as times.utc_now() gives it
    sample: str  # the file the sample was cut from

    def describe(self) -> str:
        speeds = ", ".join(f"{t.layout}: {t.speed:.1f}x real time" for t in self.trials)
        return f"{self.layout} (measured {self.measured} on {self.sample}: {speeds})"

    def to_json(self) -> dict[str, Any]:
        return {"format": _FORMAT, **dataclasses.asdict(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LayoutChoice:
        if data.get("format") != _FORMAT:
            raise ValueError(f"format {data.get('format')!r}")
        trials = tuple(
            Trial(Layout(**t["layout"]), float(t["audio_seconds"]), float(t["wall"]))
            for t in data["trials"]
        )
        layout = Layout(int(data["layout"]["workers"]), int(data["layout"]["threads"]))
        if layout.workers < 1 or layout.threads < 1:
            raise ValueError(f"layout {layout}")
        return cls(layout, trials, str(data["measured"]), str(data["sample"]))


def candidates(cores: int, threads: int = 0, memory: int | None = None) -> list[Layout]:
    """The layouts worth timing on `cores`: 1, 2, 4 ... workers sharing the cores (or of
    `threads` each, when the user fixed them), at most MAX_TRIALS, the fewest workers first.
    They are timed side by side, so all their workers together must fit in `memory` bytes."""
    layouts: list[Layout] = []
    workers = started = 0
    while len(layouts) < MAX_TRIALS:
        workers = 2 * workers or 1
        per_worker = threads or cores // workers
        if workers > 1 and (per_worker < 1 or workers * per_worker > cores):
            break
        started += workers
        if workers > 1 and memory is not None and started * WORKER_MEMORY > memory:
            break
        layouts.append(Layout(workers, per_worker))
    return layouts


def pick(trials: list[Trial]) -> Layout:
    """The fastest layout; of those within CLOSE of it, the one with the fewest workers."""
    if not trials:
        raise ValueError("no trials to pick from")
    best = max(t.speed for t in trials)
    near = [t for t in trials if t.speed >= best * (1 - CLOSE)]
    return min(near, key=lambda t: t.layout.workers).layout


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def machine_key(settings: dict[str, Any], cores: int, threads: int) -> str:
    """What makes a measured layout stale: another processor or core count, another
    CTranslate2, or other settings of what is decoded and how (the settings key's input)."""
    import ctranslate2

    basis = {
        "settings": settings,
        "cores": cores,
        "threads": threads,
        "cpu": _cpu_model(),
        "ctranslate2": ctranslate2.__version__,
    }
    text = json.dumps(basis, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _cache_path(key: str) -> Path:
    return auditor_home() / "cache" / f"layout-{key}.json"


def load_choice(key: str) -> LayoutChoice | None:
    """The layout measured earlier under this key; a missing or damaged file is None."""
    path = _cache_path(key)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return LayoutChoice.from_json(data)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("measuring the worker layout again: cannot use %s: %s", path, exc)
        return None


def save_choice(key: str, choice: LayoutChoice) -> Path | None:
    """Keep the choice for later runs; where the cache cannot be written, None."""
    path = _cache_path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(path) as handle:
            handle.write(json.dumps(choice.to_json(), ensure_ascii=False, indent=1).encode())
    except OSError as exc:
        log.warning("cannot keep the measured worker layout in %s: %s", path, exc)
        return None
    return path


def available_memory() -> int | None:
    """Bytes of memory available to start processes in (Linux's MemAvailable), if known."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _write_wav(path: Path, samples: np.ndarray[Any, np.dtype[np.float32]]) -> None:
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm.tobytes())


def silence(folder: Path, seconds: float = 1.0) -> Path:
    """A short silent recording: a worker's warm-up file (it finds no speech and returns)."""
    path = folder / "warm-up.wav"
    _write_wav(path, np.zeros(int(SAMPLE_RATE * seconds), dtype=np.float32))
    return path


def cut_sample(
    path: str, audio_stream: int, folder: Path, timeout: float | None = None
) -> tuple[Path, float] | None:
    """SAMPLE_SECONDS from the middle of `path` (all of it when shorter) and the seconds of
    speech in them; None when they hold less than MIN_SPEECH_SECONDS of speech.

    The cut keeps the file's streams as they are (a video stays a video, so that the trial pays
    for the screen pass as the batch will); when they cannot be copied, the audio alone is kept.
    Raises InputError when the file cannot be read.
    """
    from auditor.speech import find_speech

    info = probe(path)
    start = max(0.0, info.duration / 2 - SAMPLE_SECONDS / 2)
    length = min(SAMPLE_SECONDS, info.duration) if info.duration > 0 else SAMPLE_SECONDS
    samples = extract_audio(info, audio_stream, timeout, span=(start, length))
    speech = sum(piece.duration for piece in find_speech(samples, 0.0))
    if speech < MIN_SPEECH_SECONDS:
        return None
    copied = folder / f"sample{Path(path).suffix.lower() or '.mkv'}"
    if copy_span(info, (start, length), copied, timeout):
        try:
            if probe(str(copied)).duration > 0:
                return copied, speech
        except InputError as exc:
            log.debug("cannot read the copied sample of %s: %s", printable(path), exc)
    wav = folder / "sample.wav"
    _write_wav(wav, samples)
    return wav, speech
