"""Sound-alike findings: the weighted syllable distance, the scanner's use of it in recognised
speech, acoustic verification, and recall on the committed hard media (real model, real ffmpeg)."""

from __future__ import annotations

import dataclasses
import itertools
import math
import pickle
from pathlib import Path

import pytest

from auditor.audit import Auditor
from auditor.detect import scan_recording
from auditor.findings import Finding
from auditor.lexicon import load_lexicon
from auditor.media import extract_spans
from auditor.options import AuditOptions
from auditor.scan import Scanner
from auditor.similarity import allowed, distance, heard_syllables, substitution, syllable, syllables
from auditor.transcript import Transcript
from auditor.verify import GAP, PAD, WINDOW, Snippet, _windows, snippets
from auditor.verify import score as evidence
from scripts.bench_soundalike import labelled_recordings, score

DATA = Path(__file__).resolve().parent / "data"
# The issue's target for the verified findings on hard media is recall 0.85 with at most 2 false
# findings, measured by scripts/bench_soundalike.py on 96 claims. The committed subset holds 32,
# and what the recogniser hears on them differs between machines: 28 were found on one 2-core
# machine, 26 (0.81) on another with the same packages (2026-12-03; not the ffmpeg build, not
# ctranslate2 4.8.4 against 4.8.5, not the CPU instruction set forced to AVX2). So the test asserts
# a floor that two lost claims do not break, and the benchmark the target.
RECALL_TARGET = 0.78
FALSE_AT_MOST = 2


def apart(said: str, heard: str) -> float:
    return distance(syllables(said), heard_syllables(heard))  # type: ignore[arg-type]


# -- the distance -------------------------------------------------------------------------------


def test_syllables_split_into_initial_final_and_tone() -> None:
    assert syllable("zhuan4") == syllable("zhuàn")
    s = syllable("zhuàn")
    assert (s.initial, s.final, s.tone) == ("zh", "uan", 4)
    assert syllable("ài").initial == ""


def test_confusions_cost_less_than_other_sounds() -> None:
    def cost(a: str, b: str) -> float:
        return substitution(syllable(a), syllable(b))

    assert cost("wen3", "wen2") < cost("zhuan4", "zuan4") < cost("ti2", "ki2") < cost("ti2", "mi2")
    assert cost("pin4", "ping4") < cost("qian2", "quan2") < cost("pin4", "pao4")
    assert cost("ni3", "li3") < cost("ni3", "bi3")
    assert cost("jia4", "jiao4") < cost("jia4", "jie4")
    assert cost("fa1", "ha1") < cost("fa1", "ka1")
    assert cost("zhi1", "zi1") < cost("zhi1", "ji1") < cost("zhi1", "di1")
    assert 0 < cost("ma1", "ma3") < cost("ma1", "na1")
    assert cost("ba1", "ba1") == 0


def test_the_issues_confusions_are_close_and_unrelated_words_far() -> None:
    assert apart("稳赚", "文赚") <= allowed(2)
    assert apart("命题组", "命体组") <= allowed(3)
    assert apart("命题组", "令体组") <= allowed(3)  # misheard on the hard media
    assert apart("人民大会堂", "人民大会讨") <= allowed(5)
    assert apart("全网最低价", "全网飞低价") <= allowed(5)
    assert apart("稳赚", "今天") > allowed(2)
    assert apart("命题组", "明天走") > allowed(3)
    assert apart("药到病除", "我们下次") > allowed(4)


def test_a_syllable_added_costs_less_than_an_unrelated_one() -> None:
    assert apart("全网底价", "全网飞底价") < apart("全网底价", "全网飞价")


# -- the scanner --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return Scanner(load_lexicon())


def found(scanner: Scanner, text: str, probability: float | None) -> set[tuple[str, str]]:
    probabilities = None if probability is None else [probability] * len(text)
    return {
        (text[m.start : m.end], m.kind)
        for m in scanner.scan(text, probabilities)
        if m.kind == "sound-alike"
    }


