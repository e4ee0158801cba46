"""Benchmark: speed against bare faster-whisper, peak memory on long recordings, text quality.

    .venv/bin/python scripts/bench.py                      # everything (about 15 min on 2 cores)
    .venv/bin/python scripts/bench.py --only speed --rounds 5 --seconds 60,240
    .venv/bin/python scripts/bench.py --only decoding
    .venv/bin/python scripts/bench.py --only costs --seconds 240
    .venv/bin/python scripts/bench.py --only batch --rounds 2 --batch-files 10 --batch-seconds 60
    .venv/bin/python scripts/bench.py --only batch --rounds 2 --batch-workers 1,2,auto
    .venv/bin/python scripts/bench.py --only memory --long-minutes 10,60
    .venv/bin/python scripts/bench.py --only quality

speed    x real time of `auditor audit` (the CLI, end to end) against bare faster-whisper,
         sequential and batched, each a fresh process (imports, model load, decoding, transcription)
         on the same recording, same model folder, language zh, beam 5, VAD and word timestamps.
         Runs alternate (audit, sequential, batched, audit, ...); medians are compared; the
         audit runs once per --decoding (beam, the default; greedy; adaptive).
decoding character error rate on the shared clips and the four real recordings, claim recall
         and false findings, for beam, greedy and adaptive decoding, with adaptive's thresholds
         and the share of speech it decoded twice.
costs    CPU time of each decoding stage on one thread (features, encoder, greedy and beam search
         of sizes 2 to 5, word alignment) on the chunks of a stream-like recording, and each beam
         size's character error rate: the floor of any greedy-first (adaptive) decoding.
batch    wall time of one `auditor batch` over 10 recordings of about a minute (one worker,
         the model loaded once; or each --batch-workers value in turn) against the sum of one
         bare batched faster-whisper process per file, alternating.
memory   peak RSS (ru_maxrss of the process, from wait4) of `auditor audit` on recordings of
         10 and 60 minutes built from the shared clips separated by silence.
quality  recall of the expected categories and false findings over the 24 shared clips, scanned
         with the real scanner, and the character error rate on them and on the four real
         recordings, with and without lexicon hotwords, a Chinese initial prompt, the
         hallucination guards, beam size 1 and faster-whisper's 400 ms VAD padding; and what is
         left of synthetic silence and music. (scripts/bench_padding.py: padding on a stream.)

Recordings are generated into a temporary folder and deleted afterwards. Figures are printed,
never asserted: they depend on the machine.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from auditor.media import find_ffmpeg  # noqa: E402

CLIPS = ROOT.parent / "shared" / "media" / "zh_tts"
REAL = ROOT.parent / "shared" / "media" / "real_zh"
RATE = 16_000
GAP = 0.8
PROMPT = "以下是普通话直播带货的录音，使用简体中文。"

BARE = """
import sys, time
from faster_whisper import BatchedInferencePipeline, WhisperModel
path, mode, model = sys.argv[1], sys.argv[2], sys.argv[3]
m = WhisperModel(model, device="cpu", compute_type="int8")
if mode == "batched":
    segments, _ = BatchedInferencePipeline(m).transcribe(
        path, language="zh", beam_size=5, word_timestamps=True, batch_size=8)
else:
    segments, _ = m.transcribe(path, language="zh", beam_size=5, word_timestamps=True,
                               vad_filter=True, condition_on_previous_text=False)
