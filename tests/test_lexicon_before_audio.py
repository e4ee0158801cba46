"""A broken lexicon stops `audit` and `batch` before any audio is touched (issue 7).

Each error names the file, the line and the problem, on one line, and comes before the model is
loaded or a recording is opened: no transcription progress, no database created.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import DEMO, run_cli

RULE = '[[rule]]\nid = "superstition/x"\ncategory = "superstition"\nterms = ["风水宝物"]\n'
BROKEN = {
    # name: (text, line, problem)
    "malformed-toml": ('[[rule]]\nid = "superstition/x"\nterms = ["a", \n', 3, "invalid TOML"),
    "unknown-category": (
        '\n\n[[rule]]\nid = "magic.words/x"\ncategory = "magic.words"\nterms = ["咒语"]\n',
        3,
        "unknown category 'magic.words'",
    ),
    "invalid-pattern": (
        '[[rule]]\nid = "superstition/x"\ncategory = "superstition"\npatterns = ["(unclosed"]\n',
        1,
        "invalid pattern",
    ),
    "duplicate-rule-id": (RULE + "\n" + RULE, 6, "duplicate rule id"),
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_audit_with_a_broken_lexicon_stops_before_any_audio(kind: str, tmp_path: Path) -> None:
    text, line, problem = BROKEN[kind]
    lexicon = tmp_path / f"{kind}.toml"
    lexicon.write_text(text, encoding="utf-8")
    started = time.monotonic()
    # no -q: transcription progress would show on stderr if any audio were processed
    done = run_cli("audit", "--lexicon", str(lexicon), str(DEMO), "--format", "jsonl", timeout=60)
    elapsed = time.monotonic() - started
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"auditor: error: {lexicon}:")
    reported_line = int(lines[0].removeprefix(f"auditor: error: {lexicon}:").split(":")[0])
    if kind == "malformed-toml":
        assert reported_line >= line  # where the TOML parser gave up
    else:
        assert reported_line == line
    assert problem in lines[0]
    assert "transcribing" not in done.stderr and done.stdout == ""
    assert elapsed < 20, elapsed  # no model was loaded (a Python start is about a second)


def test_batch_with_a_broken_lexicon_stops_before_the_database(tmp_path: Path) -> None:
    text, line, problem = BROKEN["duplicate-rule-id"]
    lexicon = tmp_path / "dup.toml"
    lexicon.write_text(text, encoding="utf-8")
    db = tmp_path / "audits.db"
    done = run_cli("batch", str(DEMO), "--db", str(db), "--lexicon", str(lexicon), timeout=60)
    assert done.returncode == 2, done.stderr
    [only] = done.stderr.strip().splitlines()
    assert only.startswith(f"auditor: error: {lexicon}:{line}: ") and problem in only
    assert not db.exists()
