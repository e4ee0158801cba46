"""Finding media files for a batch: extensions, manifests, symlink loops, unreadable folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from auditor.batch import discover
from auditor.errors import InputError


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_extensions_recursion_and_named_files(tmp_path: Path) -> None:
    a = _touch(tmp_path / "a" / "one.MP4")
    b = _touch(tmp_path / "a" / "b" / "two.flv")
    _touch(tmp_path / "a" / "notes.txt")
    named = _touch(tmp_path / "odd.bin")
    found = discover([str(tmp_path / "a"), str(named)])
    assert found.files == (str(a), str(b), str(named))  # a named file is taken as it is
    only_flv = discover([str(tmp_path / "a")], extensions=["flv"])
    assert only_flv.files == (str(b),)


def test_symlink_loops_are_noted_not_followed_forever(tmp_path: Path) -> None:
    clip = _touch(tmp_path / "a" / "one.mp4")
    (tmp_path / "a" / "loop").symlink_to("..")
    (tmp_path / "a" / "self").symlink_to(".")
    found = discover([str(tmp_path)])
    assert found.files == (str(clip),)
    assert not found.problems
    assert any("symlink loop" in note for note in found.notes)


def test_a_manifest_with_comments_and_missing_entries(tmp_path: Path) -> None:
    clip = _touch(tmp_path / "x.mp4")
    manifest = tmp_path / "list.txt"
    manifest.write_text(f"# nightly\n\n{clip}\n{tmp_path / 'gone.mp4'}\n", encoding="utf-8")
    found = discover([], from_list=str(manifest))
    assert found.files == (str(clip),)
    assert [p for p in found.problems if "gone.mp4" in p]
    with pytest.raises(InputError, match="cannot read the list"):
        discover([], from_list=str(tmp_path / "no-list.txt"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every folder")
def test_an_unreadable_folder_is_reported_and_the_rest_found(tmp_path: Path) -> None:
    clip = _touch(tmp_path / "ok" / "one.mp4")
    closed = tmp_path / "closed"
    _touch(closed / "two.mp4")
    closed.chmod(0)
    try:
        found = discover([str(tmp_path)])
    finally:
        closed.chmod(0o755)
    assert found.files == (str(clip),)
    assert [p for p in found.problems if "closed" in p]