text = "".join(s.text for s in segments)
"""


# -- recordings ------------------------------------------------------------------------------


def make_recording(seconds: float, target: Path) -> Path:
    """Shared clips one after another with GAP seconds of silence, to `seconds`, as AAC in .m4a."""
    from scripts.screen_media import speech_track

    wav = speech_track(
        sorted(CLIPS.glob("*.wav")) + sorted(REAL.glob("*.wav")),
        GAP,
        seconds,
        target.with_suffix(".wav"),
    )
    _ffmpeg("-i", str(wav), "-c:a", "aac", "-b:a", "64k", str(target))
    wav.unlink()
    return target


def _ffmpeg(*args: str) -> None:
    quiet = ["-nostdin", "-y", "-hide_banner", "-loglevel", "error"]
    subprocess.run([find_ffmpeg(), *quiet, *args], check=True)


def make_noise(kind: str, seconds: float, target: Path) -> Path:
    sources = {
        "silence": ["-f", "lavfi", "-i", f"anullsrc=r=16000:cl=mono:d={seconds}"],
        "music": [
            "-f",
            "lavfi",
            "-i",
            "aevalsrc=0.3*sin(2*PI*(200+40*sin(2*PI*5*t))*(1+floor(mod(t*3\\,5))/4)*t)"
            "*abs(sin(2*PI*1.5*t))+0.2*sin(4*PI*(200+40*sin(2*PI*5*t))"
            f"*(1+floor(mod(t*3\\,5))/4)*t)*abs(sin(2*PI*1.5*t))+0.1*sin(2*PI*110*t)"
            f":s=16000:d={seconds}",
        ],
    }
    _ffmpeg(*sources[kind], str(target))
    return target


def duration_of(path: Path) -> float:
    from auditor.media import probe

    return probe(str(path)).duration


# -- measuring one process -------------------------------------------------------------------


def measure(args: list[str]) -> tuple[float, float, float]:
    """Run a command; return wall seconds, CPU seconds and peak RSS (MiB) of that process alone."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"{args} failed ({code}): {err[-2000:]}")
    if proc.stderr:
        proc.stderr.close()
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def audit_cmd(path: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "auditor.cli",
        "audit",
        str(path),
        "--format",
        "json",
        "-o",
        os.devnull,
        "-q",
        "--fail-on",
        "never",
        *extra,
    ]


def bare_cmd(path: Path, mode: str, model: str) -> list[str]:
    return [sys.executable, "-c", BARE, str(path), mode, model]


# -- sections --------------------------------------------------------------------------------


def speed(tmp: Path, seconds: float, rounds: int) -> None:
    from auditor.models import resolve_model

    model = resolve_model("base").path
    rec = make_recording(seconds, tmp / "speed.m4a")
    length = duration_of(rec)
    commands = {
        "auditor audit": audit_cmd(rec),
        "auditor audit --decoding greedy": audit_cmd(rec, "--decoding", "greedy"),
        "auditor audit --decoding adaptive": audit_cmd(rec, "--decoding", "adaptive"),
        "bare sequential": bare_cmd(rec, "sequential", model),
        "bare batched": bare_cmd(rec, "batched", model),
    }
    walls: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    measure(commands["auditor audit"])  # warm the page cache and the assembled model
    load = os.getloadavg()[0]
    for _ in range(rounds):
        for name, command in commands.items():  # alternating: one of each per round
            wall, cpu, _ = measure(command)
            walls[name].append(wall)
            cpus[name].append(cpu)
    print(
        f"\n## speed: {length:.0f} s recording, {rounds} alternating rounds, "
        f"{os.cpu_count()} CPUs, load average {load:.1f} before and {os.getloadavg()[0]:.1f} after"
    )
    print("each run a fresh process: imports, model load, decoding, transcription (and the scan)")
    print("| run | median s | fastest s | x real time (median, fastest) | CPU s (median) |")
    print("|---|---|---|---|---|")
    med = {name: statistics.median(times) for name, times in walls.items()}
    low = {name: min(times) for name, times in walls.items()}
    cpu = {name: statistics.median(times) for name, times in cpus.items()}
    for name in commands:
        print(
            f"| {name} | {med[name]:.2f} | {low[name]:.2f} | "
            f"{length / med[name]:.1f}, {length / low[name]:.1f} | {cpu[name]:.1f} |"
        )
    target = 0.75 if length >= 200 else 0.9  # issue 17: 4-minute and 1-minute recordings
    for audit in [name for name in commands if name.startswith("auditor")]:
        for label, fig in (("median", med), ("fastest", low), ("CPU", cpu)):
            print(
                f"{audit} ({label}): / bare batched = {fig[audit] / fig['bare batched']:.2f} "
                f"(target <= {target}); bare sequential / audit = "
                f"{fig['bare sequential'] / fig[audit]:.2f}"
            )
    rec.unlink()


