"""The pipeline for one recording: probe -> extract -> transcribe -> scan -> findings, and beside
the transcription, for a video, the screen pass (frames -> text on screen -> spans).

`Auditor` holds what is loaded once (model, OCR, lexicon, scanner) and audits many files.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from auditor.asr import TranscribeProgress, Transcriber, packs_speech, usable_cpus
from auditor.detect import scan_recording
from auditor.errors import InputError
from auditor.files import sha256_file
from auditor.findings import Finding, SoundCheck
from auditor.lexicon import Lexicon, load_lexicon
from auditor.media import MediaInfo, extract_spans, probe
from auditor.models import model_on_disk, resolve_model
from auditor.ocr import TextReader
from auditor.options import AuditOptions
from auditor.results import AuditResult, SourceInfo
from auditor.scan import Scanner
from auditor.screen import read_screen
from auditor.screentext import ScreenText
from auditor.times import utc_now
from auditor.transcript import Segment, Transcript, TranscriptText, Word
from auditor.verify import TERM_MARGIN, apply_checks, check_sound_alikes
from auditor.windows import stream_windows

log = logging.getLogger("auditor")

# Adaptive decoding decodes a claim again with beam search unless the recogniser was at least
# this sure of each of its words (a claim found by sound is always decoded again).
CLAIM_SURE = 0.9


def lower_thread_priority() -> None:
    """Run the calling thread at the lowest CPU priority (Linux: niceness is per thread)."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError):  # not allowed or not supported: only slower
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


