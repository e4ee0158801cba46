"""Reports people act on: the HTML report in a real headless browser, subtitles, evidence clips.

One real audit of the demo (with --clips) feeds every test here; the HTML report is rendered from
that audit's JSON document by the library's own renderer, and a second, short real audit (a file
named like an HTML injection) goes through the CLI's html path end to end.
"""

from __future__ import annotations

import base64
import gc
import itertools
import json
import os
import re
import shutil
import subprocess
import time
import tracemalloc
from dataclasses import replace
from pathlib import Path
from typing import Any

import av
import pytest

from auditor.clips import safe_part
from auditor.findings import Finding
from auditor.options import settings_key
from auditor.report_batch import write_batch_report
from auditor.report_html import media_url, render_html, script_json
from auditor.results import AuditResult, Clip
from auditor.store import Store, new_owner
from auditor.subtitles import render_srt, render_vtt
from auditor.transcript import Segment, Word
from tests.conftest import DATA, DEMO, ROOT, Page, run_cli

INJECTION_NAME = '"><img src=x onerror=alert(1)>.mp4'
PADDING = 2.0


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("reports")


@pytest.fixture(scope="session")
def audited(workdir: Path) -> dict[str, Any]:
    """The one real audit of the demo: JSON document with evidence clips."""
    out = workdir / "demo.json"
    done = run_cli(
        "audit",
        str(DEMO),
        "--format",
        "json",
        "-o",
        str(out),
        "--clips",
        str(workdir / "clips"),
        "--fail-on",
        "never",
        "-q",
    )
    assert done.returncode == 0, done.stderr
    doc: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    assert doc["findings"], "the demo must produce findings"
    return doc


@pytest.fixture(scope="session")
def demo_html(workdir: Path, audited: dict[str, Any]) -> Path:
    """The demo's HTML report, in a subfolder so media URLs have to climb out of it."""
    report = workdir / "site" / "demo.html"
    report.parent.mkdir()
    clips = [[Clip(f["clip"], 0.0, 0.0) for f in audited["findings"]]]
    text = render_html([AuditResult.from_dict(audited)], str(report), clips, PADDING)
    report.write_text(text, encoding="utf-8")
    return report


def visible_rows(page: Any) -> int:
    count: int = page.evaluate(
        "() => [...document.querySelectorAll('tr.finding')].filter(r => !r.hidden && "
        "r.getClientRects().length > 0).length"
    )
    return count


def test_report_loads_offline_without_console_errors(page: Page, demo_html: Path) -> None:
    page.open(demo_html)
    page.page.wait_for_timeout(300)
    assert page.errors == []
    # Nothing but the page itself and the local recording: no CDN, font or script from anywhere.
    assert all(url.startswith("file://") for url in page.requests), page.requests
    html = demo_html.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)


def test_findings_shown_equal_the_json(
    page: Page, demo_html: Path, audited: dict[str, Any]
) -> None:
    p = page.open(demo_html)
    expected = len(audited["findings"])
    assert visible_rows(p) == expected
    assert p.locator("svg.timeline g.marker").count() == expected
    assert p.locator(".summary .big").inner_text() == str(expected)
    high = sum(f["severity"] == "high" for f in audited["findings"])
    assert p.locator(".summary .badge.sev-high").inner_text() == f"{high} high"
    # The audit trail names the exact file, model and rules.
    trail = p.locator("dl.trail").text_content() or ""  # inside a closed <details>
    for value in (
        audited["source"]["sha256"],
        audited["model"]["sha256"],
        audited["lexicon"]["version"],
        audited["run"]["started"],
        audited["run"]["finished"],
    ):
        assert value in trail
    assert f"{audited['source']['size']:,} bytes" in trail


def test_the_recording_is_linked_relative_to_the_report(demo_html: Path) -> None:
    html = demo_html.read_text(encoding="utf-8")
    expected = os.path.relpath(DEMO, demo_html.parent).replace(os.sep, "/")
    assert f'src="{expected}"' in html
    assert not expected.startswith("/")


