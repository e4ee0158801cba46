"""Batch audits of an archive: discovery, content identity, claims, workers, one writer.

The driver (the process that calls `run_batch`) finds the files, hashes them, claims each piece of
content in the database, hands the claimed files to an executor and writes every result itself:
the database has a single writer. Executors:

- `LocalExecutor`: N worker processes (spawned), each loading the model once and holding up to
  two files, so it never waits for the driver. Within a file, `Auditor.audit` decodes the next
  window of audio while it transcribes the current one.
- `RayExecutor`: the same per-file task (`audit_task`) as Ray remote tasks, on a local Ray
  instance or a cluster; each Ray worker process keeps its loaded model between tasks.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import multiprocessing
import os
import queue
import stat
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from auditor.asr import pick_compute_type, pick_device, usable_cpus
from auditor.audit import Auditor
from auditor.decisions import Decision
from auditor.detect import scan_recording
from auditor.errors import AuditorError, InputError, MediaToolError, ModelError
from auditor.files import printable, sha256_file
from auditor.findings import Finding
from auditor.layout import (
    ROUNDS,
    Layout,
    LayoutChoice,
    Trial,
    available_memory,
    candidates,
    cut_sample,
    load_choice,
    machine_key,
    pick,
    save_choice,
    silence,
)
from auditor.lexicon import Lexicon
from auditor.models import resolve_model
from auditor.options import AUTO_WORKERS, AuditOptions, settings_key
from auditor.results import AuditResult, ResolvedModel
from auditor.scan import Scanner
from auditor.screentext import ScreenText
from auditor.store import Claim, Store, new_owner
from auditor.times import utc_now
from auditor.transcript import Transcript
from auditor.verify import apply_checks, needs_check

log = logging.getLogger("auditor")

DEFAULT_EXTENSIONS = (
    "mp4",
    "flv",
    "mkv",
    "mov",
    "ts",
    "m4v",
    "webm",
    "avi",
    "wmv",
    "m4a",
    "mp3",
    "aac",
    "wav",
    "ogg",
    "opus",
    "flac",
)
_WORKER_DEPTH = 2  # files a local worker holds, and audits at once
# What the recogniser computes moves with the OpenMP and OpenBLAS thread defaults that a process
# starts with (numpy's feature extraction and CTranslate2 read them once, when they load): under
# OMP_NUM_THREADS=1, which Ray sets for a one-CPU task, word times move by tens of milliseconds and
# confidences by up to 0.08 against 2 or more. Ray tasks start with 2, as a process does on a
# machine with two or more cores when the variable is not set (README "Reproducibility").
RAY_OPENMP_THREADS = "2"


# -- discovery ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Discovery:
    files: tuple[str, ...]
    problems: tuple[str, ...]  # something that should have been audited could not be read
    notes: tuple[str, ...]  # skipped on purpose (symlink loops), nothing lost


def _wanted(name: str, extensions: frozenset[str]) -> bool:
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return suffix in extensions


def discover(
    paths: Iterable[str],
    extensions: Sequence[str] = DEFAULT_EXTENSIONS,
    from_list: str | None = None,
) -> Discovery:
    """Media files under `paths` (recursive) and in a manifest. Named files are always taken."""
    wanted = frozenset(e.lower().lstrip(".") for e in extensions)
    roots = list(paths)
    problems: list[str] = []
    notes: list[str] = []
    if from_list is not None:
        try:
            with open(from_list, encoding="utf-8", errors="surrogateescape") as handle:
                for line in handle:
                    entry = line.rstrip("\r\n")
                    if entry.strip() and not entry.lstrip().startswith("#"):
                        roots.append(entry)
        except OSError as exc:
            raise InputError(from_list, f"cannot read the list: {exc.strerror or exc}") from exc
    found: list[str] = []
    seen_files: set[str] = set()
    seen_dirs: set[tuple[int, int]] = set()

    def add(path: str) -> None:
        if path not in seen_files:
            seen_files.add(path)
            found.append(path)

    for root in roots:
        try:
            st = os.stat(root)
        except OSError as exc:
            problems.append(f"{printable(root)}: {exc.strerror or exc}")
            continue
        if not stat.S_ISDIR(st.st_mode):
            add(root)
            continue

        def walk_error(exc: OSError, root: str = root) -> None:
            where = printable(str(exc.filename or root))
            problems.append(f"{where}: cannot read folder: {exc.strerror or exc}")

        for folder, dirs, names in os.walk(root, onerror=walk_error, followlinks=True):
            try:
                fst = os.stat(folder)
            except OSError as exc:
                problems.append(f"{printable(folder)}: {exc.strerror or exc}")
                dirs[:] = []
                continue
            ident = (fst.st_dev, fst.st_ino)
            if ident in seen_dirs:
                notes.append(f"{printable(folder)}: already visited (symlink loop); skipped")
                dirs[:] = []
                continue
            seen_dirs.add(ident)
            dirs.sort()
            for name in sorted(names):
                if _wanted(name, wanted):
                    full = os.path.join(folder, name)
                    if os.path.isfile(full):
                        add(full)
                    elif os.path.islink(full) and not os.path.exists(full):
                        notes.append(f"{printable(full)}: broken symlink; skipped")
                    elif not os.path.isdir(full):
                        notes.append(
                            f"{printable(full)}: not a regular file (FIFO, device); skipped"
                        )
    return Discovery(tuple(found), tuple(problems), tuple(notes))


@dataclass(frozen=True)
class Identity:
    path: str
    sha256: str
    size: int


def identify(store: Store, path: str, rehash: bool = False) -> Identity:
    """The file's content hash; reused from the database while size, mtime and inode match."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):  # reading a FIFO or a device would never end
            raise InputError(printable(path), "not a regular file (FIFO, device or socket)")
        key = printable(path)
        cached = None if rehash else store.cached_sha256(key, st.st_size, st.st_mtime_ns, st.st_ino)
        digest = cached or sha256_file(path)
    except OSError as exc:
        raise InputError(printable(path), exc.strerror or str(exc)) from exc
    if cached is None:
        store.record_path(key, digest, st.st_size, st.st_mtime_ns, st.st_ino)
    return Identity(path, digest, st.st_size)


