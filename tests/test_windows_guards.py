"""Streaming windows and hallucination guards: pure parts on plain data, the rest on real media."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np
import pytest

from auditor import guards
from auditor.asr import lexicon_hotwords
from auditor.lexicon import load_lexicon
from auditor.media import SAMPLE_RATE, extract_audio, extract_spans, probe
from auditor.transcript import Word
from auditor.windows import Window, cut_windows, pcm_chunks, prefetch, quietest_point
from tests.conftest import DEMO


def _tone(seconds: float, level: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (level * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def _quiet(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SAMPLE_RATE), dtype=np.float32)


def test_quietest_point_lands_in_the_pause() -> None:
    audio = np.concatenate([_tone(5), _quiet(0.5), _tone(3)])
    cut = quietest_point(audio, 3 * SAMPLE_RATE, 8 * SAMPLE_RATE)
    assert 5.0 * SAMPLE_RATE <= cut <= 5.5 * SAMPLE_RATE


def test_windows_cover_every_sample_once_at_pauses() -> None:
    # Sentences of 4 s with 0.5 s pauses, fed in 1 s chunks.
    audio = np.concatenate([np.concatenate([_tone(4), _quiet(0.5)]) for _ in range(20)])
    chunks = [audio[i : i + SAMPLE_RATE] for i in range(0, audio.shape[0], SAMPLE_RATE)]
    windows = list(cut_windows(iter(chunks), window_seconds=20))
    assert len(windows) >= 4
    assert all(w.duration <= 20 for w in windows)
    joined = np.concatenate([w.samples for w in windows])
    assert np.array_equal(joined, audio)
    position = 0.0
    for window in windows:
        assert window.offset == pytest.approx(position)
        position += window.duration
        if window is not windows[-1]:  # each cut is in a pause: the window ends quiet
            assert np.abs(window.samples[-160:]).max() == 0.0


def test_prefetch_keeps_order_runs_ahead_by_at_most_depth_and_reraises() -> None:
    produced: list[int] = []
    consumed: list[int] = []
    gate = threading.Event()

    def items() -> Iterator[int]:
        for i in range(5):
            produced.append(i)
            yield i
        raise ValueError("decoder broke")

    with pytest.raises(ValueError, match="decoder broke"):
        for item in prefetch(items(), depth=1):
            gate.wait(0.05)
            assert len(produced) - len(consumed) <= 3  # one queued, one in hand, one being made
            consumed.append(item)
    assert consumed == [0, 1, 2, 3, 4]


def test_streamed_chunks_equal_the_whole_extraction() -> None:
    info = probe(str(DEMO))
    whole = extract_audio(info)
    streamed = np.concatenate(list(pcm_chunks(info, chunk_seconds=1.3)))
    assert np.array_equal(whole, streamed)


def test_spans_read_in_one_run_equal_each_span_read_alone_with_silence_after() -> None:
    info = probe(str(DEMO))
    spans, gap = [(0.5, 1.2), (3.0, 0.8), (1.0, 2.0)], 0.4
    together = extract_spans(info, 0, spans, gap)
    silence = _quiet(gap)
    alone = np.concatenate(
        [p for span in spans for p in (extract_audio(info, 0, None, span), silence)]
    )
    assert abs(together.size - alone.size) <= 3 * 160  # a few ms: each seek lands on its own
    at = 0
    for span in spans:
        size = int(span[1] * SAMPLE_RATE)
        piece, own = together[at : at + size], alone[at : at + size]
        assert np.corrcoef(piece, own)[0, 1] > 0.99
        assert (
            np.abs(together[at + size + 800 : at + size + int(gap * SAMPLE_RATE) - 800]).max() == 0
        )
        at += size + int(gap * SAMPLE_RATE)


def test_credit_phrases_and_loops_are_hallucinations_sales_talk_is_not() -> None:
    assert guards.hallucination_reason("字幕由Amara.org社区提供") == "subtitle credit"
    assert guards.hallucination_reason("请不吝点赞 订阅 转发 打赏支持明镜与点点栏目") is not None
    assert guards.hallucination_reason("我们我们我们我们我们我们") == "repetition loop"
    assert guards.hallucination_reason("哦哦", [0.02, 0.42]) == "unsure of every word"
    for text in (
        "这款精华液是全网第一，效果最好",
        "三二一上链接，三二一上链接",  # a host repeating a call twice is speech
        "感谢大家的支持，我们下次再见",
        "买买买",
    ):
        assert guards.hallucination_reason(text, [0.9] * 5) is None, text


def test_whisper_no_speech_rule() -> None:
    assert guards.is_silence(no_speech_prob=0.8, avg_logprob=-1.6)
    assert guards.is_silence(no_speech_prob=0.1, avg_logprob=-2.2)  # a pure guess
    assert not guards.is_silence(no_speech_prob=0.8, avg_logprob=-0.3)  # sure of its words
    assert not guards.is_silence(no_speech_prob=0.1, avg_logprob=-0.6)


def test_sentences_split_at_punctuation_and_pauses() -> None:
    words = [
        Word(0.0, 0.3, "大家"),
        Word(0.3, 0.6, "好。"),
        Word(0.6, 0.9, "今天"),
        Word(2.0, 2.3, "上新"),
        Word(2.3, 2.5, "了"),
    ]
    assert [[w.text for w in s] for s in guards.split_sentences(words)] == [
        ["大家", "好。"],
        ["今天"],
        ["上新", "了"],
    ]


def test_word_stretched_back_over_a_pause_is_trimmed_to_its_sound() -> None:
    # Silence 0-1 s, the word's sound 1-1.4 s; Whisper said the word ran 0.2-1.4 s.
    audio = np.concatenate([_quiet(1.0), _tone(0.4), _quiet(0.6)])
    window = Window(10.0, audio)
    trimmed = guards.trim_to_sound(Word(10.2, 11.4, "这"), window.samples, window.offset)
    assert trimmed.start == pytest.approx(11.0, abs=0.03)
    assert trimmed.end == pytest.approx(11.4, abs=0.03)
    # A word with a quiet pause then sound at both ends starts after the pause.
    audio = np.concatenate([_tone(0.2), _quiet(0.5), _tone(0.3)])
    trimmed = guards.trim_to_sound(Word(0.0, 1.0, "每"), audio, 0.0)
    assert trimmed.start == pytest.approx(0.7, abs=0.03)
    # All quiet: nothing to go by, the times stay.
    assert guards.trim_to_sound(Word(0.0, 0.5, "嗯"), _quiet(1), 0.0) == Word(0.0, 0.5, "嗯")


def test_lexicon_hotwords_fit_whispers_prompt() -> None:
    terms = [t for rule in load_lexicon().rules for t in rule.terms]
    hot = lexicon_hotwords(terms)
    assert 0 < len(hot) <= 150
    assert all(word in terms for word in hot.split())