def screen_threads(cpu_threads: int) -> int:
    """ONNX Runtime threads for the OCR: half the cores the speech recognition may use (it keeps
    the others busy), at least one and at most four."""
    return max(1, min(4, (cpu_threads or usable_cpus()) // 2))


class Auditor:
    def __init__(
        self,
        options: AuditOptions,
        lexicon: Lexicon | None = None,
        status: Callable[[str], None] | None = None,
        preload: bool = False,
    ) -> None:
        self.options = options
        self._status = status
        self._transcriber: Transcriber | None = None
        self._loading: threading.Thread | None = None
        self._load_error: BaseException | None = None
        if preload and model_on_disk(options.asr.model):
            # (Not one to assemble or download first: a broken lexicon should not wait for it.)
            # The model loads in CTranslate2 without the interpreter, so it can load while the
            # lexicon is read (about a second of Python each, on a 2-core machine: start-up).
            self._loading = threading.Thread(
                target=self._load_transcriber, name="auditor-model-load"
            )
            self._loading.start()
        try:
            self.lexicon = lexicon or load_lexicon(options.lexicons)  # a broken one fails here
        except BaseException:
            if self._loading is not None:
                self._loading.join()
            raise
        self._scanner: Scanner | None = None
        self._scanner_lock = threading.Lock()
        self._claim_lock = threading.Lock()
        self._reader: TextReader | None = None
        self._reader_lock = threading.Lock()

    @property
    def scanner(self) -> Scanner:
        """Built on first use: an audit builds it beside the transcription (see `audit`)."""
        with self._scanner_lock:
            if self._scanner is None:
                self._scanner = Scanner(self.lexicon, self.options.product_category)
            return self._scanner

    def _unsure_claims(self, segment: Any) -> list[tuple[float, float]]:
        """The times of the claims in a greedy segment (faster-whisper's, with words) that are
        not sure: a sound-alike, or a claim with a word the recogniser was less than CLAIM_SURE
        of. Adaptive decoding does them again with beam search. Called from the decoding
        threads, one at a time."""
        words = tuple(
            Word(float(w.start), float(w.end), str(w.word).strip(), float(w.probability))
            for w in (segment.words or ())
            if str(w.word).strip()
        )
        if not words:
            return []
        view = TranscriptText.build((Segment(words[0].start, words[-1].end, "", words),))
        with self._claim_lock:
            matches = self.scanner.scan(view.text, view.char_probabilities())
        return [
            view.span_times(m.start, m.end)
            for m in matches
            if m.end > m.start
            and (m.kind == "sound-alike" or view.span_probability(m.start, m.end) < CLAIM_SURE)
        ]

    def _warm_scanner(self) -> None:
        # Build the scanner and load what its first scan needs (word dictionary, pinyin and
        # folding tables: about half a second of CPU) at idle priority, so that it takes only
        # the CPU time the transcription leaves unused instead of slowing it down.
        lower_thread_priority()
        self.scanner.scan("这款是全网最好的，最近老师会押题，药到病除")

    def _load_transcriber(self) -> None:
        try:
            model = resolve_model(self.options.asr.model, progress=self._status)
            transcriber = Transcriber(model, self.options.asr)
            transcriber.claim_check = self._unsure_claims
            self._transcriber = transcriber
        except BaseException as exc:  # raised where the transcriber is first wanted
            self._load_error = exc

    @property
    def transcriber(self) -> Transcriber:
        """Loaded on first use, so bad input fails fast without loading a model; or, with
        `preload`, from the start, beside the lexicon."""
        if self._loading is not None:
            self._loading.join()
            self._loading = None
        elif self._transcriber is None and self._load_error is None:
            self._load_transcriber()
        if self._load_error is not None:
            raise self._load_error
        assert self._transcriber is not None
        return self._transcriber

    @property
    def reader(self) -> TextReader:
        """The OCR, loaded on first use (by the first video)."""
        with self._reader_lock:
            if self._reader is None:
                self._reader = TextReader(screen_threads(self.options.asr.cpu_threads))
            return self._reader

    def read_screen(self, info: MediaInfo, stop: threading.Event) -> ScreenText | None:
        """The screen pass over a video, at idle priority: it takes the CPU time that the
        transcription leaves, and a frame that cannot be decoded is skipped and counted. A video
        that cannot be read at all gets no screen text (and a warning), never a failed audit."""
        lower_thread_priority()
        try:
            return read_screen(
                info.path,
                self.options.screen.interval,
                self.reader,
                info.duration,
                self.options.audio_stream,
                threads=screen_threads(self.options.asr.cpu_threads),
                stop=stop,
            )
        except InputError as exc:
            log.warning("%s: no screen text: %s", info.path, exc.cause)
            return None

    def check_input(self, path: str) -> MediaInfo:
        info = probe(path)
        if not info.audio_streams:
            raise InputError(path, "no audio stream (nothing to transcribe)")
        return info

    def _transcribe(
        self,
        info: MediaInfo,
        side: ThreadPoolExecutor,
        stop: threading.Event,
        screen_wanted: bool,
        progress: TranscribeProgress | None,
    ) -> tuple[Transcript, Future[ScreenText | None] | None]:
        """The transcript, with the screen pass started beside it (its future is returned)."""
        with stream_windows(
            info,
            self.options.audio_stream,
            window_seconds=self.options.asr.window_seconds,
            timeout=self.options.ffmpeg_timeout,
            speech=packs_speech(self.options.asr),
        ) as windows:
            transcriber = self.transcriber
            # Only now: loading the model needs the interpreter (it would wait on a Python
            # thread), while transcription runs in CTranslate2 without it.
            warm = side.submit(self._warm_scanner)
            screen = side.submit(self.read_screen, info, stop) if screen_wanted else None
            transcript = transcriber.transcribe_windows(windows, info.duration, progress=progress)
        warm.result()
        return transcript, screen

    def audit(self, path: str, progress: TranscribeProgress | None = None) -> AuditResult:
        started = utc_now()
        info = self.check_input(path)
        # The file's checksum and the first window's decoding run while the model loads; then
        # windows of a few minutes, the next decoded while this one is transcribed: memory stays
        # flat however long the recording is.
        screen_wanted = self.options.screen.enabled and info.has_video
        stop = threading.Event()
        with ThreadPoolExecutor(3, thread_name_prefix="auditor-side") as side:
            sha256 = side.submit(sha256_file, path)
            try:
                transcript, screen = self._transcribe(info, side, stop, screen_wanted, progress)
            except BaseException:
                stop.set()  # the screen pass ends at its next frame instead of reading on
                raise
            checksum = sha256.result()
            screen_text = screen.result() if screen is not None else None
        if not info.duration:
            info = MediaInfo(
                info.path,
                info.size,
                transcript.duration,
                info.format_name,
                info.audio_streams,
                info.has_video,
            )
        source = SourceInfo(
            path=path,
            size=info.size,
            sha256=checksum,
            duration=round(info.duration, 3),
            format=info.format_name,
            has_video=info.has_video,
            audio_streams=len(info.audio_streams),
        )
        findings = scan_recording(path, transcript, screen_text, self.scanner)
        checks: tuple[SoundCheck, ...] = ()
        if self.options.verify:
            checks = self.sound_checks(findings, transcript, info)
            findings = apply_checks(findings, checks)
        return AuditResult(
            source=source,
            transcript=transcript,
            findings=findings,
            options=self.options,
            model=self.transcriber.model_info,
            device=self.transcriber.device,
            compute_type=self.transcriber.compute_type,
            lexicon_version=self.lexicon.version,
            started=started,
            finished=utc_now(),
            screen=screen_text,
            sound_checks=checks,
        )

    def verified(
        self,
        findings: tuple[Finding, ...],
        transcript: Transcript,
        info: MediaInfo,
        margin: float = TERM_MARGIN,
    ) -> tuple[Finding, ...]:
        """The findings with their sound-alikes checked against the recording's audio
        (auditor.verify): each keeps its evidence, or goes when the audio does not support it."""
        return apply_checks(findings, self.sound_checks(findings, transcript, info), margin)

    def sound_checks(
        self, findings: tuple[Finding, ...], transcript: Transcript, info: MediaInfo
    ) -> tuple[SoundCheck, ...]:
        """What the recording's audio says of each sound-alike (none when it cannot be read
        again: the sound-alikes then stay unverified, with a warning)."""
        stream, timeout = self.options.audio_stream, self.options.ffmpeg_timeout
        known = transcript.language not in ("", "auto", "unknown")
        language = transcript.language if known else "zh"
        try:
            return check_sound_alikes(
                findings,
                transcript,
                lambda spans, gap: extract_spans(info, stream, spans, gap, timeout),
                lambda samples, texts: self.transcriber.piece_logprobs(samples, texts, language),
                # One window more than there are workers: its audio is cut while they compute.
                lanes=self.transcriber.workers + 1,
            )
        except InputError as exc:
            # A stream that decodes whole but not from a seek (a damaged AAC stream) must not
            # lose the audit: the sound-alikes stay, unverified, as with --no-verify.
            log.warning("sound-alikes of %s not verified: %s", info.path, exc.cause)
            return ()
