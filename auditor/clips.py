"""Evidence clips: one short file per finding, cut from the recording with ffmpeg.

A clip holds the finding's words plus `padding` seconds either side (clamped to the recording); for
text shown on screen, its first `SCREEN_CLIP_SECONDS` (a caption may stay for the whole stream).
Video sources give `.mp4` (H.264 + AAC), audio-only sources `.m4a` (AAC): both play in browsers.
Names are safe and predictable: `<stem>-<NN>-<MMmSSs>-<category>.<ext>`, with only ASCII letters,
digits, dots, dashes and underscores. ffmpeg runs from an argument list (never a shell), reads the
source through a `file:` URL and writes a temporary file that is renamed into place when complete.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import subprocess
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from auditor.errors import InputError, MediaToolError
from auditor.findings import Finding
from auditor.media import find_ffmpeg
from auditor.options import DEFAULT_CLIP_PADDING
from auditor.results import AuditResult, Clip

log = logging.getLogger("auditor")

DEFAULT_PADDING = DEFAULT_CLIP_PADDING
SCREEN_CLIP_SECONDS = 10.0  # of a screen finding's span, at most, in its clip
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_VIDEO_ENCODERS = ("libx264", "libopenh264", "mpeg4")


def safe_part(text: str, limit: int = 40) -> str:
    """ASCII letters, digits, '.', '_' and '-' only; never empty, never starting with '.' or '-'."""
    cleaned = _UNSAFE.sub("_", text).strip("._-")[:limit].strip("._-")
    return cleaned or "x"


def clip_name(stem: str, index: int, finding: Finding, video: bool) -> str:
    whole = int(finding.start)
    minutes, seconds = divmod(whole, 60)
    ext = "mp4" if video else "m4a"
    return f"{stem}-{index:02d}-{minutes:02d}m{seconds:02d}s-{safe_part(finding.category)}.{ext}"


def clip_window(finding: Finding, padding: float, duration: float) -> tuple[float, float]:
    start = max(0.0, finding.start - padding)
    shown = finding.end
    if finding.channel == "screen":
        shown = min(shown, finding.start + SCREEN_CLIP_SECONDS)
    end = shown + padding
    if duration > 0:
        end = min(end, duration)
    return start, max(end, start + 0.1)


def stems(results: Sequence[AuditResult]) -> list[str]:
    """A file-name stem per result; sources with the same stem get their SHA-256 prefix added."""
    plain = [safe_part(Path(r.source.path).stem) for r in results]
    counts = Counter(plain)
    return [
        f"{stem}-{r.source.sha256[:8]}" if counts[stem] > 1 else stem
        for stem, r in zip(plain, results, strict=True)
    ]


@functools.cache
def _video_encoder(ffmpeg_bin: str) -> str:
    try:
        listing = subprocess.run(
            [ffmpeg_bin, "-hide_banner", "-encoders"], capture_output=True, text=True, check=False
        ).stdout
    except OSError as exc:
        raise MediaToolError(f"cannot run ffmpeg ({ffmpeg_bin}): {exc}") from exc
    names = {line.split()[1] for line in listing.splitlines() if len(line.split()) > 1}
    for name in _VIDEO_ENCODERS:
        if name in names:
            return name
    raise MediaToolError(f"{ffmpeg_bin} has no H.264 or MPEG-4 video encoder for clips")


def cut_clip(
    result: AuditResult,
    start: float,
    end: float,
    target: Path,
    audio_stream: int = 0,
    timeout: float | None = 600.0,
) -> None:
    """Cut [start, end) of the result's source into `target` (mp4 container, atomic rename)."""
    import ffmpeg

    ffmpeg_bin = find_ffmpeg()
    source = "file:" + os.path.abspath(result.source.path)
    tmp = target.with_name(f".{target.name}.tmp")
    out_args: dict[str, object] = {
        "format": "mp4",
        "acodec": "aac",
        "b:a": "128k",
        "movflags": "+faststart",
    }
    # Stand-ins: ffmpeg-python cannot hash a name with undecodable bytes; real names go in below.
    stand_in = {"file:auditor-source": source, "file:auditor-target": "file:" + str(tmp.resolve())}
    source_input = ffmpeg.input("file:auditor-source", ss=f"{start:.3f}", t=f"{end - start:.3f}")
    streams = [source_input[f"a:{audio_stream}"]]
    if result.source.has_video:
        streams.insert(0, source_input["v:0"])
        encoder = _video_encoder(ffmpeg_bin)
        out_args.update(vcodec=encoder, pix_fmt="yuv420p")
        if encoder == "libx264":
            out_args.update(preset="veryfast", crf=26)
    else:
        out_args["vn"] = None
    compiled: list[str] = (
        ffmpeg.output(*streams, "file:auditor-target", **out_args)
        .global_args("-nostdin", "-hide_banner", "-loglevel", "error", "-y")
        .compile(cmd=ffmpeg_bin)
    )
    args = [stand_in.get(a, a) for a in compiled]
    log.debug("running %s", args)
    try:
        done = subprocess.run(args, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(result.source.path, f"clip {target.name} took over {timeout} s") from exc
    except OSError as exc:
        raise MediaToolError(f"cannot run ffmpeg ({ffmpeg_bin}): {exc}") from exc
    if done.returncode != 0:
        tmp.unlink(missing_ok=True)
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        cause = lines[-1] if lines else f"ffmpeg exit status {done.returncode}"
        raise InputError(result.source.path, f"clip {target.name} could not be cut: {cause}")
    os.replace(tmp, target)


def prepare_folder(folder: str) -> Path:
    """Create the clips folder (early, so a bad one fails before any transcription)."""
    target_dir = Path(folder)
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(folder, f"cannot create the clips folder: {exc.strerror or exc}") from exc
    if not os.access(target_dir, os.W_OK):
        raise InputError(folder, "clips folder is not writable")
    return target_dir


def cut_clips(
    results: Sequence[AuditResult],
    folder: str,
    padding: float = DEFAULT_PADDING,
    audio_stream: int = 0,
) -> list[list[Clip]]:
    """One clip per finding of each result, in the results' order. Creates `folder` if needed."""
    target_dir = prepare_folder(folder)
    out: list[list[Clip]] = []
    for result, stem in zip(results, stems(results), strict=True):
        clips: list[Clip] = []
        for index, finding in enumerate(result.findings, 1):
            start, end = clip_window(finding, padding, result.source.duration)
            name = clip_name(stem, index, finding, result.source.has_video)
            cut_clip(result, start, end, target_dir / name, audio_stream)
            clips.append(Clip(os.path.join(folder, name), round(start, 3), round(end, 3)))
        log.info("%s: %d evidence clip(s) in %s", result.source.path, len(clips), folder)
        out.append(clips)
    return out
