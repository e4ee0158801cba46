"""Guards against Whisper's inventions on music and silence, and sentence splitting of its output.

Whisper trained on subtitled video: on music or silence it tends to write subtitle credits
(字幕由…提供), sign-offs (请不吝点赞订阅) or one phrase over and over. Such text is dropped from
the transcript, so it never becomes a finding. Every guard here is a pure function of the text or
of the decoder's own scores, so it is tested on plain data.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from auditor.transcript import Word

# Phrases that only appear in subtitle credits and channel sign-offs, never in a sales pitch.
CREDIT_MARKERS = (
    "字幕由",
    "字幕提供",
    "字幕志愿者",
    "字幕组",
    "中文字幕",
    "请不吝点赞",
    "不吝点赞",
    "点赞订阅",
    "订阅转发",
    "点赞、订阅",
    "打赏支持",
    "明镜与点点",
    "优优独播剧场",
    "YoYo Television",
    "Amara.org",
)

# Whisper's judgement that a stretch holds no speech (its own thresholds).
NO_SPEECH_PROB = 0.6
LOW_LOGPROB = -1.0
# Below this average log-probability Whisper is guessing whatever it hears: speech in the shared
# clips scores -0.1 to -0.6, its inventions on synthetic music -1.6 to -2.2.
GUESS_LOGPROB = -1.5
# A sentence whose words average under this probability is noise put into words (speech: 0.66+).
MIN_WORD_PROBABILITY = 0.3
# Text that gzip shrinks this much is a loop ("我们我们我们…"): Whisper's own threshold.
MAX_COMPRESSION = 2.4

_REPEATED_UNIT = re.compile(r"(.{1,12}?)\1{3,}", re.DOTALL)  # a unit said 4+ times in a row
_PUNCTUATION = re.compile(r"[\s，。！？、,.!?;；:：…\"'“”‘’()（）]+")
SENTENCE_END = "。！？!?"
PAUSE_SECONDS = 0.6  # a silence this long between words starts a new sentence


def compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def is_credit(text: str) -> bool:
    """Subtitle credits and sign-offs: never what a host says while selling."""
    return any(marker.lower() in text.lower() for marker in CREDIT_MARKERS)


def is_loop(text: str) -> bool:
    """One short unit repeated 4+ times over at least half of the text (and 8+ characters)."""
    bare = _PUNCTUATION.sub("", text)
    if len(bare) < 8:
        return False
    covered = sum(len(m.group(0)) for m in _REPEATED_UNIT.finditer(bare))
    return covered * 2 >= len(bare) or compression_ratio(bare) > MAX_COMPRESSION


def is_silence(no_speech_prob: float, avg_logprob: float) -> bool:
    """Whisper's own no-speech rule (it hears no speech and is unsure of its words), or a guess."""
    return avg_logprob < GUESS_LOGPROB or (
        no_speech_prob > NO_SPEECH_PROB and avg_logprob < LOW_LOGPROB
    )


def hallucination_reason(text: str, probabilities: Sequence[float] = ()) -> str | None:
    """Why a sentence is likely invented, or None. `probabilities`: its words' probabilities."""
    if is_credit(text):
        return "subtitle credit"
    if is_loop(text):
        return "repetition loop"
    if probabilities and sum(probabilities) / len(probabilities) < MIN_WORD_PROBABILITY:
        return "unsure of every word"
    return None


def split_sentences(words: Sequence[Word]) -> list[list[Word]]:
    """Split a run of words at sentence punctuation and at pauses of PAUSE_SECONDS or more."""
    sentences: list[list[Word]] = []
    current: list[Word] = []
    for word in words:
        if current and (
            current[-1].text[-1:] in SENTENCE_END or word.start - current[-1].end >= PAUSE_SECONDS
        ):
            sentences.append(current)
            current = []
        current.append(word)
    if current:
        sentences.append(current)
    return sentences


TRIM_FRAME = 320  # 20 ms at 16 kHz
TRIM_FLOOR = 10 ** (-50 / 20)  # -50 dBFS: quieter than this is silence whatever the level around
TRIM_PAUSE_FRAMES = 10  # 200 ms of quiet inside a word is a pause it was stretched over
TRIM_RELATIVE = 0.1  # a frame under a tenth of the word's loud frames (RMS) is not its speech


def trim_to_sound(
    word: Word, samples: npt.NDArray[np.float32], offset: float, rate: int = 16_000
) -> Word:
    """The word with leading and trailing silence cut from its times.

    Whisper's word alignment often stretches the first word after a pause back over the pause; a
    finding's time is where a reviewer jumps to, so it should be where the word is heard. Only
    silence is cut; a word that is all quiet keeps its times.
    """
    first = int((word.start - offset) * rate)
    last = int((word.end - offset) * rate)
    first, last = max(first, 0), min(last, samples.shape[0])
    frames = (last - first) // TRIM_FRAME
    if frames < 3:
        return word
    region = samples[first : first + frames * TRIM_FRAME].reshape(frames, TRIM_FRAME)
    rms = np.sqrt(np.mean(region.astype(np.float64) ** 2, axis=1))
    threshold = max(TRIM_FLOOR, TRIM_RELATIVE * float(np.percentile(rms, 90)))
    loud = rms >= threshold
    if not loud.any():
        return word
    # The word starts after the last pause inside its span (the stretch reaches back over it).
    begin = int(np.argmax(loud))
    quiet_run = 0
    for index in range(begin, frames):
        if loud[index]:
            if quiet_run >= TRIM_PAUSE_FRAMES:
                begin = index
            quiet_run = 0
        else:
            quiet_run += 1
    finish = frames - int(np.argmax(loud[::-1]))
    start = word.start + begin * TRIM_FRAME / rate
    end = min(word.end, word.start + finish * TRIM_FRAME / rate)
    return Word(round(start, 3), round(end, 3), word.text, word.probability)