def test_clicking_a_finding_plays_the_recording_at_its_time(
    page: Page, demo_html: Path, audited: dict[str, Any]
) -> None:
    p = page.open(demo_html)
    index = len(audited["findings"]) // 2
    start = audited["findings"][index]["start"]
    p.locator(f"#f-0-{index} button.seek").click()
    page.wait_playing(start - 0.6)
    state = page.media_state()
    assert not state["paused"] and state["error"] is None
    assert start - 0.6 <= state["t"] <= start + 1.5, state
    assert state["src"].split("#")[0] == DEMO.resolve().as_uri()
    assert page.errors == []


def test_clicking_clip_plays_the_evidence_clip(
    page: Page, demo_html: Path, audited: dict[str, Any]
) -> None:
    p = page.open(demo_html)
    clip = Path(audited["findings"][0]["clip"])
    p.locator("#f-0-0 button.play-clip").click()
    p.wait_for_function(
        "() => { const m = document.querySelector('.player'); "
        "return !m.paused && m.currentTime > 0.3; }",
        timeout=10_000,
    )
    state = page.media_state()
    assert state["src"].split("#")[0] == (ROOT / clip).resolve().as_uri()
    assert page.errors == []


def test_filters_hide_and_show_rows(page: Page, demo_html: Path, audited: dict[str, Any]) -> None:
    p = page.open(demo_html)
    findings = audited["findings"]
    total = len(findings)
    severity = findings[0]["severity"]
    p.locator(f'input.f-sev[value="{severity}"]').uncheck()
    remaining = sum(f["severity"] != severity for f in findings)
    assert visible_rows(p) == remaining
    assert p.locator("svg g.marker.off").count() == total - remaining
    assert p.locator(".filters .shown").inner_text() == str(remaining)
    p.locator(f'input.f-sev[value="{severity}"]').check()
    assert visible_rows(p) == total
    category = findings[-1]["category"]
    p.locator(f'input.f-cat[value="{category}"]').uncheck()
    assert visible_rows(p) == sum(f["category"] != category for f in findings)
    p.locator(f'input.f-cat[value="{category}"]').check()
    assert visible_rows(p) == total
    assert page.errors == []


def test_a_screen_finding_shows_its_picture_and_plays_at_its_time(
    page: Page, demo_html: Path, audited: dict[str, Any]
) -> None:
    findings = audited["findings"]
    shown = [i for i, f in enumerate(findings) if f["channel"] == "screen"]
    assert shown, "the demo shows a claim on screen"
    index = shown[0]
    p = page.open(demo_html)
    shot = p.locator(f"#f-0-{index} img.shot")
    src = shot.get_attribute("src") or ""
    assert src.startswith("data:image/jpeg;base64,")
    assert base64.b64decode(src.split(",", 1)[1])[:2] == b"\xff\xd8"  # a JPEG, inside the page
    size = p.evaluate(
        f"() => {{ const i = document.querySelector('#f-0-{index} img.shot'); "
        "return [i.naturalWidth, i.naturalHeight]; }"
    )
    _, _, w, h = findings[index]["box"]
    expected = (w + 0.7 * h) / (1.7 * h)  # the text's place, with a margin of 0.35 lines around
    assert size[0] > 0 and abs(size[0] / size[1] / expected - 1) < 0.2, (size, w, h)
    assert p.locator("img.shot").count() == len(shown)
    assert p.locator('svg.timeline g.marker[data-channel="screen"]').count() == len(shown)
    start = findings[index]["start"]
    shot.click()
    page.wait_playing(start - 0.6)
    state = page.media_state()
    assert start - 0.6 <= state["t"] <= start + 1.5, state
    assert state["src"].split("#")[0] == DEMO.resolve().as_uri()
    p.locator('input.f-chan[value="screen"]').uncheck()
    assert visible_rows(p) == len(findings) - len(shown)
    assert p.locator("svg g.marker.off").count() == len(shown)
    assert page.errors == []