def test_a_near_sound_alike_needs_an_unsure_recogniser(scanner: Scanner) -> None:
    text = "跟着老师投资本赚不赔"  # 稳赚 heard 本赚 (w/b): not equal sound keys
    assert ("本赚", "sound-alike") in found(scanner, text, 0.5)
    assert not found(scanner, text, 0.99)  # it was sure of what it wrote
    assert not found(scanner, text, None)  # written text: nothing was misheard


def test_a_near_sound_alike_needs_context_or_a_long_term(scanner: Scanner) -> None:
    # 令体组 for 命题组 in a clause about teachers and exams is a claim; the same sounds with no
    # education word near are not.
    assert ("令体组", "sound-alike") in found(scanner, "我们的老师是令体组的，押题特别准", 0.5)
    assert not found(scanner, "他说令体组的人来了", 0.5)


def test_claim_words_heard_side_by_side_support_each_other(scanner: Scanner) -> None:
    # 消炎杀菌 heard 销银沙君: each half alone is a short sound-alike with no context word, and
    # 银沙 reads as a word; side by side, two medical claim words make one chain.
    chain = "这款洗液能销银沙君"
    assert found(scanner, chain, 0.6) == {("销银", "sound-alike"), ("沙君", "sound-alike")}
    assert not found(scanner, chain, 0.99)  # the recogniser was sure of what it wrote
    assert not found(scanner, chain, None)  # written text
    assert not found(scanner, "沙君明天来直播", 0.6)  # one alone stays too weak


def test_a_dropped_syllable_is_no_sound_alike(scanner: Scanner) -> None:
    # 准时结束 ends like 随时结束 without its first syllable: ordinary speech, not a claim.
    assert not found(scanner, "活动今天晚上十点准时结束", 0.5)


def test_a_misheard_specific_claim_is_one_finding(scanner: Scanner) -> None:
    text = "今天全王最低价"
    matches = scanner.scan(text, [0.5] * len(text))
    assert [(m.category, text[m.start : m.end]) for m in matches] == [
        ("price.fake_reference", "全王最低价")
    ]


def test_a_distance_beyond_its_limit_is_given_up_and_one_within_it_is_exact() -> None:
    said, heard = syllables("命题组"), heard_syllables("令体组")
    exact = distance(said, heard)  # type: ignore[arg-type]
    assert 0 < exact < 1
    assert distance(said, heard, limit=exact) == exact  # type: ignore[arg-type]
    assert distance(said, heard, limit=exact / 2) == math.inf  # type: ignore[arg-type]
    # syllables sent to another process are interned there again
    again = pickle.loads(pickle.dumps(said))
    assert again == said and distance(again, heard) == exact


def test_snippets_fill_windows_of_the_encoders_length_in_time_order() -> None:
    pieces = [Snippet(i, 4.0 * i, 4.0 * i + 1.5, "", "") for i in range(40)]
    windows = _windows(pieces)
    assert [s for w in windows for s in w] == pieces
    for w in windows:
        assert sum(s.end - s.start + 2 * PAD for s in w) + GAP * (len(w) - 1) <= WINDOW
    # full: the next window's first snippet would not have fitted
    for w, after in itertools.pairwise(windows):
        held = sum(s.end - s.start + 2 * PAD + GAP for s in w)
        assert held + after[0].end - after[0].start + 2 * PAD > WINDOW


# -- with the real model ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def auditor() -> Auditor:
    return Auditor(AuditOptions(verify=False))


@pytest.fixture(scope="module")
def hard(auditor: Auditor) -> list[tuple[str, Transcript, tuple[Finding, ...], list]]:  # type: ignore[type-arg]
    out = []
    for path, slots in labelled_recordings(DATA / "hard"):
        transcript = auditor.audit(str(path)).transcript
        findings = scan_recording(str(path), transcript, None, auditor.scanner)
        out.append((str(path), transcript, findings, slots))
    return out