# -- the per-file task -------------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    audit_id: int
    path: str
    sha256: str
    size: int
    # Audited with no other file beside it in its worker: it was in flight, beside another,
    # when a worker died, so one of the two killed it (see `after_worker_death`).
    alone: bool = False


@dataclass(frozen=True)
class Outcome:
    task: Task
    status: str  # done | failed | fatal (the environment: model or ffmpeg; stops the batch)
    cause: str = ""
    result: AuditResult | None = None
    seconds: float = 0.0


_WORKER: tuple[AuditOptions, Auditor] | None = None


def worker_auditor(options: AuditOptions) -> Auditor:
    """The process's Auditor, model loaded; built once per process and options."""
    global _WORKER
    if _WORKER is None or _WORKER[0] != options:
        auditor = Auditor(options)
        auditor.transcriber  # noqa: B018  (load the model now, once)
        _WORKER = (options, auditor)
    return _WORKER[1]


def _failure(task: Task, exc: BaseException, clock: float) -> Outcome:
    seconds = time.monotonic() - clock
    if isinstance(exc, AuditorError):  # the error says what it means for the batch
        return Outcome(task, exc.batch_status, exc.cause, seconds=seconds)
    log.debug("internal error on %s", task.path, exc_info=exc)
    return Outcome(task, "failed", f"internal error: {type(exc).__name__}: {exc}", seconds=seconds)