def test_screenshot_of_the_report(
    page: Page, demo_html: Path, workdir: Path, audited: dict[str, Any]
) -> None:
    p = page.open(demo_html)
    p.locator("#f-0-2 button.seek").click()
    p.wait_for_timeout(800)
    p.evaluate("() => document.querySelector('.player').pause()")
    p.evaluate("() => window.scrollTo(0, 0)")
    shot = workdir / "report-screenshot.png"
    p.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000
    out = ROOT / "out"
    out.mkdir(exist_ok=True)
    shutil.copyfile(shot, out / "report-screenshot.png")


def _injected(result: AuditResult, media: Path) -> AuditResult:
    """The demo's result with a transcript and finding that carry markup."""
    evil = "</script><script>window.pwned=1;alert(2)</script><b>bold</b>"
    seg = result.transcript.segments[0]
    words = (Word(seg.start, seg.end, evil, 0.9),)
    segments = (Segment(seg.start, seg.end, evil, words), *result.transcript.segments[1:])
    first = replace(
        result.findings[0],
        category='x"><img src=x onerror=alert(3)>',
        context=evil + "\u2028" + "全网第一",
        matched="<script>",
        legal_basis="<iframe src=javascript:alert(4)>",
    )
    return replace(
        result,
        transcript=replace(result.transcript, segments=segments),
        findings=(first, *result.findings[1:]),
        source=replace(result.source, path=str(media)),
    )


def test_markup_in_a_transcript_renders_as_text(
    page: Page, workdir: Path, audited: dict[str, Any]
) -> None:
    media = workdir / "<svg onload=alert(5)>.mp4"
    shutil.copyfile(DEMO, media)
    result = _injected(AuditResult.from_dict(audited), media)
    report = workdir / "injected.html"
    report.write_text(render_html([result], str(report)), encoding="utf-8")
    p = page.open(report)
    p.wait_for_timeout(300)
    assert page.dialogs == []
    assert p.evaluate("() => window.pwned") is None
    # The report's own <b> marks the words of each rule part (why), its own <img> is a screen
    # finding's picture; the transcript's markup is text.
    assert p.locator("img:not(.shot), iframe, b:not(span.part > b)").count() == 0
    assert p.locator("script").count() == 2  # the data block and the report's own script
    assert "window.pwned=1" in p.locator("ol.transcript").inner_text()
    assert "<iframe src=javascript:alert(4)>" in p.locator("table.findings").inner_text()
    assert "<svg onload=alert(5)>.mp4" in p.locator("h2.source-name").inner_text()
    data = json.loads(p.locator("#auditor-data").text_content() or "")
    assert data["recordings"][0]["findings"][0]["category"] == result.findings[0].category
    assert visible_rows(p) == len(result.findings)
    assert page.errors == []


