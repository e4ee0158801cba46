"""ASR stage: faster-whisper with word timestamps and VAD, output in simplified Chinese.

Recordings arrive as windows of a few minutes (`auditor.windows`); each is transcribed with
faster-whisper's batched pipeline (its Silero VAD cuts the speech into chunks decoded together)
and its times are shifted by the window's offset. Whisper often writes Mandarin in traditional
characters: each word is converted to simplified (OpenCC) on its own, so every character keeps
the time of the word it belongs to. Text Whisper invents on music and silence is dropped
(`auditor.guards`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from auditor import guards
from auditor.errors import ModelError
from auditor.media import SAMPLE_RATE
from auditor.models import ResolvedModel
from auditor.transcript import Segment, Transcript, Word
from auditor.windows import DEFAULT_WINDOW_SECONDS, Window

log = logging.getLogger("auditor")

TranscribeProgress = Callable[[float, float], None]  # (seconds done, seconds in all)

DEFAULT_BATCH_SIZE = 8  # measured on 2 CPU cores (scripts/bench.py); 16 is no faster there


@dataclass(frozen=True)
class AsrOptions:
    model: str = "base"
    device: str = "auto"  # auto | cpu | cuda
    compute_type: str = "default"  # default: int8 on CPU, float16 on CUDA
    language: str = "zh"  # or "auto"
    beam_size: int = 5
    vad: bool = True
    cpu_threads: int = 0  # 0: one per core this process may use
    initial_prompt: str | None = None
    batch_size: int = DEFAULT_BATCH_SIZE  # chunks decoded together; 1: sequential decoding
    hotwords: str | None = None  # words to bias decoding towards (see lexicon_hotwords)
    guards: bool = True  # drop text Whisper invents on music and silence
    window_seconds: float = DEFAULT_WINDOW_SECONDS  # audio decoded and transcribed at a time

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@lru_cache(maxsize=1)
def _t2s() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    converted: str = _t2s().convert(text)
    return converted


def pick_device(requested: str) -> str:
    if requested != "auto":
        return requested
    try:
        import ctranslate2

        return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    except Exception:  # a broken CUDA install must not stop a CPU run
        return "cpu"


def pick_compute_type(device: str, requested: str) -> str:
    if requested != "default":
        return requested
    return "float16" if device == "cuda" else "int8"


def usable_cpus() -> int:
    """Cores this process may run on (a container or taskset may allow fewer than the machine)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def lexicon_hotwords(terms: Iterable[str], limit: int = 150) -> str:
    """Lexicon terms as a hotwords string, short ones first, cut to about `limit` characters.

    Whisper takes at most half its context (223 tokens) of hotwords; the rest is cut anyway.
    """
    unique = sorted({t for t in terms if t and not t.isascii()}, key=lambda t: (len(t), t))
    picked: list[str] = []
    size = 0
    for term in unique:
        if size + len(term) + 1 > limit:
            break
        picked.append(term)
        size += len(term) + 1
    return " ".join(picked)


@lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        import ctypes

        trim: Callable[[int], int] = ctypes.CDLL("libc.so.6").malloc_trim
        return trim
    except (OSError, AttributeError):  # not glibc
        return None


def release_freed_memory() -> None:
    """Hand memory freed by the last window back to the system (glibc keeps it otherwise).

    Each window's buffers are freed when it is done, but glibc holds the pages for reuse, and
    fragments: without this, peak memory creeps up as a recording grows.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


class Transcriber:
    """Loads the model once; transcribes many recordings."""

    def __init__(self, model: ResolvedModel, options: AsrOptions) -> None:
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        self.model_info = model
        self.options = options
        self.device = pick_device(options.device)
        self.compute_type = pick_compute_type(self.device, options.compute_type)
        threads = options.cpu_threads or usable_cpus()
        try:
            self._model = WhisperModel(
                model.path, device=self.device, compute_type=self.compute_type, cpu_threads=threads
            )
        except (RuntimeError, ValueError, OSError) as exc:
            raise ModelError(
                f"cannot load model {model.name} from {model.path} on "
                f"{self.device}/{self.compute_type}: {exc}"
            ) from exc
        # Batched decoding needs the VAD to cut the audio into chunks.
        self._batched = (
            BatchedInferencePipeline(self._model)
            if options.batch_size > 1 and options.vad
            else None
        )

    def transcribe(
        self, audio: npt.NDArray[np.float32], progress: TranscribeProgress | None = None
    ) -> Transcript:
        """Transcribe samples held in memory (16 kHz mono float32)."""
        return self.transcribe_windows([Window(0.0, audio)], audio.shape[0] / SAMPLE_RATE, progress)

    def transcribe_windows(
        self,
        windows: Iterable[Window],
        duration: float | None = None,
        progress: TranscribeProgress | None = None,
    ) -> Transcript:
        """Transcribe a recording window by window; times are the recording's own.

        `duration` (the container's, when known) only scales progress reports.
        """
        language = None if self.options.language == "auto" else self.options.language
        segments: list[Segment] = []
        end = 0.0
        for window in windows:
            end = window.offset + window.duration
            total = max(duration or 0.0, end)
            raw_segments, detected = self._run(window.samples, language)
            for raw in raw_segments:
                segments.extend(self._convert(raw, window))
                if progress:
                    progress(min(window.offset + float(raw.end), total), total)
            language = language or detected
            release_freed_memory()
            if progress:
                progress(end, total)
        return Transcript(tuple(segments), language=language or "unknown", duration=end)

    def _run(self, samples: npt.NDArray[np.float32], language: str | None) -> tuple[Any, str]:
        kwargs: dict[str, Any] = {
            "language": language,
            "beam_size": self.options.beam_size,
            "word_timestamps": True,
            "vad_filter": self.options.vad,
            "condition_on_previous_text": False,  # it feeds repetition loops on long streams
            "initial_prompt": self.options.initial_prompt,
            "hotwords": self.options.hotwords,
        }
        if self._batched is not None:
            raw, info = self._batched.transcribe(
                samples, batch_size=self.options.batch_size, **kwargs
            )
        else:
            raw, info = self._model.transcribe(samples, **kwargs)
        return raw, str(info.language)

    def _convert(self, raw: Any, window: Window) -> list[Segment]:
        """One faster-whisper segment as sentences in the recording's times; guards applied."""
        check = self.options.guards
        offset = window.offset
        if check and guards.is_silence(float(raw.no_speech_prob), float(raw.avg_logprob)):
            log.info(
                "dropped text where Whisper hears no speech at %.1fs: %s",
                offset + raw.start,
                raw.text,
            )
            return []
        words = [
            Word(
                offset + float(w.start),
                offset + float(w.end),
                to_simplified(w.word).strip(),
                float(w.probability),
            )
            for w in (raw.words or ())
            if w.word.strip()
        ]
        words = [guards.trim_to_sound(w, window.samples, offset, SAMPLE_RATE) for w in words]
        if not words:
            text = to_simplified(raw.text).strip()
            if not text:
                return []
            words = [Word(offset + float(raw.start), offset + float(raw.end), text, 1.0)]
        out: list[Segment] = []
        for sentence in guards.split_sentences(words):
            text = "".join(w.text for w in sentence)
            reason = (
                guards.hallucination_reason(text, [w.probability for w in sentence])
                if check
                else None
            )
            if reason:
                log.info(
                    "dropped a likely hallucination (%s) at %.1fs: %s",
                    reason,
                    sentence[0].start,
                    text,
                )
                continue
            out.append(Segment(sentence[0].start, sentence[-1].end, text, tuple(sentence)))
        return out
