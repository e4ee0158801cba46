"""Media stage: find ffmpeg, probe a recording, extract its speech audio as 16 kHz mono samples.

Probing uses PyAV (libav in-process, fast, precise errors). Extraction runs the ffmpeg binary
through ffmpeg-python with an argument list, never a shell, so any file name is safe.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from auditor.errors import InputError, MediaToolError

log = logging.getLogger("auditor")

SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class AudioStream:
    index: int  # position among the file's audio streams (0 = first), what --audio-stream takes
    codec: str
    channels: int
    sample_rate: int
    language: str | None


@dataclass(frozen=True)
class MediaInfo:
    path: str
    size: int
    duration: float  # seconds; 0.0 when the container does not say
    format_name: str
    audio_streams: tuple[AudioStream, ...]
    has_video: bool


def find_ffmpeg() -> str:
    """AUDITOR_FFMPEG, else `ffmpeg` on PATH, else the binary in the imageio-ffmpeg wheel."""
    configured = os.environ.get("AUDITOR_FFMPEG")
    if configured:
        if not (os.path.isfile(configured) and os.access(configured, os.X_OK)):
            raise MediaToolError(f"AUDITOR_FFMPEG={configured} is not an executable file")
        return configured
    on_path = shutil.which("ffmpeg")
    if on_path:
        return on_path
    try:
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError) as exc:
        raise MediaToolError(
            "no ffmpeg found: set AUDITOR_FFMPEG, install ffmpeg, or pip install imageio-ffmpeg"
        ) from exc


def _check_readable(path: str) -> int:
    p = Path(path)
    if not p.exists():
        raise InputError(path, "no such file")
    if p.is_dir():
        raise InputError(path, "is a directory, not a media file")
    st = p.stat()
    if not stat.S_ISREG(st.st_mode):  # a FIFO or device: reading it may never end
        raise InputError(path, "not a regular file (FIFO, device or socket)")
    if not os.access(p, os.R_OK):
        raise InputError(path, "permission denied")
    size = st.st_size
    if size == 0:
        raise InputError(path, "empty file (0 bytes)")
    return size


# Text formats whose demuxers open other files or URLs (a FIFO there hangs even the probe; a URL
# is a network fetch): a recording is one file, and its SHA-256 must identify its content.
_PLAYLIST_MAGIC = (b"ffconcat version", b"#EXTM3U")


def _refuse_playlists(path: str) -> None:
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096).removeprefix(b"\xef\xbb\xbf")
    except OSError as exc:
        raise InputError(path, exc.strerror or str(exc)) from exc
    if head.startswith(_PLAYLIST_MAGIC) or (head.lstrip().startswith(b"<") and b"<MPD" in head):
        raise InputError(path, "a playlist that points at other files or URLs, not a recording")


def probe(path: str) -> MediaInfo:
    """Read the container header. Raises InputError for anything that is not playable media."""
    import av

    size = _check_readable(path)
    _refuse_playlists(path)
    try:
        container = av.open(path, metadata_errors="ignore")
    except av.error.InvalidDataError as exc:
        raise InputError(
            path, "not a media file or truncated (ffmpeg cannot read its header)"
        ) from exc
    except av.error.FFmpegError as exc:
        raise InputError(path, f"cannot open as media: {cause_line(str(exc))}") from exc
    with container:
        audio = tuple(
            AudioStream(
                index=i,
                codec=s.codec_context.name if s.codec_context else "unknown",
                channels=int(s.codec_context.channels or 0) if s.codec_context else 0,
                sample_rate=int(s.codec_context.sample_rate or 0) if s.codec_context else 0,
                language=s.metadata.get("language"),
            )
            for i, s in enumerate(container.streams.audio)
        )
        duration = float(container.duration) / 1_000_000 if container.duration else 0.0
        if not duration and container.streams.audio:
            stream = container.streams.audio[0]
            if stream.duration and stream.time_base:
                duration = float(stream.duration * stream.time_base)
        return MediaInfo(
            path=path,
            size=size,
            duration=duration,
            format_name=str(container.format.name),
            audio_streams=audio,
            has_video=bool(container.streams.video),
        )


def cause_line(text: str) -> str:
    """The last non-empty line of ffmpeg's error output: the one that names the cause."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "unknown error"


_INPUT_STAND_IN = "file:auditor-input-stand-in"


def _ffmpeg_input_name(path: str) -> str:
    # "file:" stops ffmpeg from reading "-x.mp4" as an option, "-" as stdin, or "a:b" as a protocol.
    return "file:" + os.path.abspath(path)


def check_stream(info: MediaInfo, audio_stream: int) -> None:
    """Raise InputError unless the recording has the requested audio stream."""
    if not info.audio_streams:
        raise InputError(info.path, "no audio stream (nothing to transcribe)")
    if not 0 <= audio_stream < len(info.audio_streams):
        raise InputError(
            info.path,
            f"has {len(info.audio_streams)} audio stream(s); --audio-stream {audio_stream} "
            f"does not exist (use 0 to {len(info.audio_streams) - 1})",
        )


