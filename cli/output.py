"""Output directories: one writer at a time, built beside the old output and swapped in only when complete.

For an output ``DIR`` the kit keeps, next to it:

- ``.DIR.lock``: the writer's exclusive lock (``flock``), removed when it finishes;
- ``.DIR.partial``: the new output while it is being written; renamed to ``DIR`` once complete. A
  resumable run (train, run) that stops keeps it for ``--resume`` when it holds training progress;
- ``.DIR.previous``: the old ``DIR`` for the instant of the swap; deleted once the new ``DIR`` is in place.

So ``DIR`` is always either the old complete output or the new complete one.
"""

import contextlib
import errno
import fcntl
import os
import shutil
import sys
from pathlib import Path

from mrfpga.training.errors import MrfpgaError
from mrfpga.training.stop_points import stop_point


class OutputError(MrfpgaError):
    pass


class OutputExists(OutputError, FileExistsError):
    pass


class OutputLocked(OutputError):
    pass


def staging_path(path):
    return path.with_name(f".{path.name}.partial")


def _lock_path(path):
    return path.with_name(f".{path.name}.lock")


def _previous_path(path):
    return path.with_name(f".{path.name}.previous")


def _writable_parent(path):
    """Create ``path``'s parent, or say clearly why it cannot be."""
    for ancestor in [path, *path.parents]:
        if ancestor.exists() and not ancestor.is_dir():
            raise OutputError(f"cannot write {path}: {ancestor} is a file, not a directory")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"cannot create {path.parent}: {err.strerror}") from None


@contextlib.contextmanager
def run_lock(path):
    """Hold the exclusive lock of output ``path`` (one writer per directory) until the block ends."""
    path = Path(path).resolve()
    _writable_parent(path)
    lock = _lock_path(path)
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            reason = "read-only file system" if err.errno == errno.EROFS else err.strerror
            raise OutputError(f"cannot write in {path.parent}: {reason}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise OutputLocked(
                f"{path} is being written by another mrfpga process (pid {holder}); "
                "wait for it to finish or stop it, then try again"
            ) from None
        # The previous holder unlinks the lock file on release; lock the file that is still there.
        try:
            current = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            current = False
        if current:
            break
        os.close(fd)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    try:
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)
        os.close(fd)


def _recover_swap(path):
    """Finish or undo a swap that a killed process left half done."""
    previous = _previous_path(path)
    if not previous.exists():
        return
    if path.exists():  # the new output was already in place; only deleting the old one was cut short
        shutil.rmtree(previous)
    else:
        previous.rename(path)
        print(f"restored {path}, which a stopped run had set aside while replacing it", file=sys.stderr)


def _swap_in(staging, path):
    previous = _previous_path(path)
    if path.exists():
        path.rename(previous)
    stop_point("swap")
    staging.rename(path)
    if previous.exists():
        shutil.rmtree(previous)


def _holds_progress(staging):
    return (staging / "training.json").is_file() or any((staging / "checkpoints").rglob("trainer_state.json"))


def _report_stop(path, staging, kept):
    old = f"{path} is untouched" if path.exists() else f"{path} was not created"
    if kept:
        print(
            f"\nstopped: the unfinished run is kept in {staging}; continue it with the same command plus --resume "
            f"(--force starts over); {old}",
            file=sys.stderr,
        )
    else:
        print(f"\nstopped: nothing was written; {old}", file=sys.stderr)


@contextlib.contextmanager
def fresh_output(path, force, resumable=False, resume=None):
    """Yield a new, empty directory that becomes ``path`` when the block completes.

    An existing ``path`` is refused unless ``force``; it stays as it is until
    the new output is complete. If the block fails, the new output is
    deleted, except that a ``resumable`` one holding training progress is
    kept for ``--resume``. ``resume(staging)``, when given, checks an
    unfinished run and continues it instead of starting a new one.
    """
    path = Path(path).resolve()
    with run_lock(path):
        _recover_swap(path)
        staging = staging_path(path)
        if resume is not None and staging.is_dir():
            resume(staging)
        else:
            if path.exists() and not force:
                raise OutputExists(f"{path} already exists; pass --force to replace it")
            if staging.exists():
                if resumable and not force and _holds_progress(staging):
                    raise OutputExists(
                        f"{staging} holds an unfinished run for {path}: add --resume to continue it, "
                        "or --force to discard it"
                    )
                shutil.rmtree(staging)
            try:
                staging.mkdir()
            except OSError as err:
                raise OutputError(f"cannot create {staging}: {err.strerror}") from None
        try:
            yield staging
        except BaseException as err:
            kept = resumable and _holds_progress(staging)
            if not kept:
                shutil.rmtree(staging, ignore_errors=True)
            if resumable and (kept or isinstance(err, KeyboardInterrupt)):
                _report_stop(path, staging, kept)
            elif isinstance(err, KeyboardInterrupt) and path.exists():
                print(f"\nstopped: {path} is untouched", file=sys.stderr)
            raise
        _swap_in(staging, path)