def test_hard_media_recall_and_false_findings(auditor: Auditor, hard: list) -> None:  # type: ignore[type-arg]
    found = claims = false = 0
    for path, transcript, findings, slots in hard:
        verified = auditor.verified(findings, transcript, auditor.check_input(path))
        tally = score(verified, slots)
        found, claims, false = found + tally.found, claims + tally.claims, false + len(tally.false)
    assert found / claims >= RECALL_TARGET, (found, claims)
    assert false <= FALSE_AT_MOST


def test_verified_sound_alikes_carry_their_evidence(auditor: Auditor, hard: list) -> None:  # type: ignore[type-arg]
    path, transcript, findings, _ = hard[0]
    verified = auditor.verified(findings, transcript, auditor.check_input(path))
    sound = [f for f in verified if f.match == "sound-alike"]
    assert sound
    for f in sound:
        assert f.heard_logprob is not None and f.term_logprob is not None
        assert f.heard_logprob <= 0 and f.term_logprob <= 0
    assert all(f.heard_logprob is None for f in verified if f.match != "sound-alike")
    # the checks kept with a batch audit, for rescans, hold the same figures
    checks = {
        c.key: c for c in auditor.sound_checks(findings, transcript, auditor.check_input(path))
    }
    for f in sound:
        check = checks[(f.matched, f.term, round(f.start, 3), round(f.end, 3))]
        assert (check.heard_logprob, check.term_logprob) == (f.heard_logprob, f.term_logprob)


def test_windows_scored_side_by_side_give_the_same_evidence(auditor: Auditor, hard: list) -> None:  # type: ignore[type-arg]
    path, transcript, findings, _ = hard[0]
    info = auditor.check_input(path)
    pieces = snippets(findings, transcript.view())
    # Three times over (as if three times the findings), so that there are several windows.
    pieces = [dataclasses.replace(p, finding=p.finding + 100 * k) for k in range(3) for p in pieces]
    assert len(_windows(pieces)) >= 3

    def audio(spans, gap):  # type: ignore[no-untyped-def]
        return extract_spans(info, 0, spans, gap, 60)

    def scorer(samples, texts):  # type: ignore[no-untyped-def]
        return auditor.transcriber.piece_logprobs(samples, texts, "zh")

    one_at_a_time = evidence(pieces, audio, scorer, lanes=1)
    assert len(one_at_a_time) == len(pieces)
    assert evidence(pieces, audio, scorer, lanes=3) == one_at_a_time


def test_a_recording_gone_before_verification_keeps_its_sound_alikes(
    auditor: Auditor,
    hard: list,
    tmp_path: Path,  # type: ignore[type-arg]
) -> None:
    """Verification reads the audio again; when that fails (the file moved away, a stream that
    decodes only from its start) the audit keeps its findings, unverified, instead of failing."""
    path, transcript, findings, _ = hard[0]
    copy = tmp_path / Path(path).name
    copy.write_bytes(Path(path).read_bytes())
    info = auditor.check_input(str(copy))
    copy.unlink()
    assert any(f.match == "sound-alike" for f in findings)
    assert auditor.verified(findings, transcript, info) == findings


def test_verification_rejects_a_constructed_near_miss(auditor: Auditor) -> None:
    """A clean clip says 活动今天晚上十点准时结束; a sound-alike claiming it said 随时涨价 there
    (the words' times, the term of a real rule) is not what the audio holds."""
    path = str(DATA / "zh_tts" / "d10.wav")
    transcript = auditor.audit(path).transcript
    view = transcript.view()
    at = view.text.find("准时结束")
    assert at >= 0, view.text
    start, end = view.span_times(at, at + 4)
    near_miss = Finding(
        source=path,
        category="urgency.inducement",
        rule="urgency.inducement/rising-price",
        severity="medium",
        matched="准时结束",
        term="随时涨价",
        start=start,
        end=end,
        context=view.text,
        legal_basis="",
        confidence=0.5,
        match="sound-alike",
    )
    assert auditor.verified((near_miss,), transcript, auditor.check_input(path)) == ()