def audit_task(options: AuditOptions, task: Task) -> Outcome:
    """Audit one file in this process: the unit of work of every executor.

    `Auditor.audit` decodes the next window of audio while it transcribes the current one.
    """
    clock = time.monotonic()
    try:
        result = worker_auditor(options).audit(task.path)
    except OSError as exc:
        return _failure(task, InputError(task.path, exc.strerror or str(exc)), clock)
    except Exception as exc:
        return _failure(task, exc, clock)
    if result.source.sha256 != task.sha256:
        cause = "changed while being audited; it will be redone by the next run"
        return Outcome(task, "failed", cause, seconds=time.monotonic() - clock)
    return Outcome(task, "done", result=result, seconds=time.monotonic() - clock)


# -- executors ---------------------------------------------------------------------------------


class Executor(Protocol):
    def free_slots(self) -> int: ...

    def submit(self, task: Task) -> None: ...

    def poll(self, timeout: float) -> list[Outcome]: ...

    def close(self) -> None: ...


def _worker_main(
    options: AuditOptions,
    inbox: multiprocessing.Queue[Task | None],
    outbox: multiprocessing.Queue[tuple[str, Any]],
    parent: int,
) -> None:
    """A local worker process: load the model once, then audit what the driver sends."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver handles Ctrl-C and stops us
    try:
        worker_auditor(options)
    except Exception as exc:
        outbox.put(("fatal", str(exc)))
        return

    def watchdog() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)  # the driver is gone (killed): stop at once, even mid-transcription

    threading.Thread(target=watchdog, daemon=True).start()
    # Files start in the order sent (see `after_worker_death`): a thread takes the next file and
    # its slots under `turn`, so that one waiting for both slots (a file audited alone) holds
    # back the files sent after it.
    slots = threading.Semaphore(_WORKER_DEPTH)
    turn = threading.Lock()

    def serve() -> None:
        while True:
            with turn:
                task = inbox.get()
                if task is None:
                    break
                wanted = _WORKER_DEPTH if task.alone else 1
                for _ in range(wanted):
                    slots.acquire()
            try:
                outbox.put(("outcome", audit_task(options, task)))
            finally:
                slots.release(wanted)
        inbox.put(None)  # for the other thread

    # Two files at once: one file's reading, speech finding, scan and sound check fill the cores
    # the other's decoding leaves idle (CTranslate2 queues their decoding calls on its workers).
    threads = [
        threading.Thread(target=serve, name=f"auditor-file-{i}") for i in range(_WORKER_DEPTH)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


class LocalExecutor:
    """Worker processes on this machine, spawned (never forked: the model and threads are not
    fork-safe), each given up to two files so that it never waits for the driver."""

    def __init__(self, options: AuditOptions, workers: int) -> None:
        self._ctx = multiprocessing.get_context("spawn")
        self._options = options
        self._outbox: multiprocessing.Queue[tuple[str, Any]] = self._ctx.Queue()
        self._workers: list[_Worker] = [self._start() for _ in range(workers)]

    def _start(self) -> _Worker:
        inbox: multiprocessing.Queue[Task | None] = self._ctx.Queue()
        process = self._ctx.Process(
            target=_worker_main,
            args=(self._options, inbox, self._outbox, os.getpid()),
            daemon=True,
        )
        process.start()
        return _Worker(process, inbox)

    def free_slots(self) -> int:
        return sum(_WORKER_DEPTH - len(w.assigned) for w in self._workers)

    def submit(self, task: Task) -> None:
        worker = min(self._workers, key=lambda w: len(w.assigned))
        worker.assigned.append(task)
        worker.inbox.put(task)

    def poll(self, timeout: float) -> list[Outcome]:
        outcomes: list[Outcome] = []
        try:
            kind, payload = self._outbox.get(timeout=timeout)
        except queue.Empty:
            outcomes.extend(self._reap())
            return outcomes
        if kind == "fatal":
            raise ModelError(str(payload))
        outcome: Outcome = payload
        if outcome.status == "fatal":
            raise MediaToolError(outcome.cause)
        for worker in self._workers:
            if outcome.task in worker.assigned:
                worker.assigned.remove(outcome.task)
                break
        outcomes.append(outcome)
        return outcomes

    def _reap(self) -> list[Outcome]:
        """A worker that died (crash, out of memory) fails the file that killed it; the others
        it held are sent again (see `after_worker_death`)."""
        outcomes: list[Outcome] = []
        for index, worker in enumerate(self._workers):
            if worker.process.is_alive():
                continue
            code = worker.process.exitcode
            killer, again = after_worker_death(worker.assigned)
            self._workers[index] = self._start()
            if killer is not None:
                cause = f"worker process died (exit code {code}) while auditing this file"
                outcomes.append(Outcome(killer, "failed", cause))
            for task in again:
                self.submit(task)
        return outcomes

    def close(self) -> None:
        for worker in self._workers:
            if worker.process.is_alive():
                worker.inbox.put(None)
        deadline = time.monotonic() + 10
        for worker in self._workers:
            worker.process.join(max(0.1, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()


def after_worker_death(assigned: list[Task]) -> tuple[Task | None, list[Task]]:
    """The file to fail, if it is known, and the files to send again, when a worker that held
    `assigned` (in the order sent) died.

    A worker audits its first two files at once, so when two were in flight either may be the
    one that killed it: both go again, each to be audited alone, and the one that kills a worker
    alone is failed. A file sent first alone, or held alone, was the only one running.
    """
    if not assigned:
        return None, []
    first, rest = assigned[0], assigned[1:]
    if first.alone or not rest:
        return first, rest
    return None, [dataclasses.replace(t, alone=True) for t in assigned]


@dataclass
class _Worker:
    process: Any  # multiprocessing.process.BaseProcess (spawn context)
    inbox: multiprocessing.Queue[Task | None]
    assigned: list[Task] = field(default_factory=list)


class RayExecutor:
    """`audit_task` as Ray remote tasks; results come back to the driver, which writes them."""

    def __init__(self, options: AuditOptions, address: str | None, threads: int) -> None:
        try:
            import ray as ray_module  # an optional extra: auditor[ray]
        except ImportError as exc:
            raise MediaToolError("--executor ray needs Ray: pip install 'auditor[ray]'") from exc
        ray: Any = ray_module
        self._ray = ray
        if not ray.is_initialized():
            if address:
                ray.init(address=address, log_to_driver=False)
            else:
                ray.init(num_cpus=max(threads, os.cpu_count() or 1), log_to_driver=False)
        resources: dict[str, float] = ray.cluster_resources()
        cpus = float(resources.get("CPU", threads))
        self._slots = max(1, int(cpus // threads)) + 1
        self._remote = ray.remote(
            num_cpus=threads,
            max_retries=0,
            runtime_env={"env_vars": {"OMP_NUM_THREADS": RAY_OPENMP_THREADS}},
        )(audit_task)
        self._options_ref = ray.put(options)
        self._pending: dict[Any, Task] = {}

    def free_slots(self) -> int:
        return self._slots - len(self._pending)

    def submit(self, task: Task) -> None:
        self._pending[self._remote.remote(self._options_ref, task)] = task

    def poll(self, timeout: float) -> list[Outcome]:
        if not self._pending:
            time.sleep(min(timeout, 0.1))
            return []
        ready, _ = self._ray.wait(list(self._pending), num_returns=1, timeout=timeout)
        outcomes: list[Outcome] = []
        for ref in ready:
            task = self._pending.pop(ref)
            try:
                outcome: Outcome = self._ray.get(ref)
            except Exception as exc:  # the task or its worker died
                lines = [x.strip() for x in str(exc).splitlines() if x.strip()]
                detail = f": {lines[-1][:200]}" if lines else ""
                outcome = Outcome(task, "failed", f"ray task failed: {type(exc).__name__}{detail}")
            if outcome.status == "fatal":
                raise MediaToolError(outcome.cause)
            outcomes.append(outcome)
        return outcomes

    def close(self) -> None:
        for ref in self._pending:
            self._ray.cancel(ref, force=True)
        self._pending.clear()


# -- the local layout (--workers auto) --------------------------------------------------------


def _gather(executor: LocalExecutor, count: int, beat: Callable[[], None]) -> list[Outcome]:
    outcomes: list[Outcome] = []
    while len(outcomes) < count:
        outcomes.extend(executor.poll(timeout=2.0))
        beat()
    return outcomes


def _timed_round(
    executor: LocalExecutor, layout: Layout, task: Task, beat: Callable[[], None]
) -> Trial:
    """Two copies of `task` for each worker, at once, as a worker holds two files in a batch."""
    copies = _WORKER_DEPTH * layout.workers
    clock = time.monotonic()
    for index in range(copies):
        executor.submit(dataclasses.replace(task, audit_id=index))
    outcomes = _gather(executor, copies, beat)
    wall = time.monotonic() - clock
    audio = 0.0
    for outcome in outcomes:
        if outcome.status != "done" or outcome.result is None:
            raise InputError(task.path, f"cannot be audited to time it: {outcome.cause}")
        audio += outcome.result.source.duration
    return Trial(layout, audio, wall)


def time_layouts(
    options: AuditOptions,
    layouts: Sequence[Layout],
    sample: Path,
    warm_up: Path,
    beat: Callable[[], None] = lambda: None,
) -> list[Trial]:
    """Each layout's speed auditing `sample` with the local executor: the median of
    ROUNDS rounds, the layouts' rounds alternating (forwards, then backwards), so that
    what else the machine does weighs on them alike. Every executor is started, and every
    worker has audited `warm_up` (the model is loaded), before the first round. `beat` is
    called while waiting (the batch keeps its claims). Raises InputError when the sample cannot
    be audited."""
    executors: list[LocalExecutor] = []
    rounds: dict[Layout, list[Trial]] = {layout: [] for layout in layouts}
    try:
        warm = Task(-1, str(warm_up), sha256_file(str(warm_up)), warm_up.stat().st_size)
        for layout in layouts:
            executors.append(LocalExecutor(options.with_threads(layout.threads), layout.workers))
            for index in range(layout.workers):  # one each: the least held worker takes it
                executors[-1].submit(dataclasses.replace(warm, audit_id=-1 - index))
        for executor, layout in zip(executors, layouts, strict=True):
            _gather(executor, layout.workers, beat)
        task = Task(0, str(sample), sha256_file(str(sample)), sample.stat().st_size)
        order = list(zip(executors, layouts, strict=True))
        for index in range(ROUNDS):
            for executor, layout in order if index % 2 == 0 else reversed(order):
                rounds[layout].append(_timed_round(executor, layout, task, beat))
    finally:
        for executor in executors:
            executor.close()
    return [sorted(trials, key=lambda t: t.speed)[len(trials) // 2] for trials in rounds.values()]


def choose_layout(
    options: AuditOptions,
    settings: dict[str, Any],
    config: BatchConfig,
    files: Sequence[Identity],
    emit: Callable[[str, str], None],
    beat: Callable[[], None] = lambda: None,
) -> Layout:
    """The local layout for `--workers auto`: the one measured earlier on this machine with these
    settings, else measured now on a sample of the first of `files` with enough speech (trying
    up to three), and kept. One file to audit needs one worker, and nothing is measured."""
    cores = usable_cpus()
    if len(files) < 2:
        return Layout(1, config.threads or cores)
    key = machine_key(settings, cores, config.threads)
    known = load_choice(key)
    if known is not None:
        emit("note", f"workers auto: {known.describe()}")
        return known.layout
    layouts = candidates(cores, config.threads, available_memory())
    if len(layouts) == 1:
        return layouts[0]
    with tempfile.TemporaryDirectory(prefix="auditor-layout-") as folder:
        cut: tuple[Path, float] | None = None
        for ident in files[:3]:
            try:
                cut = cut_sample(
                    ident.path, options.audio_stream, Path(folder), options.ffmpeg_timeout
                )
            except InputError as exc:
                log.debug("no layout sample from %s: %s", ident.path, exc)
            if cut is not None:
                break
        if cut is None:
            emit("note", "workers auto: no file with speech to time a layout on; one worker")
            return layouts[0]
        sample, speech = cut
        emit(
            "note",
            f"workers auto: timing {len(layouts)} layouts on {speech:.0f} s of speech from "
            f"{printable(ident.path)} (once on this machine)",
        )
        warm_up = silence(Path(folder))
        try:
            trials = time_layouts(options, layouts, sample, warm_up, beat)
        except InputError as exc:
            emit("note", f"workers auto: {exc}; one worker")
            return layouts[0]
    choice = LayoutChoice(pick(trials), tuple(trials), utc_now(), printable(ident.path))
    kept = save_choice(key, choice)
    emit("note", f"workers auto: {choice.describe()}" + (f"; kept in {kept}" if kept else ""))
    return choice.layout


# -- the driver --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchConfig:
    paths: tuple[str, ...]
    extensions: tuple[str, ...] = DEFAULT_EXTENSIONS
    from_list: str | None = None
    workers: int = 1  # local worker processes; AUTO_WORKERS: measured (auditor.layout)
    threads: int = 0  # CPU threads per worker (Ray: CPUs per task); 0: the executor's default
    retry_failed: bool = False
    rehash: bool = False
    executor: str = "local"  # local | ray
    ray_address: str | None = None

    def threads_per_task(self, cores: int) -> int:
        """--threads, or by default: this machine's cores shared by the local workers; on Ray,
        two CPUs per task (the cluster's machines are not this one)."""
        if self.threads:
            return self.threads
        if self.executor == "ray":
            return 2
        return max(1, cores // max(1, self.workers))


@dataclass
class BatchProgress:
    """What a progress display needs; updated after every file."""

    total: int = 0  # distinct contents found
    skipped: int = 0  # already done (or failed) before this run
    audited: int = 0  # done by this run
    failed: int = 0  # failed in this run
    duplicates: int = 0  # paths whose content is another path's
    audio_seconds: float = 0.0  # audio transcribed by this run
    bytes_todo: int = 0
    bytes_done: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def finished(self) -> int:
        return self.skipped + self.audited + self.failed

    def eta(self) -> float | None:
        elapsed = time.monotonic() - self.started
        if not self.bytes_done or self.bytes_todo <= self.bytes_done:
            return None
        return elapsed * (self.bytes_todo - self.bytes_done) / self.bytes_done


@dataclass(frozen=True)
class BatchEvent:
    kind: str  # problem | note | skip | done | failed | waiting | start
    message: str
    progress: BatchProgress


@dataclass(frozen=True)
class BatchSummary:
    found: int  # distinct contents
    paths: int
    duplicates: int
    done_before: int
    failed_before: int
    audited: int
    failed: int
    problems: int
    audio_seconds: float
    elapsed: float

    @property
    def ok(self) -> bool:
        return not (self.failed or self.failed_before or self.problems)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


EventSink = Callable[[BatchEvent], None]


def batch_settings(
    options: AuditOptions, model: ResolvedModel
) -> tuple[AuditOptions, dict[str, Any]]:
    """Pin device and compute type, and list what shapes a transcript (the settings key's input)."""
    device = pick_device(options.asr.device)
    pinned = options.pinned(device, pick_compute_type(device, options.asr.compute_type))
    return pinned, pinned.transcript_settings(model.identity())


def run_batch(
    store: Store,
    options: AuditOptions,
    config: BatchConfig,
    on_event: EventSink | None = None,
    executor_factory: Callable[[AuditOptions], Executor] | None = None,
) -> BatchSummary:
    """Audit every discovered file not yet done with these settings. Raises on environment errors
    (model, ffmpeg, database); every per-file problem is recorded and the run goes on."""
    progress = BatchProgress()

    def emit(kind: str, message: str) -> None:
        if on_event is not None:
            on_event(BatchEvent(kind, message, progress))

    found = discover(config.paths, config.extensions, config.from_list)
    for note in found.notes:
        emit("note", note)
    problems = list(found.problems)
    for problem in found.problems:
        emit("problem", problem)

    model = resolve_model(options.asr.model)
    threads = config.threads_per_task(os.cpu_count() or 1)
    options, settings = batch_settings(options.with_threads(threads), model)
    key = settings_key(settings)
    owner = new_owner()

    todo: deque[Identity] = deque()
    by_content: dict[str, Identity] = {}
    for path in found.files:
        try:
            ident = identify(store, path, config.rehash)
        except InputError as exc:
            problems.append(str(exc))
            emit("problem", str(exc))
            continue
        if ident.sha256 in by_content:
            progress.duplicates += 1
            emit(
                "note",
                f"{printable(path)}: same content as {printable(by_content[ident.sha256].path)}",
            )
            continue
        by_content[ident.sha256] = ident
        store.enqueue(ident.sha256, key, settings, printable(path))
        todo.append(ident)
    progress.total = len(todo)
    progress.bytes_todo = sum(i.size for i in todo)

    executor: Executor | None = None
    in_flight: dict[int, Identity] = {}
    waiting: list[Identity] = []
    done_before = failed_before = 0
    last_beat = time.monotonic()
    last_wait_note = -60.0
    beat_every = max(1.0, store.lease / 5)

    def beat() -> None:
        nonlocal last_beat
        if time.monotonic() - last_beat >= beat_every:
            store.heartbeat(owner)
            last_beat = time.monotonic()

    try:
        while todo or in_flight or waiting:
            while todo and (executor is None or executor.free_slots() > 0):
                ident = todo.popleft()
                claim, row = store.claim(
                    ident.sha256, key, settings, printable(ident.path), owner, config.retry_failed
                )
                if claim is Claim.CLAIMED:
                    if executor is None:
                        workers = config.workers
                        if workers == AUTO_WORKERS and executor_factory is None:
                            layout = choose_layout(
                                options, settings, config, [ident, *todo], emit, beat
                            )
                            workers = min(layout.workers, 1 + len(todo))
                            options = options.with_threads(layout.threads)
                        emit("start", _starting(config, workers))
                        make = executor_factory or _default_factory(config, threads, workers)
                        executor = make(options)
                    in_flight[row.id] = ident
                    executor.submit(Task(row.id, ident.path, ident.sha256, ident.size))
                    continue
                progress.bytes_todo -= ident.size
                if claim is Claim.BUSY:
                    waiting.append(ident)
                    continue
                progress.skipped += 1
                if claim is Claim.DONE:
                    done_before += 1
                    emit("skip", f"{printable(ident.path)}: already audited")
                else:
                    failed_before += 1
                    emit("skip", f"{printable(ident.path)}: failed before: {row.cause}")
            if in_flight and executor is not None:
                for outcome in executor.poll(timeout=min(2.0, beat_every)):
                    _record(store, owner, outcome, progress, emit)
                    in_flight.pop(outcome.task.audit_id, None)
            elif waiting:
                if time.monotonic() - last_wait_note >= 60.0:
                    emit(
                        "waiting",
                        f"waiting for {len(waiting)} file(s) being audited by another run "
                        f"(first: {printable(waiting[0].path)})",
                    )
                    last_wait_note = time.monotonic()
                time.sleep(2.0)
                todo.extend(waiting)
                progress.bytes_todo += sum(i.size for i in waiting)
                waiting.clear()
            beat()
    finally:
        if executor is not None:
            executor.close()
        store.release(owner)
    return BatchSummary(
        found=progress.total,
        paths=len(found.files),
        duplicates=progress.duplicates,
        done_before=done_before,
        failed_before=failed_before,
        audited=progress.audited,
        failed=progress.failed,
        problems=len(problems),
        audio_seconds=round(progress.audio_seconds, 3),
        elapsed=round(time.monotonic() - progress.started, 3),
    )


def _starting(config: BatchConfig, workers: int) -> str:
    if config.executor == "ray":
        return f"starting Ray tasks ({config.ray_address or 'local Ray instance'})"
    return f"starting {workers} worker process(es)"


def _default_factory(
    config: BatchConfig, threads: int, workers: int
) -> Callable[[AuditOptions], Executor]:
    def make(options: AuditOptions) -> Executor:
        if config.executor == "ray":
            return RayExecutor(options, config.ray_address, threads)
        return LocalExecutor(options, max(1, workers))

    return make


def _record(
    store: Store,
    owner: str,
    outcome: Outcome,
    progress: BatchProgress,
    emit: Callable[[str, str], None],
) -> None:
    task = outcome.task
    path = printable(task.path)
    if outcome.status == "done" and outcome.result is not None:
        progress.bytes_done += task.size
        result = outcome.result
        store.finish(task.audit_id, owner, result)
        progress.audited += 1
        progress.audio_seconds += result.source.duration
        emit("done", f"{path}: {len(result.findings)} finding(s) in {outcome.seconds:.1f} s")
    else:
        store.fail(task.audit_id, owner, outcome.cause)
        progress.bytes_todo -= task.size  # the ETA counts the pace of real audits only
        progress.failed += 1
        emit("failed", f"{path}: {outcome.cause}")


# -- rescan ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RescanSummary:
    audits: int
    audio_seconds: float
    findings: int
    lexicon_version: str
    elapsed: float
    # Findings a person had decided on that this rescan did not make again (their decisions stay
    # in the history), and decided ones it made again after an earlier scan had not.
    no_longer_found: tuple[Decision, ...] = ()
    found_again: tuple[Decision, ...] = ()
    # Sound-alikes this lexicon found that the audio was not asked about when the recording was
    # audited (a new term, or an audit with --no-verify): kept, without evidence.
    unverified: int = 0

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["no_longer_found"] = [d.to_dict() for d in self.no_longer_found]
        out["found_again"] = [d.to_dict() for d in self.found_again]
        return out


def rescan(
    store: Store, lexicon: Lexicon, product_category: str | None = None, chunk: int = 200
) -> RescanSummary:
    """Scan every stored transcript and screen text with `lexicon`, without speech recognition
    or OCR.

    Each chunk of audits is one transaction: the findings of the new lexicon version replace any
    earlier findings of that same version and become each audit's current set. Findings of other
    lexicon versions stay in the database as history. Each audit is scanned for the product
    category it was audited with, unless `product_category` is given (then that is recorded).
    Sound-alikes are judged by what the audio said of the same words when they were audited
    (auditor.verify): one the audio did not support then is left out now; one never asked about
    is kept without evidence, and counted.
    """
    clock = time.monotonic()
    gone_before = {d.finding_id: d for d in store.decided_but_gone()}
    scanners: dict[str, Scanner] = {}
    audits = findings = unverified = 0
    seconds = 0.0
    for rows in store.done_transcripts(chunk):
        items: list[tuple[int, str, Sequence[Finding]]] = []
        checks = store.sound_checks([row.audit_id for row in rows])
        for row in rows:
            product = product_category or row.product_category
            if product not in scanners:
                scanners[product] = Scanner(lexicon, product)
            transcript = Transcript.from_dict(json.loads(row.transcript))
            screen = ScreenText.from_dict(json.loads(row.screen)) if row.screen else None
            found = scan_recording(row.source, transcript, screen, scanners[product])
            found = apply_checks(found, checks[row.audit_id])
            unverified += sum(1 for f in found if needs_check(f) and f.term_logprob is None)
            items.append((row.audit_id, product, found))
            seconds += transcript.duration
            findings += len(found)
        store.replace_findings(items, lexicon.version)
        audits += len(rows)
    gone = {d.finding_id: d for d in store.decided_but_gone()}
    return RescanSummary(
        audits,
        round(seconds, 3),
        findings,
        lexicon.version,
        round(time.monotonic() - clock, 3),
        no_longer_found=tuple(d for fid, d in gone.items() if fid not in gone_before),
        found_again=tuple(d for fid, d in gone_before.items() if fid not in gone),
        unverified=unverified,
    )
