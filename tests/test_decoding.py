"""Decoding modes: beam (the default), greedy, and adaptive (greedy, then beam search again on
stretches whose greedy text is doubtful or holds an unsure claim). Speed is measured by
scripts/bench.py, never here."""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

from faster_whisper.transcribe import Segment, Word

from auditor.asr import kept_segments
from auditor.audit import Auditor
from auditor.options import AsrOptions, AuditOptions, settings_key

CLIPS = Path(__file__).parent / "data" / "zh_tts"


def segment(words: list[tuple[float, float, str]]) -> Segment:
    ws = [Word(start=a, end=b, word=text, probability=0.9) for a, b, text in words]
    return Segment(
        id=0,
        seek=0,
        start=ws[0].start,
        end=ws[-1].end,
        text="".join(w.word for w in ws),
        tokens=[],
        avg_logprob=-0.2,
        compression_ratio=1.2,
        no_speech_prob=0.0,
        words=ws,
        temperature=0.0,
    )


def test_beam_keeps_the_settings_key_every_audit_had_before_the_option() -> None:
    before = AuditOptions().transcript_settings("m")
    assert "decoding" not in before  # beam: the key of audits stored before the option existed
    for mode in ("greedy", "adaptive"):
        options = AuditOptions(asr=AsrOptions(decoding=mode))
        settings = options.transcript_settings("m")
        assert settings["decoding"] == mode
        assert settings_key(settings) != settings_key(before)


def test_words_decoded_again_leave_the_greedy_segments_and_the_rest_stay_in_order() -> None:
    greedy = segment(
        [(0.0, 0.4, "这款"), (0.5, 0.9, "精华"), (1.0, 1.4, "全网"), (1.5, 2.0, "第一")]
    )
    kept = kept_segments([greedy], [(0.45, 0.95)])
    assert [[w.word for w in s.words or ()] for s in kept] == [["这款"], ["全网", "第一"]]
    assert [(s.start, s.end, s.text) for s in kept] == [(0.0, 0.4, "这款"), (1.0, 2.0, "全网第一")]
    assert kept_segments([greedy], []) == [replace(greedy, text="这款精华全网第一")]


def test_adaptive_decoding_hears_each_word_once_in_time_order_and_finds_the_claims() -> None:
    beam = Auditor(AuditOptions())
    adaptive = Auditor(AuditOptions(asr=AsrOptions(decoding="adaptive")))
    # A price claim; a sound-alike (稳赚 is often heard 文赚); a clean greeting. The two claim clips
    # are one claim sentence each, so all of their speech may be decoded again; the greeting holds
    # no candidate.
    for clip in ("d04", "d09", "d01"):
        want = beam.audit(str(CLIPS / f"{clip}.wav"))
        got = adaptive.audit(str(CLIPS / f"{clip}.wav"))
        words = [w for s in got.transcript.segments for w in s.words]
        assert words, clip
        starts = [w.start for w in words]
        assert starts == sorted(starts), clip
        assert all(a.end <= b.start + 0.02 for a, b in itertools.pairwise(words)), clip
        assert {f.category for f in want.findings} <= {f.category for f in got.findings}, clip
    # Adaptive decoding redid some speech with beam search, but not all of it (not the greeting).
    transcriber = adaptive.transcriber
    assert 0 < transcriber.redecoded_seconds < transcriber.decoded_seconds