def test_injection_file_name_through_the_cli(page: Page, workdir: Path, ffmpeg_bin: str) -> None:
    """A real audit of a file named like markup (audio only, with two claims), html + clips."""
    folder = workdir / "inject"
    folder.mkdir()
    media = folder / INJECTION_NAME
    subprocess.run(
        [
            ffmpeg_bin,
            "-nostdin",
            "-loglevel",
            "error",
            "-ss",
            "11.5",
            "-t",
            "8.5",
            "-i",
            f"file:{DEMO}",
            "-vn",
            "-c:a",
            "aac",
            f"file:{media}",
        ],
        check=True,
    )
    done = run_cli(
        "audit",
        INJECTION_NAME,
        "--format",
        "html",
        "-o",
        "report.html",
        "--clips",
        "clips",
        "--clip-padding",
        "1",
        "--fail-on",
        "never",
        "-q",
        cwd=folder,
    )
    assert done.returncode == 0, done.stderr
    clips = sorted((folder / "clips").iterdir())
    assert clips and all(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*\.m4a", c.name) for c in clips)
    p = page.open(folder / "report.html")
    assert page.dialogs == []
    assert p.locator("img").count() == 0
    assert p.locator("h2.source-name").inner_text() == INJECTION_NAME
    assert p.locator("audio.player").count() == 1  # audio-only source, audio player
    rows = visible_rows(p)
    assert rows == len(clips) > 0
    p.locator("#f-0-0 button.seek").click()
    p.wait_for_function(
        "() => { const m = document.querySelector('.player'); return !m.paused; }",
        timeout=10_000,
    )
    state = page.media_state()
    assert state["src"].split("#")[0] == media.resolve().as_uri()
    assert page.errors == []


def _cues(text: str, vtt: bool) -> list[tuple[float, float, str]]:
    sep = r"\." if vtt else ","
    stamp = rf"(\d\d):(\d\d):(\d\d){sep}(\d\d\d)"
    cues = []
    for block in re.split(r"\n\n+", text.strip()):
        lines = block.splitlines()
        timing = next((i for i, line in enumerate(lines) if "-->" in line), None)
        if timing is None:
            continue
        m = re.fullmatch(rf"{stamp} --> {stamp}(?: line:0)?", lines[timing])
        assert m, lines[timing]
        v = [int(x) for x in m.groups()]
        start = v[0] * 3600 + v[1] * 60 + v[2] + v[3] / 1000
        end = v[4] * 3600 + v[5] * 60 + v[6] + v[7] / 1000
        cues.append((start, end, "\n".join(lines[timing + 1 :])))
    return cues


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_subtitles_are_ordered_non_overlapping_and_flag_findings(
    fmt: str, audited: dict[str, Any]
) -> None:
    result = AuditResult.from_dict(audited)
    text = render_vtt(result) if fmt == "vtt" else render_srt(result)
    if fmt == "vtt":
        assert text.startswith("WEBVTT\n")
        assert audited["source"]["sha256"] in text  # the audit trail, in a NOTE block
    every = _cues(text, fmt == "vtt")
    cues = [c for c in every if "] on screen: " not in c[2]]
    shown_cues = [c for c in every if "] on screen: " in c[2]]
    said = [f for f in audited["findings"] if f["channel"] == "speech"]
    shown = [f for f in audited["findings"] if f["channel"] == "screen"]
    assert shown, "the demo shows a claim on screen"
    assert [(round(c[0], 2), round(c[1], 2)) for c in shown_cues] == [
        (f["start"], f["end"]) for f in shown
    ]
    assert [c[0] for c in every] == sorted(c[0] for c in every)
    assert len(cues) == len(audited["transcript"]["segments"])
    for (s1, e1, _), (s2, _, _) in itertools.pairwise(cues):
        assert s1 < e1 <= s2
    for f in said:
        holding = [c for c in cues if c[0] <= f["start"] < c[1] or c[0] < f["end"] <= c[1]]
        assert any(f"[{f['category']}" in c[2] or f", {f['category']}" in c[2] for c in holding)
    segments = audited["transcript"]["segments"]
    flagged_segments = {
        seg["start"]
        for f in said
        for seg in segments
        if seg["start"] < f["end"] and f["start"] < seg["end"]
    }
    assert sum(c[2].startswith("⚠ [") for c in cues) == len(flagged_segments)


def test_vtt_loads_as_a_text_track_in_the_browser(
    page: Page, workdir: Path, audited: dict[str, Any]
) -> None:
    """Chromium's own WebVTT parser reads every cue."""
    result = AuditResult.from_dict(audited)
    vtt = base64.b64encode(render_vtt(result).encode("utf-8")).decode("ascii")
    holder = workdir / "track.html"
    # A file: page may not fetch another file as a track (unique origins); a data: URL is inline.
    holder.write_text(
        f'<video src="{media_url(str(DEMO), str(holder))}"><track default kind="subtitles" '
        f'src="data:text/vtt;base64,{vtt}" srclang="zh"></video>',
        encoding="utf-8",
    )
    p = page.open(holder)
    p.wait_for_function(
        "() => { const t = document.querySelector('track'); return t.readyState === 2; }",
        timeout=10_000,
    )
    count = p.evaluate("() => document.querySelector('video').textTracks[0].cues.length")
    shown = sum(f["channel"] == "screen" for f in audited["findings"])
    assert count == len(audited["transcript"]["segments"]) + shown


def test_clips_have_the_expected_durations_and_streams(audited: dict[str, Any]) -> None:
    duration = audited["source"]["duration"]
    for f in audited["findings"]:
        path = ROOT / f["clip"] if not os.path.isabs(f["clip"]) else Path(f["clip"])
        assert re.fullmatch(r"demo-\d\d-\d\dm\d\ds-[a-z._]+\.mp4", path.name), path.name
        end = min(f["end"], f["start"] + 10.0) if f["channel"] == "screen" else f["end"]
        expected = min(end + PADDING, duration) - max(f["start"] - PADDING, 0.0)
        with av.open(str(path)) as container:
            audio = container.streams.audio[0]
            assert container.streams.video, "the demo has video, so its clips do"
            assert audio.duration is not None and audio.time_base is not None
            measured = float(audio.duration * audio.time_base)
            assert abs(measured - expected) < 0.1, (path.name, measured, expected)
            assert container.duration is not None
            assert abs(container.duration / 1e6 - expected) < 0.25


def test_clip_names_are_safe() -> None:
    assert safe_part('"><img src=x onerror=alert(1)>') == "img_src_x_onerror_alert_1"
    assert safe_part("-rf ../..") == "rf"
    assert safe_part("直播") == "x"


def test_script_json_cannot_end_the_script_block() -> None:
    text = script_json({"a": "</script><!-- & \u2028\u2029"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert "\u2028" not in text and "\u2029" not in text
    assert json.loads(text) == {"a": "</script><!-- & \u2028\u2029"}


def test_media_url_escapes_what_would_end_a_path(tmp_path: Path) -> None:
    report = tmp_path / "r" / "report.html"
    assert media_url(str(tmp_path / "a #1?.mp4"), str(report)) == "../a%20%231%3F.mp4"
    assert media_url(str(tmp_path / "r" / "c:d.mp4"), str(report)) == "c%3Ad.mp4"


# -- batch reports: `auditor report --db` ------------------------------------------------------

BATCH_SETTINGS = {"model": "base", "language": "zh", "beam_size": 5, "audio_stream": 0}
BATCH_KEY = settings_key(BATCH_SETTINGS)


def _findings(doc: dict[str, Any]) -> list[Finding]:
    return list(AuditResult.from_dict(doc).findings)


def _add(store: Store, doc: dict[str, Any], path: str, sha: str, findings: list[Finding]) -> None:
    owner = new_owner()
    store.record_path(path, sha, doc["source"]["size"], 0, 0)
    _, row = store.claim(sha, BATCH_KEY, BATCH_SETTINGS, path, owner)
    result = AuditResult.from_dict(doc)
    result = replace(
        result,
        source=replace(result.source, path=path, sha256=sha),
        findings=tuple(replace(f, source=path) for f in findings),
        lexicon_version="v1",
    )
    assert store.finish(row.id, owner, result)


def _fill(db: Path, doc: dict[str, Any], media: Path) -> None:
    with Store(db) as store:
        _add(store, doc, str(DEMO), "a" * 64, _findings(doc))
        _add(store, doc, str(media), "b" * 64, _findings(doc)[:1])
        _add(store, doc, "/archive/clean.mp4", "c" * 64, [])
        owner = new_owner()
        store.record_path("/archive/broken.flv", "d" * 64, 10, 0, 0)
        _, row = store.claim("d" * 64, BATCH_KEY, BATCH_SETTINGS, "/archive/broken.flv", owner)
        store.fail(row.id, owner, "not a media file or truncated <b>x</b>")


@pytest.fixture(scope="module")
def batch_site(workdir: Path, audited: dict[str, Any]) -> Path:
    folder = workdir / "batch"
    folder.mkdir()
    media = folder / '"><img src=x onerror=alert(1)>.mp4'
    shutil.copyfile(DEMO, media)
    db = folder / "audits.sqlite"
    _fill(db, audited, media)
    done = run_cli("report", "--db", str(db), "-o", str(folder / "site"))
    assert done.returncode == 0, done.stderr
    assert "4 recordings, 3 pages" in done.stderr
    return folder / "site"


def test_index_ranks_recordings_by_findings_with_status(
    page: Page,
    batch_site: Path,
    audited: dict[str, Any],
) -> None:
    p = page.open(batch_site / "index.html")
    rows = p.locator("table.index tbody tr")
    assert rows.count() == 4
    first = rows.nth(0).locator("td").all_inner_texts()
    assert first[1] == str(DEMO)
    high = sum(f["severity"] == "high" for f in audited["findings"])
    assert first[3] == str(high) and first[6] == str(len(audited["findings"]))
    statuses = [rows.nth(i).locator("td").nth(2).inner_text().split("\n")[0] for i in range(4)]
    assert sorted(statuses) == ["done", "done", "done", "failed"]
    assert "not a media file or truncated <b>x</b>" in p.locator("table.index").inner_text()
    assert p.locator("img, b").count() == 0
    assert p.locator("table.index a").count() == 3  # a page per done recording
    assert page.errors == [] and page.dialogs == []
    assert all(url.startswith("file://") for url in page.requests)


def test_recording_page_plays_and_links_back(
    page: Page,
    batch_site: Path,
    audited: dict[str, Any],
) -> None:
    p = page.open(batch_site / "index.html")
    p.locator("table.index a").first.click()
    p.wait_for_load_state("load")
    assert visible_rows(p) == len(audited["findings"])
    trail = p.locator("dl.trail").text_content() or ""
    assert "a" * 64 in trail and "v1" in trail and "beam_size: 5" in trail
    start = audited["findings"][0]["start"]
    p.locator("#f-0-0 button.seek").click()
    page.wait_playing(start - 0.6)
    assert page.errors == []
    p.locator("nav a").click()
    p.wait_for_load_state("load")
    assert p.locator("table.index").count() == 1


def test_markup_file_name_page_renders_as_text(page: Page, batch_site: Path) -> None:
    pages = sorted((batch_site / "recordings").iterdir())
    assert all(re.fullmatch(r"\d{6}-[A-Za-z0-9_.-]+\.html", f.name) for f in pages), pages
    injected = next(f for f in pages if "img_src" in f.name)
    p = page.open(injected)
    assert p.locator("img:not(.shot)").count() == 0 and page.dialogs == []
    assert p.locator("h2.source-name").inner_text().endswith('"><img src=x onerror=alert(1)>.mp4')
    assert page.errors == []


def test_many_recordings_are_written_one_at_a_time(
    tmp_path: Path,
    audited: dict[str, Any],
) -> None:
    """Peak Python memory stays far below the pages' size: they are streamed, not held."""
    db = tmp_path / "many.sqlite"
    findings = _findings(audited)
    with Store(db) as store:
        for i in range(300):
            _add(store, audited, f"/archive/{i:05d}.mp4", f"{i:064x}", findings)
    gc.collect()
    tracemalloc.start()
    began = time.perf_counter()
    done = write_batch_report(str(db), str(tmp_path / "site300"))
    elapsed = time.perf_counter() - began
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert done.recordings == done.pages == 300
    written = sum(f.stat().st_size for f in (tmp_path / "site300").rglob("*.html"))
    print(
        f"300 recordings: {elapsed:.1f} s, {written / 1e6:.1f} MB written, peak {peak / 1e6:.2f} MB"
    )
    # Holding the pages would need `written` bytes (more as str); streaming needs about one page.
    assert peak < written / 5, (peak, written)
    index = (tmp_path / "site300" / "index.html").read_text(encoding="utf-8")
    assert index.count("<tr class=") == 300
    page_doc = json.loads(
        re.search(
            r'<script type="application/json" id="auditor-data">(.*?)</script>',
            (tmp_path / "site300" / "recordings" / "000300-00299.html").read_text("utf-8"),
        ).group(1)  # type: ignore[union-attr]
    )
    assert len(page_doc["recordings"][0]["findings"]) == len(findings)


def test_bad_clips_folder_fails_before_transcribing(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    began = time.perf_counter()
    done = run_cli("audit", str(DEMO), "--clips", str(blocker / "clips"), "-q")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "cannot create the clips folder" in done.stderr
    assert str(blocker / "clips") in done.stderr
    assert time.perf_counter() - began < 20  # no model was loaded, nothing transcribed


def test_several_recordings_in_one_report_play_and_filter_separately(
    page: Page, workdir: Path, audited: dict[str, Any]
) -> None:
    result = AuditResult.from_dict(audited)
    report = workdir / "two.html"
    report.write_text(render_html([result, result], str(report)), encoding="utf-8")
    p = page.open(report)
    n = len(result.findings)
    assert visible_rows(p) == 2 * n
    severity = result.findings[0].severity
    p.locator(f'#filters-1 input.f-sev[value="{severity}"]').uncheck()
    assert visible_rows(p) == 2 * n - sum(f.severity == severity for f in result.findings)
    shown = next(i for i, f in enumerate(result.findings) if f.severity != severity)
    p.locator(f"#f-1-{shown} button.seek").click()
    p.wait_for_function("() => !document.getElementById('player-1').paused", timeout=10_000)
    assert p.evaluate("() => document.getElementById('player-0').paused")
    assert page.errors == []


def test_subtitles_through_the_cli(tmp_path: Path) -> None:
    clip = sorted((DATA / "clips").glob("*.wav"))[0]
    out = tmp_path / "clip.vtt"
    done = run_cli("audit", str(clip), "--format", "vtt", "-o", str(out), "-q")
    assert done.returncode == 0, done.stderr
    cues = _cues(out.read_text(encoding="utf-8"), vtt=True)
    assert cues and all(s < e for s, e, _ in cues)
    both = run_cli("audit", str(clip), str(clip), "--format", "srt", "-q")
    assert both.returncode == 2 and "--format srt takes one recording" in both.stderr


def test_report_of_a_missing_or_foreign_database_is_one_line(tmp_path: Path) -> None:
    missing = run_cli("report", "--db", str(tmp_path / "none.sqlite"), "-o", str(tmp_path / "s"))
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
    assert "none.sqlite: no such database" in missing.stderr
    foreign = tmp_path / "notes.txt"
    foreign.write_text("not sqlite at all " * 100)
    bad = run_cli("report", "--db", str(foreign), "-o", str(tmp_path / "s"))
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1, bad.stderr
    assert "notes.txt: not a batch database" in bad.stderr


def test_undecodable_file_name_shows_its_bytes_and_plays(
    page: Page, workdir: Path, audited: dict[str, Any]
) -> None:
    raw = os.fsencode(workdir) + b"/live-\xff\xfe.mp4"
    shutil.copyfile(DEMO, raw)
    name = os.fsdecode(raw)  # what a user's shell hands over: the bytes as surrogates
    base = AuditResult.from_dict(audited)
    result = replace(base, source=replace(base.source, path=name))
    report = workdir / "undecodable.html"
    report.write_text(render_html([result], str(report)), encoding="utf-8")
    assert "live-\\xff\\xfe.mp4" in render_vtt(result)
    p = page.open(report)
    assert p.locator("h2.source-name").inner_text().endswith("live-\\xff\\xfe.mp4")
    p.locator("#f-0-0 button.seek").click()
    p.wait_for_function("() => !document.querySelector('.player').paused", timeout=10_000)
    assert page.errors == []
