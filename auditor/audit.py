"""The pipeline for one recording: probe -> extract -> transcribe -> scan -> findings.

`Auditor` holds what is loaded once (model, lexicon, scanner) and audits many files.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from auditor.asr import TranscribeProgress, Transcriber, packs_speech
from auditor.detect import scan_transcript
from auditor.errors import InputError
from auditor.files import sha256_file
from auditor.lexicon import Lexicon, load_lexicon
from auditor.media import MediaInfo, probe
from auditor.models import resolve_model
from auditor.options import AuditOptions
from auditor.results import AuditResult, SourceInfo
from auditor.scan import Scanner
from auditor.times import utc_now
from auditor.windows import stream_windows

log = logging.getLogger("auditor")


def lower_thread_priority() -> None:
    """Run the calling thread at the lowest CPU priority (Linux: niceness is per thread)."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError):  # not allowed or not supported: only slower
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


class Auditor:
    def __init__(
        self,
        options: AuditOptions,
        lexicon: Lexicon | None = None,
        status: Callable[[str], None] | None = None,
    ) -> None:
        self.options = options
        self.lexicon = lexicon or load_lexicon(options.lexicons)  # a broken lexicon fails here
        self._status = status
        self._transcriber: Transcriber | None = None
        self._scanner: Scanner | None = None
        self._scanner_lock = threading.Lock()

    @property
    def scanner(self) -> Scanner:
        """Built on first use: an audit builds it beside the transcription (see `audit`)."""
        with self._scanner_lock:
            if self._scanner is None:
                self._scanner = Scanner(self.lexicon, self.options.product_category)
            return self._scanner

    def _warm_scanner(self) -> None:
        # Build the scanner and load what its first scan needs (word dictionary, pinyin and
        # folding tables: about half a second of CPU) at idle priority, so that it takes only
        # the CPU time the transcription leaves unused instead of slowing it down.
        lower_thread_priority()
        self.scanner.scan("这款是全网最好的，最近老师会押题，药到病除")

    @property
    def transcriber(self) -> Transcriber:
        """Loaded on first use, so bad input fails fast without loading a model."""
        if self._transcriber is None:
            model = resolve_model(self.options.asr.model, progress=self._status)
            self._transcriber = Transcriber(model, self.options.asr)
        return self._transcriber

    def check_input(self, path: str) -> MediaInfo:
        info = probe(path)
        if not info.audio_streams:
            raise InputError(path, "no audio stream (nothing to transcribe)")
        return info

    def audit(self, path: str, progress: TranscribeProgress | None = None) -> AuditResult:
        started = utc_now()
        info = self.check_input(path)
        # The file's checksum and the first window's decoding run while the model loads; then
        # windows of a few minutes, the next decoded while this one is transcribed: memory stays
        # flat however long the recording is.
        with ThreadPoolExecutor(2, thread_name_prefix="auditor-side") as side:
            sha256 = side.submit(sha256_file, path)
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
                transcript = transcriber.transcribe_windows(
                    windows, info.duration, progress=progress
                )
            checksum = sha256.result()
            warm.result()
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
        return AuditResult(
            source=source,
            transcript=transcript,
            findings=scan_transcript(path, transcript, self.scanner),
            options=self.options,
            model=transcriber.model_info,
            device=transcriber.device,
            compute_type=transcriber.compute_type,
            lexicon_version=self.lexicon.version,
            started=started,
            finished=utc_now(),
        )