def batch(tmp: Path, files: int, seconds: float, rounds: int, workers: list[str]) -> None:
    """`auditor batch` over `files` recordings (the model loaded once per worker), once per
    --workers value, against the sum of one bare batched faster-whisper process per recording,
    alternating rounds. `auto` runs after a batch that kept its layout (the timing is once per
    machine), so its row is the layout it picked."""
    from auditor.models import resolve_model

    model = resolve_model("base").path
    folder = tmp / "batch"
    folder.mkdir()
    # Lengths differ by a second, so that each file is other content (a batch audits a file
    # whose content it has seen once).
    recs = [make_recording(seconds + i, folder / f"rec{i:02d}.m4a") for i in range(files)]
    total = sum(duration_of(r) for r in recs)

    def batch_cmd(db: Path, count: str) -> list[str]:
        command = [sys.executable, "-m", "auditor.cli", "batch", str(folder), "--db", str(db)]
        return [*command, "-q", "--workers", count]

    if "auto" in workers:  # time the layouts now, not inside a measured round
        subprocess.run(batch_cmd(tmp / "auto.db", "auto"), check=True, capture_output=True)
        (tmp / "auto.db").unlink()
    batch_walls: dict[str, list[float]] = {count: [] for count in workers}
    bare_walls: list[float] = []
    for round_ in range(rounds):
        for count in workers if round_ % 2 == 0 else workers[::-1]:
            db = tmp / f"batch-{round_}-{count}.db"
            batch_walls[count].append(measure(batch_cmd(db, count))[0])
            db.unlink()
        bare_walls.append(sum(measure(bare_cmd(r, "batched", model))[0] for r in recs))
    med_bare = statistics.median(bare_walls)
    print(
        f"\n## batch: {files} recordings of {seconds:.0f}-{seconds + files - 1:.0f} s "
        f"({total / 60:.1f} min in all), {rounds} alternating rounds, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print("| run | median s | fastest s |")
    print("|---|---|---|")
    for count, walls in batch_walls.items():
        median = statistics.median(walls)
        print(f"| `auditor batch --workers {count}` | {median:.1f} | {min(walls):.1f} |")
    print(
        f"| bare batched faster-whisper, one process per file (sum) | {med_bare:.1f} | "
        f"{min(bare_walls):.1f} |"
    )
    for count, walls in batch_walls.items():
        print(
            f"throughput, --workers {count}: sum of bare runs / batch = "
            f"{med_bare / statistics.median(walls):.2f} (target >= 1.5)"
        )
    for r in recs:
        r.unlink()


def memory(tmp: Path, minutes: list[float]) -> None:
    rows = []
    for m in minutes:
        rec = make_recording(m * 60, tmp / f"long-{m:g}.m4a")
        length = duration_of(rec)
        wall, _, peak = measure(audit_cmd(rec))
        rows.append((m, length, wall, peak))
        rec.unlink()
    print("\n## memory: peak RSS of `auditor audit` (one process per recording)")
    print("| recording | peak RSS MiB | wall s | x real time |")
    print("|---|---|---|---|")
    for _, length, wall, peak in rows:
        print(f"| {length / 60:.0f} min | {peak:.0f} | {wall:.0f} | {length / wall:.1f} |")
    if len(rows) > 1:
        growth = rows[-1][3] / rows[0][3] - 1
        print(
            f"\n{rows[-1][1] / 60:.0f}-min peak is {growth:+.1%} of the {rows[0][1] / 60:.0f}-min "
            "peak (target within 20%)"
        )


def quality(tmp: Path) -> None:
    from auditor import speech
    from auditor.asr import lexicon_hotwords
    from auditor.audit import Auditor
    from auditor.options import AuditOptions

    noises = [
        make_noise("silence", 300, tmp / "silence.wav"),
        make_noise("music", 120, tmp / "music.wav"),
    ]
    base = AuditOptions()
    lexicon_terms = [t for r in Auditor(base).lexicon.rules for t in r.terms]
    hot = lexicon_hotwords(lexicon_terms)
    configs = {
        "default": (base.asr, speech.SPEECH_PAD_MS),
        "+ hotwords (lexicon)": (replace(base.asr, hotwords=hot), speech.SPEECH_PAD_MS),
        "+ initial prompt": (replace(base.asr, initial_prompt=PROMPT), speech.SPEECH_PAD_MS),
        "guards off": (replace(base.asr, guards=False), speech.SPEECH_PAD_MS),
        "beam size 1": (replace(base.asr, beam_size=1), speech.SPEECH_PAD_MS),
        "VAD padding 400 ms (faster-whisper's)": (base.asr, 400),
    }
    table, real = labelled_speech()
    print("\n## quality: 24 shared clips (expected categories) and synthetic noise")
    print(
        f"hotwords: {len(hot)} characters of {len(lexicon_terms)} lexicon terms; prompt: {PROMPT}"
    )
    print(
        "| setting | recall | false findings | CER clips | CER real speech | noise segments "
        "| noise findings | s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, (asr, padding) in configs.items():
        speech.SPEECH_PAD_MS = padding
        auditor = Auditor(replace(base, asr=asr))
        started = time.perf_counter()
        score = score_speech(auditor, table, real)
        noise_segments = noise_findings = 0
        for noise in noises:
            result = auditor.audit(str(noise))
            noise_segments += len(result.transcript.segments)
            noise_findings += len(result.findings)
        took = time.perf_counter() - started
        print(
            f"| {name} | {score.found}/{score.expected} ({score.found / score.expected:.0%}) | "
            f"{score.false_clips} | {score.cer_clips:.3f} | {score.cer_real:.3f} | "
            f"{noise_segments} | {noise_findings} | {took:.0f} |"
        )
    speech.SPEECH_PAD_MS = configs["default"][1]


def decoding(tmp: Path) -> None:
    """Beam, greedy and adaptive decoding side by side: character error rate on the shared clips
    and the real recordings, claim recall and false findings on the clips, how much of the speech
    adaptive decoding decoded again, and the time each took (one process, the model loaded once
    per mode, modes in turn)."""
    from auditor import asr
    from auditor.audit import CLAIM_SURE, Auditor
    from auditor.options import DECODINGS, AuditOptions

    table, real = labelled_speech()
    print("\n## decoding: beam 5, greedy (beam 1), adaptive (greedy, beam 5 where doubtful)")
    print(
        f"adaptive thresholds: word probability < {asr.DOUBT_WORD_PROBABILITY}, compression "
        f"> {asr.DOUBT_COMPRESSION}, a claim with a word below "
        f"{CLAIM_SURE} or found by sound, a chunk with no "
        f"text; widened by {asr.REDO_CONTEXT} s"
    )
    print(
        "| decoding | CER clips | CER real speech | recall | false findings | decoded again | s |"
    )
    print("|---|---|---|---|---|---|---|")
    for mode in DECODINGS[::-1]:
        base = AuditOptions()
        auditor = Auditor(replace(base, asr=replace(base.asr, decoding=mode)))
        auditor.transcriber  # noqa: B018  (loaded before the clock starts)
        started = time.perf_counter()
        score = score_speech(auditor, table, real)
        took = time.perf_counter() - started
        t = auditor.transcriber
        again = t.redecoded_seconds / t.decoded_seconds if t.decoded_seconds else 0.0
        print(
            f"| {mode} | {score.cer_clips:.3f} | {score.cer_real:.3f} | "
            f"{score.found}/{score.expected} | {score.false_clips + score.false_real} | "
            f"{again:.0%} | {took:.0f} |"
        )


def costs(tmp: Path, seconds: float) -> None:
    """Where decoding time goes, stage by stage, on one thread (CPU time): features, encoder,
    greedy and beam search for beam sizes 2 to 5, and word alignment, on the 30 s chunks the
    auditor packs from a stream-like recording, two chunks a call as its workers take them; and
    the character error rate of each beam size on the labelled speech (each clip a chunk of its
    own). It bounds every greedy-first scheme: decoding greedily everywhere costs the encoder,
    greedy search and alignment, so no scheme that adds beam search anywhere can be cheaper."""
    import ctranslate2
    import numpy as np
    from faster_whisper import WhisperModel, decode_audio
    from faster_whisper.audio import pad_or_trim
    from faster_whisper.tokenizer import Tokenizer

    from auditor.asr import DOUBT_WORD_PROBABILITY, lay_out, to_simplified
    from auditor.models import resolve_model
    from auditor.speech import find_speech, pack

    model = WhisperModel(
        resolve_model("base").path, device="cpu", compute_type="int8", cpu_threads=1
    )
    tokenizer = Tokenizer(model.hf_tokenizer, True, task="transcribe", language="zh")
    prompt = model.get_prompt(tokenizer, [], without_timestamps=False)
    samples = decode_audio(str(make_recording(seconds, tmp / "costs.m4a")))
    chunks = [c for group in pack([find_speech(samples, 0.0)]) for c in group]

    def features(audio: Any) -> Any:
        return pad_or_trim(model.feature_extractor(audio))  # Whisper's 30 s window

    def generate(encoded: Any, prompts: list[list[int]], beam: int) -> list[list[int]]:
        results = model.model.generate(
            encoded, prompts, beam_size=beam, max_length=448, suppress_tokens=[-1]
        )
        return [r.sequences_ids[0] for r in results]

    def spoken(tokens: list[int]) -> list[int]:
        """The text tokens of a decoded sequence (no timestamps, no end of text)."""
        return [t for t in tokens if t < tokenizer.eot]

    def aligned(encoded: Any, sequences: list[list[int]]) -> Any:
        # align needs a token a sequence: a chunk heard as nothing gets one of no weight
        texts = [spoken(seq) or [0] for seq in sequences]
        return model.model.align(encoded, tokenizer.sot_sequence, texts, 1500)

    def text_of(tokens: list[int]) -> str:
        return to_simplified(tokenizer.decode(spoken(tokens)))

    def kept_encoder(encoded: Any, size: int) -> list[list[int]]:
        """Greedy, then beam 5 again from the first token heard with probability below
        asr.DOUBT_WORD_PROBABILITY, the greedy tokens before it forced as a prefix, on the
        encoder output already computed: the cheapest redo there is."""
        greedy = generate(encoded, [prompt] * size, 1)
        alignments = aligned(encoded, greedy)
        rows = np.asarray(encoded)
        out = []
        for i, sequence in enumerate(greedy):
            probabilities = iter(alignments[i].text_token_probs)
            doubt = next(
                (
                    at
                    for at, token in enumerate(sequence)
                    if token < tokenizer.eot and next(probabilities) < DOUBT_WORD_PROBABILITY
                ),
                None,
            )
            if doubt is None:
                out.append(sequence)
                continue
            one = ctranslate2.StorageView.from_array(np.ascontiguousarray(rows[i : i + 1]))
            out.extend(generate(one, [prompt + sequence[:doubt]], 5))
        return out

    searches: dict[str, Any] = {
        f"beam {b}": (lambda e, n, b=b: generate(e, [prompt] * n, b)) for b in (1, 2, 3, 4, 5)
    }
    searches["greedy, then beam 5 from the first unsure token (kept encoder output)"] = kept_encoder
    spent = {name: 0.0 for name in ("features", "encoder", "alignment", *searches)}
    tokens: dict[str, list[list[int]]] = {name: [] for name in searches}
    for at in range(0, len(chunks), 2):
        pair = [lay_out([c])[0] for c in chunks[at : at + 2]]
        started = time.process_time()
        mel = np.stack([features(audio) for audio in pair])
        spent["features"] += time.process_time() - started
        started = time.process_time()
        encoded = model.encode(mel)
        spent["encoder"] += time.process_time() - started
        for name, search in searches.items():
            started = time.process_time()
            tokens[name].extend(search(encoded, len(pair)))
            spent[name] += time.process_time() - started
        started = time.process_time()
        aligned(encoded, tokens["beam 5"][-len(pair) :])
        spent["alignment"] += time.process_time() - started
    fixed = spent["features"] + spent["encoder"] + spent["alignment"]
    beam5 = fixed + spent["beam 5"]
    reference = [text_of(t) for t in tokens["beam 5"]]
    table, real = labelled_speech()
    labelled = [(CLIPS / f"{row['id']}.wav", row["text"], "clips") for row in table]
    labelled += [(path, text, "real") for path, text in real]
    encoded_clips = [
        (model.encode(features(decode_audio(str(p)))[None]), t, k) for p, t, k in labelled
    ]
    print(
        f"\n## costs: {len(chunks)} chunks of {samples.shape[0] / RATE:.0f} s of stream-like "
        "speech, one thread, CPU seconds; share of a beam-5 decoding "
        "(features + encoder + search + alignment)"
    )
    for name in ("features", "encoder", "alignment"):
        print(f"- {name}: {spent[name]:.2f} s ({spent[name] / beam5:.0%})")
    print(
        "| search | s | whole decoding / beam 5 | text unlike beam 5 (CER) | CER clips | CER real |"
    )
    print("|---|---|---|---|---|---|")
    for name, search in searches.items():
        unlike = sum(
            edit_distance(_chars(b), _chars(text_of(t)))
            for b, t in zip(reference, tokens[name], strict=True)
        ) / max(1, sum(len(_chars(b)) for b in reference))
        errors = {"clips": 0, "real": 0}
        size = {"clips": 0, "real": 0}
        for encoded, text, kind in encoded_clips:
            heard = text_of(search(encoded, 1)[0])
            errors[kind] += edit_distance(_chars(text), _chars(heard))
            size[kind] += len(_chars(text))
        print(
            f"| {name} | {spent[name]:.2f} | {(fixed + spent[name]) / beam5:.2f} | "
            f"{unlike:.3f} | {errors['clips'] / size['clips']:.3f} | "
            f"{errors['real'] / size['real']:.3f} |"
        )
    print(
        "greedy everywhere is the floor of any greedy-first decoding: "
        f"{(fixed + spent['beam 1']) / beam5:.2f} of beam 5's decoding time"
    )


def labelled_speech() -> tuple[list[dict[str, str]], list[tuple[Path, str]]]:
    """The shared clips' labels (id, expect, text), and the real recordings with their text."""
    table = list(csv.DictReader((CLIPS / "sentences.tsv").open(encoding="utf-8"), delimiter="\t"))
    real = [
        (REAL / f"{line.split()[0]}.wav", "".join(line.split()[1:]))
        for line in (REAL / "text").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    return table, real


@dataclass
class SpeechScore:
    found: int  # expected categories found on the shared clips
    expected: int
    false_clips: int  # findings of a category the clip does not hold
    false_real: int  # findings on the real recordings (they hold no claim)
    cer_clips: float
    cer_real: float


def score_speech(
    auditor: Any, table: list[dict[str, str]], real: list[tuple[Path, str]]
) -> SpeechScore:
    """Claims found and character error rates of one Auditor over the clips and real speech."""
    expected = found = false = false_real = 0
    clip_errors = clip_chars = real_errors = real_chars = 0
    for row in table:
        want = set() if row["expect"] == "-" else set(row["expect"].split(","))
        result = auditor.audit(str(CLIPS / f"{row['id']}.wav"))
        got = {f.category for f in result.findings}
        expected += len(want)
        found += len(want & got)
        false += sum(1 for f in result.findings if f.category not in want)
        clip_errors += edit_distance(_chars(row["text"]), _chars(result.transcript.text))
        clip_chars += len(_chars(row["text"]))
    for path, reference in real:
        result = auditor.audit(str(path))
        false_real += len(result.findings)
        real_errors += edit_distance(_chars(reference), _chars(result.transcript.text))
        real_chars += len(_chars(reference))
    return SpeechScore(
        found, expected, false, false_real, clip_errors / clip_chars, real_errors / real_chars
    )


def _chars(text: str) -> str:
    """Characters that count for the character error rate: simplified, no punctuation or space."""
    from auditor.normalize import normalize

    return "".join(c for c in normalize(text).text if not c.isspace())


def edit_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        diagonal, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (ca != cb))
    return row[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="speed,decoding,costs,batch,memory,quality")
    parser.add_argument(
        "--seconds", default="60,240", help="speed recording lengths, comma-separated"
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--long-minutes", default="10,60")
    parser.add_argument("--batch-files", type=int, default=10)
    parser.add_argument("--batch-seconds", type=float, default=60.0, help="the first file's length")
    parser.add_argument(
        "--batch-workers", default="1", help="batch --workers values to compare, e.g. 1,2,auto"
    )
    args = parser.parse_args()
    os.chdir(ROOT)
    sections = set(args.only.split(","))
    with tempfile.TemporaryDirectory(prefix="auditor-bench-") as name:
        tmp = Path(name)
        if "speed" in sections:
            for seconds in args.seconds.split(","):
                speed(tmp, float(seconds), args.rounds)
        if "quality" in sections:
            quality(tmp)
        if "decoding" in sections:
            decoding(tmp)
        if "costs" in sections:
            costs(tmp, float(args.seconds.split(",")[-1]))
        if "batch" in sections:
            workers = args.batch_workers.split(",")
            batch(tmp, args.batch_files, args.batch_seconds, args.rounds, workers)
        if "memory" in sections:
            memory(tmp, [float(m) for m in args.long_minutes.split(",")])


if __name__ == "__main__":
    main()
