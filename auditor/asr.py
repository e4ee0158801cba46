"""ASR stage: faster-whisper with word timestamps and VAD, output in simplified Chinese.

Whisper often writes Mandarin in traditional characters. Each word is converted to simplified
(OpenCC) on its own, so every character keeps the time of the word it belongs to.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from auditor.errors import ModelError
from auditor.media import SAMPLE_RATE
from auditor.models import ResolvedModel
from auditor.transcript import Segment, Transcript, Word

log = logging.getLogger("auditor")

TranscribeProgress = Callable[[float, float], None]  # (seconds done, seconds in all)

# Whisper's well-known inventions on silence and music (subtitle credits, sign-offs).
HALLUCINATION_MARKERS = (
    "字幕由",
    "字幕提供",
    "字幕志愿者",
    "请不吝点赞",
    "点赞订阅",
    "订阅转发",
    "打赏支持",
    "明镜与点点",
    "优优独播剧场",
)


@dataclass(frozen=True)
class AsrOptions:
    model: str = "base"
    device: str = "auto"  # auto | cpu | cuda
    compute_type: str = "default"  # default: int8 on CPU, float16 on CUDA
    language: str = "zh"  # or "auto"
    beam_size: int = 5
    vad: bool = True
    cpu_threads: int = 0  # 0: one per core
    initial_prompt: str | None = None

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


class Transcriber:
    """Loads the model once; transcribes many recordings."""

    def __init__(self, model: ResolvedModel, options: AsrOptions) -> None:
        from faster_whisper import WhisperModel

        self.model_info = model
        self.options = options
        self.device = pick_device(options.device)
        self.compute_type = pick_compute_type(self.device, options.compute_type)
        threads = options.cpu_threads or (os.cpu_count() or 1)
        try:
            self._model = WhisperModel(
                model.path, device=self.device, compute_type=self.compute_type, cpu_threads=threads
            )
        except (RuntimeError, ValueError, OSError) as exc:
            raise ModelError(
                f"cannot load model {model.name} from {model.path} on "
                f"{self.device}/{self.compute_type}: {exc}"
            ) from exc

    def transcribe(
        self, audio: npt.NDArray[np.float32], progress: TranscribeProgress | None = None
    ) -> Transcript:
        duration = audio.shape[0] / SAMPLE_RATE
        language = None if self.options.language == "auto" else self.options.language
        segments_iter, info = self._model.transcribe(
            audio,
            language=language,
            beam_size=self.options.beam_size,
            word_timestamps=True,
            vad_filter=self.options.vad,
            condition_on_previous_text=False,  # it feeds repetition loops on long streams
            initial_prompt=self.options.initial_prompt,
        )
        segments: list[Segment] = []
        for raw in segments_iter:
            segment = _convert_segment(raw)
            if segment is not None:
                segments.append(segment)
            if progress:
                progress(min(float(raw.end), duration), duration)
        return Transcript(tuple(segments), language=str(info.language), duration=duration)


def _convert_segment(raw: Any) -> Segment | None:
    words = tuple(
        Word(float(w.start), float(w.end), to_simplified(w.word).strip(), float(w.probability))
        for w in (raw.words or ())
        if w.word.strip()
    )
    text = "".join(w.text for w in words) if words else to_simplified(raw.text).strip()
    if not text or is_hallucination(text):
        if text:
            log.info("dropped a likely hallucinated segment at %.1fs: %s", raw.start, text)
        return None
    start = words[0].start if words else float(raw.start)
    end = words[-1].end if words else float(raw.end)
    return Segment(start, end, text, words)


def is_hallucination(text: str) -> bool:
    return any(marker in text for marker in HALLUCINATION_MARKERS)
