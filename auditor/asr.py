"""ASR stage: faster-whisper with word timestamps and VAD, output in simplified Chinese.

Recordings arrive as windows of a few minutes (`auditor.windows`). The speech found in them is
packed into 30 s chunks across windows (`auditor.speech`), which faster-whisper's batched pipeline
decodes together; times map back to the recording's. Whisper often writes Mandarin in traditional
characters: each word is converted to simplified (OpenCC) on its own, so every character keeps
the time of the word it belongs to. Text Whisper invents on music and silence is dropped
(`auditor.guards`).
"""

from __future__ import annotations

import bisect
import dataclasses
import logging
import os
import queue
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from auditor import guards
from auditor.errors import ModelError
from auditor.media import SAMPLE_RATE
from auditor.options import AsrOptions
from auditor.results import ResolvedModel
from auditor.speech import Chunk, Piece, TimeMap, find_speech, pack
from auditor.transcript import Segment, Transcript, Word
from auditor.windows import Window

log = logging.getLogger("auditor")

TranscribeProgress = Callable[[float, float], None]  # (seconds done, seconds in all)


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


MAX_WORKERS = 4


def worker_layout(device: str, threads: int, batched: bool) -> tuple[int, int]:
    """(workers, threads per worker) for CTranslate2 on `threads` cores.

    Beam search over a few chunks keeps two threads of one worker only partly busy; two workers
    of one thread each, decoding different chunks at once, transcribe the same text about a
    quarter faster on 2 cores (scripts/bench.py). Above 4 cores the split is a guess. On a GPU,
    and for sequential decoding, one worker.
    """
    if device != "cpu" or not batched or threads < 2:
        return 1, max(1, threads)
    workers = min(threads, MAX_WORKERS)
    return workers, max(1, threads // workers)


def packs_speech(options: AsrOptions) -> bool:
    """Whether speech is found per window and packed into chunks decoded in batches (else each
    window is decoded on its own, sequentially): batching needs the VAD to cut the chunks."""
    return options.batch_size > 1 and options.vad


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
        self.workers, threads = worker_layout(
            self.device, options.cpu_threads or usable_cpus(), packs_speech(options)
        )
        # Adaptive decoding: whether greedy text holds a claim (set by the auditor), and how many
        # seconds of speech were decoded, and decoded again with beam search.
        self.claim_check: ClaimCheck | None = None
        self.decoded_seconds = 0.0
        self.redecoded_seconds = 0.0
        try:
            self._model = WhisperModel(
                model.path,
                device=self.device,
                compute_type=self.compute_type,
                cpu_threads=threads,
                num_workers=self.workers,
            )
        except (RuntimeError, ValueError, OSError) as exc:
            raise ModelError(
                f"cannot load model {model.name} from {model.path} on "
                f"{self.device}/{self.compute_type}: {exc}"
            ) from exc
        self._new_pipeline = BatchedInferencePipeline
        self._idle_pipelines: queue.SimpleQueue[Any] = queue.SimpleQueue()

    @contextmanager
    def _pipeline(self) -> Iterator[Any]:
        """A batched pipeline that no other decoding call is using: a pipeline keeps state
        between calls, and two recordings may be transcribed at once (batch workers do)."""
        try:
            pipeline = self._idle_pipelines.get_nowait()
        except queue.Empty:
            pipeline = self._new_pipeline(self._model)
        try:
            yield pipeline
        finally:
            self._idle_pipelines.put(pipeline)

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

        def report(done: float) -> None:
            if progress:
                progress(min(done, max(duration or 0.0, end)), max(duration or 0.0, end))

        if not packs_speech(self.options):
            for window in windows:
                end = window.offset + window.duration
                raw_segments, detected = self._run(window.samples, language)
                for raw in raw_segments:
                    segments.extend(self._convert(raw, window.samples, _Shift(window.offset)))
                    report(window.offset + float(raw.end))
                language = language or detected
                release_freed_memory()
                report(end)
            return Transcript(tuple(segments), language=language or "unknown", duration=end)

        def speech() -> Iterator[list[Piece]]:
            nonlocal end
            for window in windows:
                end = window.offset + window.duration
                if window.speech is not None:
                    yield list(window.speech)
                else:
                    yield find_speech(window.samples, window.offset)

        for chunks in pack(speech(), group=self.options.batch_size):
            parts = in_parts(
                chunks, decode_part_size(self.device, self.options.batch_size, len(chunks))
            )
            if language is None:  # language "auto": the first part decides it for all
                first = self._decode(parts.pop(0), language)
                language = first[0].language
                decoded_parts = [*first, *self._decode_parts(parts, language)]
            else:
                decoded_parts = self._decode_parts(parts, language)
            group: list[Segment] = []
            for decoded in decoded_parts:
                for raw in decoded.segments:
                    group.extend(self._convert(raw, decoded.audio, decoded.time_map))
                    report(decoded.time_map(float(raw.end), is_end=True))
            # Chunks decoded again come after the others: each group is put back in time order.
            segments.extend(sorted(group, key=lambda seg: (seg.start, seg.end)))
            release_freed_memory()
            report(end)
        return Transcript(tuple(segments), language=language or "unknown", duration=end)

    def _decode_parts(self, parts: list[list[Chunk]], language: str | None) -> list[_Decoded]:
        """The parts in order, decoded by the workers in parallel (CTranslate2 runs them at
        once): lane w takes parts w, w + workers, ... one after another."""
        lanes = min(self.workers, len(parts))
        if lanes <= 1:
            return [d for part in parts for d in self._decode(part, language)]

        def lane(index: int) -> list[list[_Decoded]]:
            return [self._decode(part, language) for part in parts[index::lanes]]

        with ThreadPoolExecutor(lanes, thread_name_prefix="auditor-asr") as pool:
            done = list(pool.map(lane, range(lanes)))
        return [d for i in range(len(parts)) for d in done[i % lanes][i // lanes]]

    def _options(self, language: str | None, beam_size: int) -> dict[str, Any]:
        return {
            "language": language,
            "beam_size": beam_size,
            "word_timestamps": True,
            "condition_on_previous_text": False,  # it feeds repetition loops on long streams
            "initial_prompt": self.options.initial_prompt,
            "hotwords": self.options.hotwords,
        }

    def _run(self, samples: npt.NDArray[np.float32], language: str | None) -> tuple[Any, str]:
        """Sequential decoding of one window (no batching), with or without VAD."""
        beam = 1 if self.options.decoding == "greedy" else self.options.beam_size
        raw, info = self._model.transcribe(
            samples, vad_filter=self.options.vad, **self._options(language, beam)
        )
        return raw, str(info.language)

    def _decode(self, chunks: list[Chunk], language: str | None) -> list[_Decoded]:
        """The chunks decoded as --decoding says: beam search; greedy; or adaptive, greedy
        first, then beam search again on the chunks whose greedy text is doubtful or holds a
        claim (their greedy segments are dropped)."""
        mode = self.options.decoding
        if mode == "beam" or self.options.beam_size <= 1:
            return [self._decode_once(chunks, language, self.options.beam_size)]
        greedy = self._decode_once(chunks, language, 1)
        if mode == "greedy":
            return [greedy]
        self.decoded_seconds += greedy.time_map.duration
        windows = redo_windows(greedy, len(chunks), self.claim_check)
        if not windows:
            return [greedy]
        # One chunk per window: text decoded from two windows at once could not be put back
        # between the greedy words that separate them.
        redo = [
            Chunk([p for p in greedy.time_map.pieces(greedy.audio, a, b) if p.duration > 0.05])
            for a, b in windows
        ]
        redo = [c for c in redo if c.pieces]
        self.redecoded_seconds += sum(c.duration for c in redo)
        out = [dataclasses.replace(greedy, segments=kept_segments(greedy.segments, windows))]
        size = self.options.batch_size
        for at in range(0, len(redo), size):
            group = redo[at : at + size]
            beam = self.options.beam_size
            out.append(self._decode_once(group, language or greedy.language, beam))
        return out

    def _decode_once(self, chunks: list[Chunk], language: str | None, beam_size: int) -> _Decoded:
        """Batched decoding of chunks, one clip per chunk (laid out by `lay_out`)."""
        audio, bounds = lay_out(chunks)
        # faster-whisper turns clip times into samples by truncation: half a sample in, each
        # lands on its own sample (a start on a whole second is exact already).
        clips = [{"start": a / SAMPLE_RATE, "end": (b + 0.5) / SAMPLE_RATE} for a, b in bounds]
        # The pipeline keeps the last word's time between calls to shape the next call's first
        # words; each call here starts again at 0.
        with self._pipeline() as pipeline:
            pipeline.last_speech_timestamp = 0.0
            raw, info = pipeline.transcribe(
                audio,
                clip_timestamps=clips,
                vad_filter=False,
                batch_size=self.options.batch_size,
                **self._options(language, beam_size),
            )
            raw = list(raw)  # (decoded here: the segments come from a generator)
        starts = tuple(a / SAMPLE_RATE for a, _ in bounds)
        ends = tuple(b / SAMPLE_RATE for _, b in bounds)
        time_map = TimeMap(chunks, starts)
        return _Decoded(audio, time_map, raw, str(info.language), starts, ends)

    def _convert(
        self, raw: Any, heard: npt.NDArray[np.float32], to_recording: Callable[[float, bool], float]
    ) -> list[Segment]:
        """One faster-whisper segment as sentences in the recording's times; guards applied.

        `heard` is the audio the times refer to; `to_recording` maps them to the recording's.
        """
        check = self.options.guards
        if check and guards.is_silence(float(raw.no_speech_prob), float(raw.avg_logprob)):
            log.info(
                "dropped text where Whisper hears no speech at %.1fs: %s",
                to_recording(float(raw.start), False),
                raw.text,
            )
            return []
        heard_words = [
            Word(float(w.start), float(w.end), to_simplified(w.word).strip(), float(w.probability))
            for w in (raw.words or ())
            if w.word.strip()
        ]
        # Trimmed on the audio that was heard, then placed in the recording.
        words = [
            _placed(guards.trim_to_sound(w, heard, 0.0, SAMPLE_RATE), to_recording)
            for w in heard_words
        ]
        if not words:
            text = to_simplified(raw.text).strip()
            if not text:
                return []
            words = [_placed(Word(float(raw.start), float(raw.end), text, 1.0), to_recording)]
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

    def piece_logprobs(
        self, samples: npt.NDArray[np.float32], texts: list[list[str]], language: str = "zh"
    ) -> list[list[float]]:
        """How likely the model finds each text for these samples (at most 30 s), piece by
        piece: for each text (a list of pieces, read one after another), the sum of each piece's
        tokens' log probabilities. CTranslate2's `align` forces the tokens through the decoder
        (as faster-whisper's word timestamps use it); the audio is encoded once, as long as it
        is: CTranslate2 takes fewer than Whisper's 3000 frames, and short audio padded to 30 s
        would cost a full encoding."""
        from faster_whisper.tokenizer import Tokenizer

        model = self._model
        tokenizer = Tokenizer(
            model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=language
        )
        features = model.feature_extractor(samples)
        frames = min(int(features.shape[-1]), 3000)
        encoded = model.encode(features[:, :frames])

        def one(pieces: list[str]) -> list[float]:
            tokens = [tokenizer.encode(piece) for piece in pieces]
            flat = [t for piece in tokens for t in piece]
            if not flat:
                return [0.0] * len(pieces)
            result = model.model.align(encoded, tokenizer.sot_sequence, [flat], frames)[0]
            logs = np.log(np.maximum(np.asarray(result.text_token_probs, np.float64), 1e-12))
            ends = np.cumsum([len(t) for t in tokens])
            return [float(logs[e - len(t) : e].sum()) for t, e in zip(tokens, ends, strict=True)]

        # Each worker aligns on one thread: the texts go to the workers side by side.
        lanes = min(self.workers, len(texts))
        if lanes <= 1:
            return [one(pieces) for pieces in texts]
        with ThreadPoolExecutor(lanes, thread_name_prefix="auditor-align") as pool:
            return list(pool.map(one, texts))


@dataclass(frozen=True)
class _Decoded:
    audio: npt.NDArray[np.float32]  # what was heard: the chunks laid end to end
    time_map: TimeMap
    segments: list[Any]  # faster-whisper segments, times in `audio`
    language: str
    starts: tuple[float, ...] = ()  # where each chunk begins in `audio`, seconds
    ends: tuple[float, ...] = ()  # ... and ends

    def chunk_of(self, segment: Any) -> int:
        return max(0, bisect.bisect_right(self.starts, float(segment.start) + 1e-3) - 1)


# Where greedy text is doubtful (scripts/bench.py --only decoding measures these):
DOUBT_WORD_PROBABILITY = 0.2  # a word the recogniser was this unsure of
DOUBT_COMPRESSION = 2.4  # a segment that repeats itself (gzip ratio above this)
REDO_CONTEXT = 1.0  # seconds of speech decoded again on each side of what is doubtful

ClaimCheck = Callable[[Any], list[tuple[float, float]]]


def redo_windows(
    decoded: _Decoded, chunks: int, claim_check: ClaimCheck | None = None
) -> list[tuple[float, float]]:
    """Stretches of the laid-out audio (seconds) to decode again with beam search: around each
    word the recogniser was unsure of, each claim it was not sure of (`claim_check`: times of a
    sound-alike, or of a claim with an unsure word; where a claim sits, accuracy matters most),
    each segment that repeats itself, and each chunk that gave no text; widened by REDO_CONTEXT
    and cut at the gaps between greedy words, so no word is heard twice or lost."""
    ends = decoded.ends
    marked: list[tuple[int, float, float]] = []  # chunk, start, end
    spoken: set[int] = set()
    words_of: dict[int, list[Any]] = {}
    for seg in decoded.segments:
        chunk = decoded.chunk_of(seg)
        spoken.add(chunk)
        words = [w for w in (seg.words or ()) if str(w.word).strip()]
        words_of.setdefault(chunk, []).extend(words)
        if float(seg.compression_ratio) > DOUBT_COMPRESSION or not words:
            marked.append((chunk, float(seg.start), float(seg.end)))
            continue
        for w in words:
            if float(w.probability) < DOUBT_WORD_PROBABILITY:
                marked.append((chunk, float(w.start), float(w.end)))
        if claim_check is not None:
            marked.extend((chunk, a, b) for a, b in claim_check(seg))
    for chunk in range(chunks):
        if chunk not in spoken:
            marked.append((chunk, decoded.starts[chunk], ends[chunk]))
    windows: list[tuple[float, float]] = []
    for chunk, a, b in sorted(marked):
        lo, hi = decoded.starts[chunk], ends[chunk]
        a, b = max(lo, a - REDO_CONTEXT), min(hi, b + REDO_CONTEXT)
        words = words_of.get(chunk, [])
        # Cut in the gap before the first word that reaches into the stretch, and after the
        # last word that starts in it.
        a = max([lo, *(float(w.end) for w in words if float(w.end) <= a)])
        b = min([hi, *(float(w.start) for w in words if float(w.start) >= b)])
        if windows and a <= windows[-1][1] and lo <= windows[-1][0]:
            windows[-1] = (windows[-1][0], max(windows[-1][1], b))
        else:
            windows.append((a, b))
    return windows


def kept_segments(segments: list[Any], windows: list[tuple[float, float]]) -> list[Any]:
    """The greedy segments without the words inside the windows decoded again: each run of
    words left becomes a segment of its own."""
    starts = [a for a, _ in windows]

    def inside(w: Any) -> bool:
        mid = (float(w.start) + float(w.end)) / 2
        at = bisect.bisect_right(starts, mid) - 1
        return at >= 0 and windows[at][0] <= mid <= windows[at][1]

    out: list[Any] = []
    for seg in segments:
        run: list[Any] = []
        for w in [*(seg.words or ()), None]:
            if w is not None and not inside(w):
                run.append(w)
                continue
            if run:
                out.append(
                    dataclasses.replace(
                        seg,
                        words=run,
                        text="".join(str(x.word) for x in run),
                        start=float(run[0].start),
                        end=float(run[-1].end),
                    )
                )
                run = []
    return out


def decode_part_size(device: str, batch_size: int, chunks: int) -> int:
    """How many chunks one decoding call takes, for a group of `chunks`.

    Word times depend on how chunks are grouped into calls (faster-whisper carries the end of the
    last word from one chunk to the next within a call, to judge the first word after a pause),
    so the grouping must depend on the recording and on settings in the key only, never on the
    thread layout. On a GPU, the whole group in one call. On a CPU, the group spread over as many
    calls as there can be workers (MAX_WORKERS), at most a quarter of --batch-size each: a short
    recording's two or three chunks in one call would keep one worker busy and the other idle.
    (Measured in one process on 2 cores: a 60 s audit took 9.4 s with calls of two chunks and
    6.4 s with calls of one; a 4-minute one 23.4 s and 26.0 s.)
    """
    if device != "cpu":
        return max(1, batch_size)
    most = max(1, batch_size // MAX_WORKERS)
    return max(1, min(most, -(-chunks // MAX_WORKERS)))


def lay_out(chunks: list[Chunk]) -> tuple[npt.NDArray[np.float32], list[tuple[int, int]]]:
    """The chunks' audio end to end, each from a whole second (silence between), and where each
    begins and ends (samples).

    faster-whisper places a chunk's words by its offset in the call cut down to 10 ms frames; on
    a whole second that is exact, so a chunk's words and times do not depend on the chunks
    before it in the call. The silence between is never heard: each chunk is a clip of its own.
    """
    bounds: list[tuple[int, int]] = []
    at = 0
    for chunk in chunks:
        size = sum(p.samples.shape[0] for p in chunk.pieces)
        bounds.append((at, at + size))
        at += -(-size // SAMPLE_RATE) * SAMPLE_RATE
    audio = np.zeros(bounds[-1][1] if bounds else 0, dtype=np.float32)
    for chunk, (a, _) in zip(chunks, bounds, strict=True):
        for piece in chunk.pieces:
            audio[a : a + piece.samples.shape[0]] = piece.samples
            a += piece.samples.shape[0]
    return audio, bounds


def in_parts(chunks: list[Chunk], size: int) -> list[list[Chunk]]:
    """`chunks` in order, in runs of `size` (the last may be shorter)."""
    return [chunks[at : at + size] for at in range(0, len(chunks), max(1, size))]


@dataclass(frozen=True)
class _Shift:
    """Times in a window -> times in the recording."""

    offset: float

    def __call__(self, t: float, is_end: bool = False) -> float:
        return self.offset + t


def _placed(word: Word, to_recording: Callable[[float, bool], float]) -> Word:
    """The word in the recording's times, to the millisecond: the float sums that place it
    differ in the last digits with where its chunk lay in the call."""
    start = round(to_recording(word.start, False), 3)
    end = round(to_recording(word.end, True), 3)
    return Word(start, max(start, end), word.text, word.probability)
