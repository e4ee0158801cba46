"""Frames of a recording's video stream, sampled every so many seconds, decoded with PyAV.

When the stream has a keyframe at least every `interval` (live streams are usually pushed with
one every 2 s), only keyframe packets are handed to the decoder: a keyframe decodes on its own, so
every other frame costs nothing. Otherwise every frame is decoded (frames that no other frame
refers to are skipped by the decoder) and one is kept per interval. A packet or frame that cannot
be decoded is skipped and counted; the sampling goes on with the next one.

Times are seconds from the start of the audio stream, as the transcript's are.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from auditor.errors import InputError

log = logging.getLogger("auditor")

KEYFRAMES = "keyframes"
ALL_FRAMES = "all frames"
_PROBE_SECONDS = 60.0  # keyframe spacing is judged on this much of the stream's start
_GAP_SLACK = 1.25  # keyframes up to this many intervals apart are "every interval"
_GIVE_UP_AFTER = 200  # consecutive undecodable packets: the rest of the stream is not video


@dataclass
class Frame:
    """One sampled frame; the pixels are converted only when asked for."""

    time: float  # seconds from the start of the audio
    video: Any  # av.VideoFrame

    @property
    def width(self) -> int:
        return int(self.video.width)

    @property
    def height(self) -> int:
        return int(self.video.height)

    def gray(self, width: int) -> npt.NDArray[np.uint8]:
        """The frame scaled to `width` pixels across, in grey levels (swscale, in C)."""
        height = max(1, round(self.height * width / self.width))
        out: npt.NDArray[np.uint8] = self.video.reformat(
            width=width, height=height, format="gray8"
        ).to_ndarray()
        return out

    def bgr(self) -> npt.NDArray[np.uint8]:
        """The whole frame, full size, as OpenCV and the OCR take it."""
        out: npt.NDArray[np.uint8] = self.video.to_ndarray(format="bgr24")
        return out


class FrameSampler:
    """Iterate over `Frame`s every `interval` seconds; afterwards `mode` and `corrupt` say how
    the frames were decoded and how many packets or frames were skipped."""

    def __init__(self, path: str, interval: float, audio_stream: int = 0, threads: int = 1):
        self.path = path
        self.interval = interval
        self.audio_stream = audio_stream
        self.threads = max(1, threads)
        self.mode = KEYFRAMES
        self.corrupt = 0
        self.sampled = 0
        self._wanted_from = 0.0

    def __iter__(self) -> Iterator[Frame]:
        with self._open() as container:
            stream = _moving_picture(container)
            if stream is None:  # no video, or only a cover picture (an audio file's artwork)
                return
            zero = _zero(container, self.audio_stream)
            self.mode = KEYFRAMES if self._keyframes_enough(container, stream) else ALL_FRAMES
        with self._open() as container:  # from the start again (seeking back is not exact)
            stream = _moving_picture(container)
            assert stream is not None
            stream.codec_context.thread_count = self.threads
            if self.mode == ALL_FRAMES:
                stream.thread_type = "AUTO"
                stream.codec_context.skip_frame = "NONREF"
            yield from self._frames(container, stream, zero)

    def _open(self) -> Any:
        import av

        try:
            return av.open(self.path, metadata_errors="ignore")
        except av.error.FFmpegError as exc:
            raise InputError(self.path, f"cannot open the video: {exc}") from exc

    def _keyframes_enough(self, container: Any, stream: Any) -> bool:
        """Keyframes come at least every interval over the stream's first minute (demuxed only:
        no packet is decoded here)."""
        import av

        times: list[float] = []
        base = stream.time_base
        try:
            for packet in container.demux(stream):
                if packet.pts is None or base is None:
                    continue
                t = float(packet.pts * base)
                if packet.is_keyframe:
                    times.append(t)
                if times and t - times[0] > _PROBE_SECONDS:
                    break
        except av.error.FFmpegError:
            pass  # a damaged stream: judged on what could be read
        if len(times) < 2:
            return False
        gaps = [b - a for a, b in itertools.pairwise(times)]
        return max(gaps) <= self.interval * _GAP_SLACK

    def _frames(self, container: Any, stream: Any, zero: float) -> Iterator[Frame]:
        base = stream.time_base
        # A keyframe a little before its due time is taken rather than one a whole interval late.
        early = self.interval * 0.2 if self.mode == KEYFRAMES else 0.0
        self._wanted_from = -1e9  # the next frame is kept at or after this time
        for frames in self._decoded(container, stream, zero):
            for video in frames:
                if video.pts is None:
                    continue
                t = max(0.0, float(video.pts * (video.time_base or base)) - zero)
                if t < self._wanted_from:
                    continue
                self._wanted_from = t + self.interval - early
                self.sampled += 1
                yield Frame(t, video)

    def _decoded(self, container: Any, stream: Any, zero: float) -> Iterator[list[Any]]:
        """The frames of each packet decoded, then those the decoder still held. In keyframe
        mode only keyframes are decoded, and only those not before the next frame is wanted."""
        import av

        base = stream.time_base
        failures = 0
        packets = container.demux(stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except av.error.FFmpegError as exc:  # the file ends in the middle of a packet
                self.corrupt += 1
                log.debug("%s: stopped reading video: %s", self.path, exc)
                break
            if self.mode == KEYFRAMES and (
                not packet.is_keyframe
                or packet.pts is None
                or float(packet.pts * base) - zero < self._wanted_from
            ):
                continue  # never decoded
            try:
                yield packet.decode()
                failures = 0
            except av.error.FFmpegError as exc:
                self.corrupt += 1
                failures += 1
                log.debug("%s: undecodable video packet: %s", self.path, exc)
                if failures >= _GIVE_UP_AFTER:
                    return
        try:
            yield stream.codec_context.decode(None)  # flush: the last frames held back
        except av.error.FFmpegError as exc:
            self.corrupt += 1
            log.debug("%s: undecodable video at the end: %s", self.path, exc)


def _moving_picture(container: Any) -> Any:
    """The first video stream that is not an attached picture (cover art), or None."""
    from av.stream import Disposition

    for stream in container.streams.video:
        if not stream.disposition & Disposition.attached_pic:
            return stream
    return None


def _zero(container: Any, audio_stream: int) -> float:
    """Where time 0 of the transcript lies on the container's clock: the start of the audio
    stream that is transcribed (ffmpeg's extraction starts there), else of the container."""
    audio = container.streams.audio
    if 0 <= audio_stream < len(audio):
        stream = audio[audio_stream]
        if stream.start_time is not None and stream.time_base is not None:
            return float(stream.start_time * stream.time_base)
    if container.start_time is not None:
        return float(container.start_time) / 1_000_000
    return 0.0
