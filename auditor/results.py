"""What an audit produces: the source it read, the model it used, its transcript and findings.

Data only: renderers, the store and the batch depend on these types, not on the pipeline that
makes them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from auditor import __version__
from auditor.findings import Finding, SoundCheck, finding_id
from auditor.options import AsrOptions, AuditOptions, ScreenOptions
from auditor.screentext import ScreenText
from auditor.transcript import Transcript


@dataclass(frozen=True)
class ResolvedModel:
    name: str  # what the user asked for, or the folder name for a path
    path: str
    sha256: str | None  # of model.bin, when known without reading gigabytes

    def identity(self) -> str:
        """What names these weights in a settings key: their SHA-256 when known, else the
        folder with model.bin's size and mtime (a changed file gets a new identity)."""
        if self.sha256 is not None:
            return self.sha256
        weights = Path(self.path) / "model.bin"
        st = weights.stat() if weights.exists() else None
        return f"{self.path}:{st.st_size}:{st.st_mtime_ns}" if st else self.path


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
class Clip:
    """An evidence clip cut for a finding."""

    path: str  # as written: the clips folder joined with the file name
    start: float  # seconds into the source
    end: float


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
    screen: ScreenText | None = None  # the text the video showed; None: no screen pass
    # What the audio said of each sound-alike, the dropped ones too (auditor.verify): stored
    # with a batch audit so that a rescan judges the same words the same way.
    sound_checks: tuple[SoundCheck, ...] = ()

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
            "findings": [self.identified(f).to_dict() for f in self.findings],
            "transcript": self.transcript.to_dict(with_words),
            "screen": self.screen.to_dict() if self.screen is not None else None,
        }

    def identified(self, finding: Finding) -> Finding:
        """The finding with its stable id (`finding_id` of this recording's content)."""
        if finding.id:
            return finding
        return dataclasses.replace(finding, id=finding_id(self.source.sha256, finding))

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> AuditResult:
        """A result read back from its JSON report (`to_dict`)."""
        settings = doc["settings"]
        options = AuditOptions(
            asr=AsrOptions(**settings["asr"]),
            audio_stream=int(settings["audio_stream"]),
            lexicons=tuple(settings["lexicons"]),
            product_category=str(settings["product_category"]),
            ffmpeg_timeout=settings["ffmpeg_timeout"],
            # a report from before the screen pass existed had none
            screen=ScreenOptions(**settings.get("screen", {"enabled": False})),
        )
        model = doc["model"]
        screen = doc.get("screen")
        return cls(
            source=SourceInfo(**doc["source"]),
            transcript=Transcript.from_dict(doc["transcript"]),
            findings=tuple(Finding.from_dict(f) for f in doc["findings"]),
            options=options,
            model=ResolvedModel(model["name"], model["path"], model["sha256"]),
            device=model["device"],
            compute_type=model["compute_type"],
            lexicon_version=doc["lexicon"]["version"],
            started=doc["run"]["started"],
            finished=doc["run"]["finished"],
            tool_version=doc["tool"]["version"],
            screen=ScreenText.from_dict(screen) if screen is not None else None,
        )
