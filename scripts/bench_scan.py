"""Scanning speed: characters per second for `scan-text` on a large transcript.

    python scripts/bench_scan.py [--chars 5000000] [--claim-share 0.1]

Builds a transcript by drawing utterances at random from the labelled sets: a broadcast's mix,
mostly clean talk (--claim-share of the lines are claims). Then times (1) the library scan of the
whole text in one process, best of 3; (2) the same in blocks of whole lines, one forked process
per core (`scan_blocks`, as `scan-text` runs), best of 3; and (3) the `auditor scan-text` command
end to end, start-up included.
One hour of speech is about 15,000 characters; the target is 2 million characters per second.
"""

from __future__ import annotations

import argparse
import io
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from auditor.asr import usable_cpus  # noqa: E402
from auditor.detect import line_blocks, scan_blocks, scan_lines  # noqa: E402
from auditor.lexicon import load_lexicon  # noqa: E402
from auditor.scan import Scanner  # noqa: E402

HOUR_OF_SPEECH = 15_000  # characters


def build_text(chars: int, claim_share: float = 0.1, seed: int = 7) -> str:
    clean: list[str] = []
    claims: list[str] = []
    for name in ("devset.tsv", "heldout.tsv"):
        path = ROOT / "tests" / "data" / name
        for row in path.read_text(encoding="utf-8").splitlines()[1:]:
            _, expect, text = row.split("\t")
            (clean if expect == "-" else claims).append(text)
    rng = random.Random(seed)
    out: list[str] = []
    total = 0
    while total < chars:
        line = rng.choice(claims if rng.random() < claim_share else clean)
        out.append(line)
        total += len(line) + 1
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, default=5_000_000)
    parser.add_argument(
        "--claim-share",
        type=float,
        default=0.1,
        help="share of lines that are claims (the labelled sets hold about 0.45)",
    )
    args = parser.parse_args()
    text = build_text(args.chars, args.claim_share)
    scanner = Scanner(load_lexicon())
    scan_lines(scanner, text[:20_000])  # load tables, jieba and the automata once
    best = float("inf")
    findings = 0
    for _ in range(3):
        started = time.perf_counter()
        findings = len(scan_lines(scanner, text))
        best = min(best, time.perf_counter() - started)
    # The same text in blocks of whole lines, as scan-text reads them, one forked process per
    # core.
    jobs = usable_cpus()
    best_all = float("inf")
    for _ in range(3):
        blocks = line_blocks(io.StringIO(text))
        started = time.perf_counter()
        in_blocks = sum(len(b) for b in scan_blocks(scanner, blocks, jobs))
        best_all = min(best_all, time.perf_counter() - started)
    if in_blocks != findings:
        raise SystemExit(f"{jobs} processes found {in_blocks} claims, one found {findings}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "transcript.txt"
        path.write_text(text, encoding="utf-8")
        started = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "auditor.cli",
                "scan-text",
                str(path),
                "--format",
                "jsonl",
                "--fail-on",
                "never",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        cli_seconds = time.perf_counter() - started
    print(f"{'measure':<44} {'value':>14}")
    print(f"{'share of lines that are claims':<44} {args.claim_share:>14.2f}")
    print(f"{'characters scanned':<44} {len(text):>14,}")
    print(f"{'hours of speech (15,000 chars/hour)':<44} {len(text) / HOUR_OF_SPEECH:>14,.0f}")
    print(f"{'findings':<44} {findings:>14,}")
    print(f"{'library scan, one process, best of 3 (chars/s)':<44} {len(text) / best:>14,.0f}")
    label = f"library scan, {jobs} processes, best of 3 (chars/s)"
    print(f"{label:<44} {len(text) / best_all:>14,.0f}")
    print(f"{'auditor scan-text end to end (chars/s)':<44} {len(text) / cli_seconds:>14,.0f}")
    print(
        f"{'seconds per 1,000 hours of speech (library)':<44} "
        f"{best * 1000 * HOUR_OF_SPEECH / len(text):>14,.2f}"
    )


if __name__ == "__main__":
    main()
