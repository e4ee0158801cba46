from __future__ import annotations

from auditor.detect import scan_transcript
from auditor.lexicon import load_lexicon
from auditor.scan import Scanner
from auditor.transcript import Segment, Transcript, Word


def _transcript() -> Transcript:
    first = (
        Word(1.0, 1.4, "这款", 0.9),
        Word(1.4, 1.6, "是", 0.9),
        Word(1.6, 2.0, "全网", 0.8),
        Word(2.0, 2.5, "最低", 0.7),
        Word(2.5, 2.8, "价", 0.9),
    )
    second = (Word(4.0, 4.5, "大家", 0.9), Word(4.5, 5.0, "快来", 0.9))
    return Transcript(
        (Segment(1.0, 2.8, "这款是全网最低价", first), Segment(4.0, 5.0, "大家快来", second)),
        language="zh",
        duration=6.0,
    )


def test_span_maps_to_the_words_it_came_from() -> None:
    view = _transcript().view()
    start = view.text.index("最低价")
    assert view.span_times(start, start + 3) == (2.0, 2.8)
    assert view.span_probability(start, start + 3) == 0.7
    assert view.context(start, start + 3) == "这款是全网最低价"


def test_findings_use_word_times_not_segment_times() -> None:
    [finding] = scan_transcript("x.mp4", _transcript(), Scanner(load_lexicon()))
    assert (finding.start, finding.end) == (1.6, 2.8)
    assert finding.matched == "全网最低价"
    assert finding.confidence < 0.95  # the recogniser was unsure of 最低


def test_claim_split_across_segments_still_matches() -> None:
    words_a = (Word(0.0, 0.5, "全网", 0.9),)
    words_b = (Word(1.5, 2.0, "最低价", 0.9),)
    transcript = Transcript(
        (Segment(0.0, 0.5, "全网", words_a), Segment(1.5, 2.0, "最低价", words_b)), "zh", 3.0
    )
    [finding] = scan_transcript("x", transcript, Scanner(load_lexicon()))
    assert (finding.start, finding.end) == (0.0, 2.0)


def test_round_trip_through_dict() -> None:
    t = _transcript()
    assert Transcript.from_dict(t.to_dict()) == t


def _run_of_speech(pieces: list[tuple[str, float]]) -> Transcript:
    """One unpunctuated segment as a fast stream gives it: (word, pause before it in seconds)."""
    words = []
    at = 0.0
    for text, pause in pieces:
        at += pause
        words.append(Word(at, at + 0.1 * len(text), text, 0.9))
        at += 0.1 * len(text)
    text = "".join(w.text for w in words)
    return Transcript((Segment(0.0, at, text, tuple(words)),), "zh", at)


def test_context_is_the_clause_around_the_claim_in_a_long_run() -> None:
    chatter = [("宝宝们", 0.0), ("晚上好", 0.0), ("今天", 0.0), ("给大家", 0.0), ("带来", 0.0),
               ("一款", 0.0), ("新品", 0.0), ("面霜", 0.0), ("我们", 0.0), ("自己", 0.0),
               ("工厂", 0.0), ("做的", 0.0), ("质量", 0.0), ("很好", 0.0)]  # fmt: skip
    claim = [("这个", 0.5), ("价格", 0.0), ("是", 0.0), ("全网", 0.0), ("最低价", 0.0)]
    tail = [("然后", 0.0), ("发货", 0.0), ("是", 0.0), ("顺丰", 0.0), ("包邮", 0.0), ("的", 0.0)]
    transcript = _run_of_speech(chatter * 3 + claim + tail * 3)
    assert len(transcript.segments[0].text) > 120
    [finding] = scan_transcript("x", transcript, Scanner(load_lexicon()))
    assert finding.matched == "全网最低价"
    # The pause before 这个 and the clause word 然后 bound the clause; whole clauses are added
    # while it stays short.
    assert finding.context.startswith("这个价格是全网最低价")
    assert len(finding.context) <= 40


def test_context_of_a_clause_longer_than_the_limit_holds_the_claim() -> None:
    words = [("我们", 0.0), ("家", 0.0), ("的", 0.0), ("东西", 0.0)] * 12
    claim = [("全网", 0.0), ("最低价", 0.0)]
    transcript = _run_of_speech(words + claim + words)
    view = transcript.view()
    start = view.text.index("全网最低价")
    context = view.context(start, start + 5)
    assert "全网最低价" in context and len(context) <= 42
