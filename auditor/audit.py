"""The pipeline for one recording: probe -> extract -> transcribe -> scan -> findings.

`Auditor` holds what is loaded once (model, lexicon, scanner) and audits many files.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from auditor import __version__
from auditor.asr import AsrOptions, TranscribeProgress, Transcriber, packs_speech
from auditor.errors import InputError
from auditor.findings import Finding, finding_from_match
from auditor.lexicon import Lexicon, load_lexicon
from auditor.media import MediaInfo, probe
from auditor.models import ResolvedModel, resolve_model
from auditor.scan import Scanner
from auditor.transcript import Transcript
from auditor.windows import stream_windows

log = logging.getLogger("auditor")


@dataclass(frozen=True)
class AuditOptions:
    """Every setting that shapes a result; recorded in each report."""

    asr: AsrOptions = field(default_factory=AsrOptions)
    audio_stream: int = 0
    lexicons: tuple[str, ...] = ()  # extra lexicon files, in order
    product_category: str = "general"  # what is sold: some rules apply only to some goods
    ffmpeg_timeout: float | None = 600.0  # seconds ffmpeg may give no audio; None: no limit

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SourceInfo:
    path: str
    size: int
    sha256: str
    duration: float
    format: str
    has_video: bool
    audio_streams: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AuditResult:
    source: SourceInfo
    transcript: Transcript
    findings: tuple[Finding, ...]
    options: AuditOptions
    model: ResolvedModel
    device: str
    compute_type: str
    lexicon_version: str
    started: str
    finished: str
    tool_version: str = __version__

    def to_dict(self, with_words: bool = True) -> dict[str, Any]:
        return {
            "source": self.source.to_dict(),
            "tool": {"name": "auditor", "version": self.tool_version},
            "model": {
                "name": self.model.name,
                "path": self.model.path,
                "sha256": self.model.sha256,
                "device": self.device,
                "compute_type": self.compute_type,
            },
            "lexicon": {
                "version": self.lexicon_version,
                "extra_files": list(self.options.lexicons),
            },
            "settings": self.options.to_dict(),
            "run": {"started": self.started, "finished": self.finished},
            "findings": [f.to_dict() for f in self.findings],
            "transcript": self.transcript.to_dict(with_words),
        }


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def lower_thread_priority() -> None:
    """Run the calling thread at the lowest CPU priority (Linux: niceness is per thread)."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError):  # not allowed or not supported: only slower
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def scan_transcript(source: str, transcript: Transcript, scanner: Scanner) -> tuple[Finding, ...]:
    view = transcript.view()
    matches = scanner.scan(view.text, view.char_probabilities())
    findings = [finding_from_match(source, view, m) for m in matches]
    return tuple(sorted(findings, key=lambda f: (f.start, f.end, f.rule)))


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
        started = now()
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
            finished=now(),
        )
