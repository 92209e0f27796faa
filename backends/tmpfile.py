"""The development state store: one file per task in a temporary directory.

Files live in ``FLOWS_TMPFILE_DIR`` (default ``<tempdir>/flowmachine-tasks``).
A write goes to a temporary file renamed over the task's file, under an
``fcntl.flock`` on the task's lock file, so the version check and the write
are atomic between threads and processes. A task expires when its file has
not been modified for the idle timeout. POSIX only; meant for development.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from flowmachine.backends.base import BaseStateStore, Cleared, ConflictError, CorruptStateError, ExpiredTask
from flowmachine.conf import flow_settings
from flowmachine.record import Record

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["StateStore"]

_TASK_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")

DATA_SUFFIX = ".task"
LOCK_SUFFIX = ".lock"


class StateStore(BaseStateStore):
    """Task records as files, one per task, for development and tests."""

    atomic_versions = True

    def __init__(self) -> None:
        if fcntl is None:
            raise ImproperlyConfigured(
                "The tmpfile state store needs fcntl (POSIX); use flowmachine.backends.db instead."
            )

    @property
    def directory(self) -> Path:
        """The directory holding the task files (FLOWS_TMPFILE_DIR or a default)."""
        configured = flow_settings.FLOWS_TMPFILE_DIR
        if configured:
            return Path(configured)
        return Path(tempfile.gettempdir()) / "flowmachine-tasks"

    def path(self, task_id: str) -> Path:
        """The file holding *task_id*'s record; raise ValueError for an unsafe id."""
        if not isinstance(task_id, str) or not _TASK_ID.fullmatch(task_id):
            raise ValueError(f"Invalid task id {task_id!r}: only A-Z, a-z, 0-9, '_' and '-' are allowed.")
        return self.directory / f"{task_id}{DATA_SUFFIX}"

    def _expired(self, mtime: float) -> bool:
        return mtime < time.time() - self.idle_timeout

    def _read(self, path: Path) -> bytes | None:
        """The file's bytes, or None if it is missing or expired."""
        try:
            with open(path, "rb") as fh:
                if self._expired(os.fstat(fh.fileno()).st_mtime):
                    return None
                return fh.read()
        except FileNotFoundError:
            return None

    def get_state(self, task_id: str) -> dict[str, Any] | None:
        raw = self._read(self.path(task_id))
        return None if raw is None else self.decode(raw)

    def put_state(self, task_id: str, state: dict[str, Any]) -> None:
        path = self.path(task_id)
        raw = self.encode(state)
        version = int(state["version"])
        with self._locked(path):
            current = self._read(path)
            if version <= 1:
                if current is not None:
                    raise ConflictError(f"Task {task_id[:8]}… already exists.")
            elif current is None or self.decode(current)["version"] != version - 1:
                raise ConflictError(f"Task {task_id[:8]}… changed since it was read (version {version - 1}).")
            self._write(path, raw)

    def delete_state(self, task_id: str) -> None:
        path = self.path(task_id)
        if not path.parent.is_dir():
            return
        with self._locked(path) as lock_path:
            with suppress(FileNotFoundError):
                path.unlink()
            # Safe while we hold the lock: _locked() re-checks the lock file's identity.
            with suppress(FileNotFoundError):
                lock_path.unlink()

    def touch(self, task_id: str) -> None:
        path = self.path(task_id)
        with suppress(FileNotFoundError):
            if not self._expired(path.stat().st_mtime):
                os.utime(path)

    def iter_task_ids(self) -> Iterator[str]:
        """The ids of the unexpired task files."""
        directory = self.directory
        if not directory.is_dir():
            return
        for path in sorted(directory.glob(f"*{DATA_SUFFIX}")):
            task_id = path.name[: -len(DATA_SUFFIX)]
            with suppress(FileNotFoundError):
                if _TASK_ID.fullmatch(task_id) and not self._expired(path.stat().st_mtime):
                    yield task_id

    def iter_states(self) -> Iterator[tuple[str, dict[str, Any] | None]]:
        """Each unexpired file's record, read without touching its modification time."""
        for task_id in self.iter_task_ids():
            raw = self._read(self.path(task_id))
            if raw is None:
                continue
            try:
                yield task_id, self.decode(raw)
            except CorruptStateError:
                yield task_id, None

    def clear_expired(
        self,
        *,
        batch_size: int = 1000,
        dry_run: bool = False,
        removed: Callable[[list[ExpiredTask]], None] | None = None,
    ) -> Cleared:
        """Remove the files of expired tasks (one batch: files have no transaction)."""
        found: list[ExpiredTask] = []
        directory = self.directory
        if not directory.is_dir():
            return Cleared()
        for path in directory.glob(f"*{DATA_SUFFIX}"):
            task_id = path.name[: -len(DATA_SUFFIX)]
            if not _TASK_ID.fullmatch(task_id):
                continue
            with suppress(FileNotFoundError):
                if not self._expired(path.stat().st_mtime):
                    continue
                if dry_run:
                    found.append(ExpiredTask(task_id, "", None))
                    continue
                with self._locked(path) as lock_path:
                    if not self._expired(path.stat().st_mtime):  # used meanwhile
                        continue
                    raw = path.read_bytes()
                    path.unlink()
                    with suppress(FileNotFoundError):
                        lock_path.unlink()
                found.append(self._summary(task_id, raw))
        if found and removed is not None and not dry_run:
            removed(found)
        return Cleared(removed=len(found), batches=1 if found else 0)

    def _summary(self, task_id: str, raw: bytes) -> ExpiredTask:
        try:
            record = Record(self.decode(raw))
        except CorruptStateError:
            return ExpiredTask(task_id, "", None)
        position = None if record.finished or not record.running else record.position
        return ExpiredTask(task_id, str(record.flow or ""), position)

    # -- helpers -------------------------------------------------------------

    def _write(self, path: Path, raw: bytes) -> None:
        """Replace *path* atomically: readers see the old or the new file, never half of one."""
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(raw)
            os.replace(tmp, path)
        except BaseException:
            with suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    @contextmanager
    def _locked(self, path: Path) -> Iterator[Path]:
        """Hold an exclusive flock on *path*'s lock file, creating the directory if needed."""
        lock_path = path.with_suffix(LOCK_SUFFIX)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        while True:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                # delete_state() may have unlinked the file we locked while we
                # waited; then lock the new one instead.
                opened = os.fstat(fd)
                try:
                    current = os.stat(lock_path)
                except FileNotFoundError:
                    current = None
            except BaseException:
                os.close(fd)
                raise
            if current is not None and (current.st_dev, current.st_ino) == (opened.st_dev, opened.st_ino):
                break
            os.close(fd)
        try:
            yield lock_path
        finally:
            os.close(fd)  # closing releases the lock
