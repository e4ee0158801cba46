"""Times as people read them, and "now": one helper each, used by every report and the store."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> str:
    """This moment in UTC, ISO 8601 to the second: every stamp in reports and the store."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def clock(seconds: float) -> str:
    """A position in a recording: MM:SS, or H:MM:SS from an hour on."""
    whole = int(max(0.0, seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def hours_clock(seconds: float) -> str:
    """A span of time that may run to hours (an ETA): always H:MM:SS."""
    whole = int(max(0.0, seconds))
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def cue_time(seconds: float, separator: str) -> str:
    """A subtitle timestamp, HH:MM:SS then `separator` (',' in SRT, '.' in WebVTT) and ms."""
    millis = round(max(0.0, seconds) * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def utc_moment(text: str) -> str:
    """A date or time as given (ISO 8601; UTC when it names no zone) in the form of `utc_now`, so
    stamps compare as text. ValueError when it is not one."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")
