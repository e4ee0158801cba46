"""Options of an audit, and the settings key that says which stored audits they can reuse.

A field's `key` metadata says whether it shapes the transcript, and so belongs in the key:
- "yes": always in the key;
- "no": how fast, not what comes out (threads);
- "unless-default": added after audits were stored; in the key only when set to something other
  than its default, so audits stored before the field existed keep their key.
The scan settings (lexicons, product category) are not in the key: `rescan` applies a new lexicon
or product to stored transcripts without recognising the speech again.

The screen settings (on or off, the sampling interval) shape the stored screen text as the speech
settings shape the transcript, so they are in the key; they came after audits were stored, so as
"unless-default": audits stored before have no screen text and keep their key (a batch does not
redo them), and `--no-screen` or another `--screen-interval` is another key, audited afresh.

What two runs with the same key must agree on is stated in README "Reproducibility": categories,
rules, matched words and times of the findings, and confidence to within 0.01. The thread layout
does not change what is recognised, so it is not in the key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

DEFAULT_MODEL = "base"
# Chunks in flight, split between the workers. On 2 cores (scripts/bench.py) 4 is as fast and
# needs a third less memory; 8 stays the default so stored audits keep their settings key.
DEFAULT_BATCH_SIZE = 8
# Audio decoded and transcribed at a time: peak memory grows with it; as fast as 240 s.
DEFAULT_WINDOW_SECONDS = 120.0
# Seconds between the video frames the screen pass looks at (README "Screen text").
DEFAULT_SCREEN_INTERVAL = 2.0
# Seconds of the recording kept before and after a finding in its evidence clip.
DEFAULT_CLIP_PADDING = 2.0

# What is sold: some rules and exemptions apply only to some goods.
PRODUCT_CATEGORIES = (
    "general",
    "cosmetics",
    "food",
    "health-food",
    "drug",
    "medical-device",
    "education",
    "finance",
)

# `batch --workers auto`: the local layout timed fastest on this machine (auditor.layout).
AUTO_WORKERS = 0

DECODINGS = ("adaptive", "greedy", "beam")
DEFAULT_DECODING = "beam"

_IN_KEY = {"key": "yes"}
_NOT_IN_KEY = {"key": "no"}
_IN_KEY_UNLESS_DEFAULT = {"key": "unless-default"}


def key_fields(options: Any) -> dict[str, Any]:
    """The fields of an options dataclass that the settings key takes (see the module)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(options):
        mode = f.metadata.get("key", "yes")
        value = getattr(options, f.name)
        # "unless-default": the field's default, or the value every audit had before the field
        # existed ("before"), leaves the key as it was.
        before = f.metadata.get("before", f.default)
        if mode == "yes" or (mode == "unless-default" and value != before):
            out[f.name] = value
    return out


@dataclass(frozen=True)
class AsrOptions:
    model: str = field(default=DEFAULT_MODEL, metadata=_IN_KEY)
    device: str = field(default="auto", metadata=_IN_KEY)  # auto | cpu | cuda
    compute_type: str = field(default="default", metadata=_IN_KEY)  # int8 on CPU, float16 on CUDA
    language: str = field(default="zh", metadata=_IN_KEY)  # or "auto"
    beam_size: int = field(default=5, metadata=_IN_KEY)
    vad: bool = field(default=True, metadata=_IN_KEY)
    cpu_threads: int = field(default=0, metadata=_NOT_IN_KEY)  # 0: one per usable core
    initial_prompt: str | None = field(default=None, metadata=_IN_KEY)
    # chunks decoded together; 1: sequential decoding
    batch_size: int = field(default=DEFAULT_BATCH_SIZE, metadata=_IN_KEY)
    hotwords: str | None = field(default=None, metadata=_IN_KEY)  # words to bias decoding towards
    guards: bool = field(default=True, metadata=_IN_KEY)  # drop text Whisper invents on music
    window_seconds: float = field(default=DEFAULT_WINDOW_SECONDS, metadata=_IN_KEY)
    # beam: beam search everywhere (what every audit did before the option); greedy: beam 1;
    # adaptive: greedy, then beam search again where the greedy text is doubtful or holds a
    # claim (auditor.asr.doubtful_chunks).
    decoding: str = field(
        default=DEFAULT_DECODING, metadata={"key": "unless-default", "before": "beam"}
    )

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def key_fields(self) -> dict[str, Any]:
        """The fields that shape a transcript, as the settings key takes them."""
        return key_fields(self)


@dataclass(frozen=True)
class ScreenOptions:
    """The screen pass: text burned into the video, read from frames sampled every `interval`."""

    enabled: bool = field(default=True, metadata=_IN_KEY_UNLESS_DEFAULT)  # when there is video
    interval: float = field(default=DEFAULT_SCREEN_INTERVAL, metadata=_IN_KEY_UNLESS_DEFAULT)

    def key_fields(self) -> dict[str, Any]:
        """As the settings key takes them: nothing at the defaults; off is off at any interval."""
        if not self.enabled:
            return {"screen_enabled": False}
        return {f"screen_{name}": value for name, value in key_fields(self).items()}


@dataclass(frozen=True)
class AuditOptions:
    """Every setting that shapes a result; recorded in each report."""

    asr: AsrOptions = field(default_factory=AsrOptions)
    audio_stream: int = 0
    lexicons: tuple[str, ...] = ()  # extra lexicon files, in order
    product_category: str = "general"  # what is sold: some rules apply only to some goods
    ffmpeg_timeout: float | None = 600.0  # seconds ffmpeg may give no audio; None: no limit
    screen: ScreenOptions = field(default_factory=ScreenOptions)
    # Check sound-alike findings against the audio (auditor.verify). It decides which findings
    # are kept, not what is transcribed, so it is not in the settings key (like the lexicons).
    verify: bool = field(default=True, metadata=_NOT_IN_KEY)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def pinned(self, device: str, compute_type: str) -> AuditOptions:
        """These options with the device and compute type an audit really used ("auto" and
        "default" resolved), so that the key says what produced a transcript."""
        asr = dataclasses.replace(self.asr, device=device, compute_type=compute_type)
        return dataclasses.replace(self, asr=asr)

    def with_threads(self, threads: int) -> AuditOptions:
        return dataclasses.replace(self, asr=dataclasses.replace(self.asr, cpu_threads=threads))

    def transcript_settings(self, model_id: str) -> dict[str, Any]:
        """What shapes a transcript: the settings key's input, stored beside each audit.

        `model_id` names the model's weights (their SHA-256, or path, size and mtime).
        """
        return {
            **self.asr.key_fields(),
            "model_id": model_id,
            "audio_stream": self.audio_stream,
            **self.screen.key_fields(),
        }


def settings_key(settings: dict[str, Any]) -> str:
    """A short, stable hash of `AuditOptions.transcript_settings`."""
    canonical = json.dumps(settings, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
