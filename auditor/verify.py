"""Acoustic verification of sound-alike findings: ask the recogniser itself whether the lexicon
term fits the audio of the words it heard, compared with what it wrote.

A sound-alike is a resemblance of syllables (auditor.phonetic, auditor.similarity); resemblance
alone flags 文赚 as 稳赚 but also ordinary words that happen to sound near a term. For each
sound-alike finding, the audio of its words (and one word each side, for context) is cut from the
recording; the snippets of one recording are laid end to end, with short silences, into windows
of at most 10 s, each encoded once (as long as it is), and windows are scored side by side (one
per decoding worker). Two texts are forced through the decoder for each window (CTranslate2's
Whisper `align`, via `Transcriber.piece_logprobs`): what was heard, and the same with every
finding's words replaced by its term. A finding's `heard_logprob` and `term_logprob`
are the sums of the log probabilities of its own snippet's tokens in each (snippets are apart, so
a neighbour's change moves them little); it is kept when the term is nearly as likely as what
was heard (TERM_MARGIN).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from auditor.findings import Finding, SoundCheck, sound_key
from auditor.transcript import Transcript, TranscriptText

log = logging.getLogger("auditor")

# A finding is kept when its term's log probability is at most this far (nats, summed over its
# snippet's tokens) below the heard text's. The recogniser wrote its own best guess, so the term
# is nearly always less likely: on the hard media and the clips (scripts/bench_soundalike.py,
# README "Sound-alike findings") misheard claims scored from +6.5 to -12.7 nats against what was
# heard when the margin was set, and the sound-alikes that were no claim (的小 for 特效, 紧下单 for
# 微信下单) -17.6 to -24.8; on 2026-12-03, with 10 s windows, claims scored +12.4 to -24.2 (two
# below the margin, each claim found by another finding too) and no sound-alike was false.
TERM_MARGIN = 14.0
# Audio kept before the first and after the last word of a snippet, seconds: word times are
# rough, and a cut through a syllable makes both texts unlikely.
PAD = 0.25
# Silence between snippets in a window, seconds.
GAP = 0.4
# A window holds snippets (with their padding) and the silences between them up to this length,
# seconds. Each window is encoded as long as it is, not padded to Whisper's 30 s: the encoder's
# cost grows faster than its input (1.25 s for 30 s of audio, 0.2 s for 10 s, base model on one
# thread), so many short windows cost less than a few full ones, until the two alignments each
# window needs (0.05-0.1 s each on a 10 s window) take over. On the 4-minute hard recording (22
# sound-alikes) the check took 2.1 s with 30 s windows, 1.3 s with 8-12 s; scored on the hard
# media with 10 s windows, each claim kept its evidence within a few nats (README, "Sound-alike
# findings"). Short input serves forced alignment only, where the text is given: decoded freely
# from it, Whisper repeats itself.
WINDOW = 10.0

Samples = npt.NDArray[np.float32]
# (audio samples, texts as pieces) -> each piece's summed token log probability, per text
Scorer = Callable[[Samples, list[list[str]]], list[list[float]]]
# (spans as (start, duration) in seconds, gap) -> the recording's samples there, each span
# followed by `gap` seconds of silence
AudioSpans = Callable[[Sequence[tuple[float, float]], float], Samples]


@dataclass(frozen=True)
class Snippet:
    finding: int  # index into the findings
    start: float  # seconds in the recording
    end: float
    heard: str  # the words there as transcribed
    term: str  # the same with the finding's words replaced by its term


def snippets(findings: Sequence[Finding], view: TranscriptText) -> list[Snippet]:
    """A snippet for each sound-alike speech finding: its words and one word each side."""
    out = []
    for index, f in enumerate(findings):
        if not needs_check(f) or f.term is None:
            continue
        inside = [i for i, w in enumerate(view.words) if w.end > f.start and w.start < f.end]
        if not inside:
            continue
        first, last = max(0, inside[0] - 1), min(len(view.words), inside[-1] + 2)
        words = view.words[first:last]
        heard = "".join(w.text for w in words)
        at = heard.find(f.matched)
        if at < 0:
            continue
        term = heard[:at] + f.term + heard[at + len(f.matched) :]
        out.append(Snippet(index, words[0].start, words[-1].end, heard, term))
    return out


def _windows(pieces: list[Snippet]) -> list[list[Snippet]]:
    """Snippets in order of time, grouped into windows the encoder takes at once."""
    out: list[list[Snippet]] = []
    length = WINDOW + 1
    for s in sorted(pieces, key=lambda s: s.start):
        size = s.end - s.start + 2 * PAD  # the silence after the last snippet is not needed
        if length + size > WINDOW:
            out.append([])
            length = 0.0
        out[-1].append(s)
        length += size + GAP
    return out


def score(
    pieces: list[Snippet], audio: AudioSpans, scorer: Scorer, lanes: int = 1
) -> dict[int, tuple[float, float]]:
    """Finding index -> (heard log probability, term log probability) of its snippet.

    Windows are scored `lanes` at a time: the model decodes on one thread per worker, so on a
    recording with several windows one window's encoding runs beside another's alignments and
    audio cuts. Each window's figures are its own, whatever runs beside it.
    """

    def one(window: list[Snippet]) -> list[tuple[int, tuple[float, float]]]:
        spans = []
        for s in window:
            start = max(0.0, s.start - PAD)
            spans.append((start, s.end + PAD - start))
        packed = audio(spans, GAP)
        heard, term = scorer(packed, [[s.heard for s in window], [s.term for s in window]])
        return [
            (s.finding, (round(h, 3), round(t, 3)))
            for s, h, t in zip(window, heard, term, strict=True)
        ]

    windows = _windows(pieces)
    if lanes <= 1 or len(windows) <= 1:
        scored = [one(w) for w in windows]
    else:
        with ThreadPoolExecutor(min(lanes, len(windows)), "auditor-verify") as pool:
            scored = list(pool.map(one, windows))
    return dict(pair for window in scored for pair in window)


def check_sound_alikes(
    findings: Sequence[Finding],
    transcript: Transcript,
    audio: AudioSpans,
    scorer: Scorer,
    lanes: int = 1,
) -> tuple[SoundCheck, ...]:
    """What the audio says of each sound-alike speech finding; `lanes` windows of snippets are
    scored at once."""
    pieces = snippets(findings, transcript.view())
    if not pieces:
        return ()
    evidence = score(pieces, audio, scorer, lanes)
    out = []
    for index, (heard, term) in sorted(evidence.items()):
        f = findings[index]
        assert f.term is not None  # snippets are made only for findings with a term
        out.append(SoundCheck(f.matched, f.term, f.start, f.end, heard, term))
    return tuple(out)


def needs_check(f: Finding) -> bool:
    """Whether a finding is a sound-alike in speech, which the audio is asked about."""
    return f.match == "sound-alike" and f.channel == "speech" and bool(f.term)


def apply_checks(
    findings: Sequence[Finding], checks: Sequence[SoundCheck], margin: float = TERM_MARGIN
) -> tuple[Finding, ...]:
    """The findings with each checked sound-alike's evidence filled in, and those whose term
    the audio does not support (more than `margin` below the heard words) left out. A
    sound-alike with no check of its words, term and time stays as it is, unverified."""
    by_key = {c.key: c for c in checks}
    out = []
    for f in findings:
        check = by_key.get(sound_key(f.matched, f.term or "", f.start, f.end))
        if check is None or not needs_check(f):
            out.append(f)
            continue
        if not check.supports(margin):
            log.info(
                "sound-alike %s (%s) not in the audio: %.1f vs %.1f",
                f.matched,
                f.term,
                check.term_logprob,
                check.heard_logprob,
            )
            continue
        out.append(
            dataclasses.replace(
                f, heard_logprob=check.heard_logprob, term_logprob=check.term_logprob
            )
        )
    return tuple(out)