def ffmpeg_pcm_args(
    info: MediaInfo, audio_stream: int, span: tuple[float, float] | None = None
) -> list[str]:
    """ffmpeg's arguments to write one audio stream to stdout as 16 kHz mono s16le; only the
    `span` (start, duration in seconds) of it when given."""
    import ffmpeg

    seek = {"ss": f"{span[0]:.3f}", "t": f"{span[1]:.3f}"} if span else {}
    # ffmpeg-python hashes its arguments as UTF-8, which a name with undecodable bytes (surrogate
    # escapes) is not: compile with a stand-in and put the real name in the argument list.
    args: list[str] = (
        ffmpeg.input(_INPUT_STAND_IN, **seek)
        .output(
            "pipe:",
            format="s16le",
            acodec="pcm_s16le",
            ac=1,
            ar=SAMPLE_RATE,
            map=f"0:a:{audio_stream}",
        )
        .global_args("-nostdin", "-hide_banner", "-loglevel", "error")
        .compile(cmd=find_ffmpeg())
    )
    return [_ffmpeg_input_name(info.path) if a == _INPUT_STAND_IN else a for a in args]


def extract_audio(
    info: MediaInfo,
    audio_stream: int = 0,
    timeout: float | None = None,
    span: tuple[float, float] | None = None,
) -> npt.NDArray[np.float32]:
    """Decode one whole audio stream (or the `span` of it: start, duration in seconds) to 16 kHz
    mono float32 samples in [-1, 1].

    Holds the whole stream in memory; long recordings go through `auditor.windows` instead.
    """
    check_stream(info, audio_stream)
    return _pcm(info, ffmpeg_pcm_args(info, audio_stream, span), timeout)


def extract_spans(
    info: MediaInfo,
    audio_stream: int,
    spans: Sequence[tuple[float, float]],
    gap: float,
    timeout: float | None = None,
) -> npt.NDArray[np.float32]:
    """The `spans` (start, duration in seconds) of one audio stream, each followed by `gap`
    seconds of silence, laid end to end as 16 kHz mono float32 samples.

    One ffmpeg run for them all, each span an input of its own that seeks there: a process
    start costs about as much as decoding a few seconds, and pieces are short.
    """
    check_stream(info, audio_stream)
    name = _ffmpeg_input_name(info.path)
    args = [find_ffmpeg(), "-nostdin", "-hide_banner", "-loglevel", "error"]
    for start, seconds in spans:
        args += ["-ss", f"{start:.3f}", "-t", f"{seconds:.3f}", "-i", name]
    graph = "".join(
        f"[{i}:a:{audio_stream}]aresample={SAMPLE_RATE},"
        f"aformat=sample_fmts=s16:channel_layouts=mono,apad=pad_dur={gap:.3f}[a{i}];"
        for i in range(len(spans))
    )
    graph += "".join(f"[a{i}]" for i in range(len(spans))) + f"concat=n={len(spans)}:v=0:a=1[out]"
    args += ["-filter_complex", graph, "-map", "[out]", "-f", "s16le", "-acodec", "pcm_s16le"]
    return _pcm(info, [*args, "pipe:"], timeout)


def copy_span(
    info: MediaInfo, span: tuple[float, float], target: Path, timeout: float | None = None
) -> bool:
    """Copy the `span` (start, duration in seconds) of the first video stream and every audio
    stream to `target`, without decoding them (the target's suffix names the container).
    False when ffmpeg cannot: a stream the container will not hold, a cut it cannot make."""
    start, seconds = span
    args = [find_ffmpeg(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    args += ["-ss", f"{start:.3f}", "-t", f"{seconds:.3f}", "-i", _ffmpeg_input_name(info.path)]
    args += ["-map", "0:v:0?", "-map", "0:a?", "-c", "copy", _ffmpeg_input_name(str(target))]
    try:
        done = subprocess.run(args, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return False
    except OSError as exc:
        raise MediaToolError(f"cannot run ffmpeg ({args[0]}): {exc}") from exc
    if done.returncode != 0:
        cause = cause_line(done.stderr.decode("utf-8", "replace"))
        log.debug("cannot copy %s of %s: %s", span, info.path, cause)
    return done.returncode == 0 and target.exists() and target.stat().st_size > 0


def _pcm(info: MediaInfo, args: list[str], timeout: float | None) -> npt.NDArray[np.float32]:
    """Run ffmpeg writing s16le to stdout; the samples as float32 in [-1, 1]."""
    log.debug("running %s", args)
    try:
        done = subprocess.run(args, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise InputError(info.path, f"ffmpeg did not finish within {timeout:.0f} s") from exc
    except OSError as exc:
        raise MediaToolError(f"cannot run ffmpeg ({args[0]}): {exc}") from exc
    if done.returncode != 0:
        message = cause_line(done.stderr.decode("utf-8", "replace"))
        raise InputError(info.path, f"audio could not be decoded: {message}")
    samples = np.frombuffer(done.stdout, dtype=np.int16).astype(np.float32) / 32768.0
    if samples.size == 0:
        raise InputError(info.path, "audio stream holds no samples (empty or truncated)")
    return samples
