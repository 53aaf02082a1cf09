"""Output directories: one writer at a time, built beside the old output and swapped in only when complete,
and never a directory the kit did not write.

For an output ``DIR`` the kit keeps, next to it:

- ``.DIR.lock``: the writer's exclusive lock (``flock``), removed when it finishes;
- ``.DIR.partial``: the new output while it is being written; renamed to ``DIR`` once complete. A
  resumable run (train, run) that stops keeps it for ``--resume`` when it holds training progress;
- ``.DIR.previous``: the old ``DIR`` for the instant of the swap; deleted once the new ``DIR`` is in place.

So ``DIR`` is always either the old complete output or the new complete one. Every output the kit
creates holds ``.mrfpga-output`` (``MARKER``), naming its kind. ``--force`` replaces only such a
directory (or one an older version wrote, recognised by its files: ``output_kind``), and only while it
holds nothing but the kit's own files; never the current directory or one of its parents.
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

MARKER = ".mrfpga-output"
# What the kit writes at the top of each kind of output. An output holding anything else holds something
# of the user's, and --force leaves it alone. None: any content (an HLS project, the vendor tools' files).
RUN_ENTRIES = {
    "config.yaml", "input.json", "checkpoints", "models", "model.h5", "training.json", "training.json.partial",
    "hls_project", ".hls_project.lock", ".hls_project.partial", ".hls_project.previous", "report.json",
    "report.json.partial", "accuracy_cycles.png", "accuracy_cycles.partial.png", "rtl",
}  # fmt: skip
EVALUATE_ENTRIES = {
    "results.json", "results.csv", "results.md", "accuracy_vs_gamma.png", "weight_histograms.png", "onion_rowwise.png",
}  # fmt: skip
KIT_ENTRIES = {"run": RUN_ENTRIES, "evaluate": EVALUATE_ENTRIES, "hls_project": None}
LOW_SPACE = 1 << 20  # bytes: a write that failed with less free space than this failed for lack of it


class OutputError(MrfpgaError):
    pass


class OutputExists(OutputError, FileExistsError):
    pass


class OutputLocked(OutputError):
    pass


class NotKitOutput(OutputError):
    """A directory ``--force`` would replace that the kit did not write, or that holds the user's files."""


class DiskFull(OutputError):
    pass


def staging_path(path):
    return path.with_name(f".{path.name}.partial")


def _lock_path(path):
    return path.with_name(f".{path.name}.lock")


def previous_path(path):
    return path.with_name(f".{path.name}.previous")


# -- what the kit wrote


def write_marker(directory, kind):
    (Path(directory) / MARKER).write_text(
        f"mrfpga output: {kind}\n"
        "This directory was written by mrfpga. 'mrfpga ... --force' may replace it whole, as long as it holds\n"
        "only files mrfpga wrote; mrfpga never replaces a directory without this file.\n"
    )


def _marked_kind(directory):
    try:
        first = (directory / MARKER).read_text().splitlines()[0]
    except (OSError, UnicodeDecodeError, IndexError):
        return None
    prefix = "mrfpga output: "
    return first[len(prefix) :].strip() if first.startswith(prefix) else None


def output_kind(directory):
    """``run``, ``evaluate`` or ``hls_project`` when the kit wrote ``directory``, else None.

    Its ``.mrfpga-output`` says so. An output of a version that wrote no such file is recognised by its
    files: a run directory has ``config.yaml`` and the model, training record, input grid or checkpoints,
    and nothing but the kit's files; an evaluation has ``results.json`` and nothing but the kit's files; an
    HLS project has hls4ml's ``hls4ml_config.yml`` and ``firmware/``.
    """
    directory = Path(directory)
    if not directory.is_dir() or directory.is_symlink():
        return None
    kind = _marked_kind(directory)
    if kind in KIT_ENTRIES:
        return kind
    names = {p.name for p in directory.iterdir()}
    if (directory / "hls4ml_config.yml").is_file() and (directory / "firmware").is_dir():
        return "hls_project"
    if (directory / "config.yaml").is_file() and names & {"model.h5", "training.json", "input.json", "checkpoints"}:
        if names <= RUN_ENTRIES:
            return "run"
    if (directory / "results.json").is_file() and names <= EVALUATE_ENTRIES:
        return "evaluate"
    return None


def foreign_entries(directory, kind):
    """The names at the top of ``directory`` that the kit does not write in an output of ``kind``."""
    known = KIT_ENTRIES.get(kind)
    if known is None:
        return []
    return sorted(p.name for p in Path(directory).iterdir() if p.name not in known | {MARKER})


def _listed(names, limit=5):
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def check_replaceable(path):
    """Refuse (``NotKitOutput``) to replace ``path`` unless it is a directory the kit wrote that holds only
    the kit's files."""
    path = Path(path)
    if path.is_symlink() or not path.is_dir():
        what = "a symbolic link" if path.is_symlink() else "a file"
        raise NotKitOutput(
            f"{path} is {what}, not an output directory of mrfpga, and mrfpga never replaces it; give a new "
            "directory, or move it away first"
        )
    kind = output_kind(path)
    if kind is None:
        raise NotKitOutput(
            f"{path} is not an output of mrfpga (it has no {MARKER} file), and mrfpga replaces only directories "
            f"it wrote, even with --force; give a new directory, or move {path} away first"
        )
    foreign = foreign_entries(path, kind)
    if foreign:
        raise NotKitOutput(
            f"{path} holds {_listed(foreign)}, which mrfpga did not write; move {'it' if len(foreign) == 1 else 'them'}"
            f" out of {path} first (mrfpga never deletes what it did not write)"
        )
    return kind


def _refuse_current_directory(path):
    try:
        cwd = Path.cwd().resolve()
    except OSError:  # the current directory was deleted
        return
    if path == cwd or path in cwd.parents:
        where = "is the current directory" if path == cwd else f"contains the current directory {cwd}"
        raise NotKitOutput(f"{path} {where}; mrfpga never replaces it: give a new directory for the output")


# -- disk full


def _existing(path):
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _file_system(path):
    """(device, mount point) of the file system that holds ``path``."""
    real = os.path.realpath(_existing(path))
    device, mount = None, "/"
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        fields = line.split()
        if len(fields) < 2:
            continue
        point = fields[1].encode().decode("unicode_escape")  # \040 for a space
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(mount):
            device, mount = fields[0], point
    if device is None:
        mount = real
        while not os.path.ismount(mount):
            mount = os.path.dirname(mount)
        device = mount
    return device, mount


def _free_bytes(path):
    try:
        return shutil.disk_usage(_existing(path)).free
    except OSError:
        return None


def no_space(err, path=None, guess=True):
    """A ``DiskFull`` naming the device and the file when ``err`` is a write that failed for lack of space,
    else None. ``path``: where the failed write went, when ``err`` does not say. h5py's errors do not name
    their cause: with ``guess``, any other failure under ``path`` on a file system left with less than
    1 MiB free is taken for one."""
    if isinstance(err, MrfpgaError) or not isinstance(err, Exception):
        return None
    written, full = None, False
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        written, full = err.filename2 or err.filename or path, True  # a copy's filename2 is its destination
    elif isinstance(err, shutil.Error) and err.args and isinstance(err.args[0], list):
        for entry in err.args[0]:
            if isinstance(entry, tuple) and len(entry) == 3 and "No space left on device" in str(entry[2]):
                written, full = entry[1], True
                break
    elif "No space left on device" in str(err):
        written, full = path, True
    elif guess and path is not None and (free := _free_bytes(path)) is not None and free < LOW_SPACE:
        written, full = path, True
    if not full:
        return None
    fix = "free some space there, or write the output to another file system"
    if written is None:
        return DiskFull(f"no space left on the device being written: {fix}")
    device, mount = _file_system(written)
    what = f"in {written}" if Path(written).is_dir() else str(written)
    return DiskFull(f"no space left on {device} (the file system at {mount}) while writing {what}: {fix}")


def write_bytes(path, data):
    """``path.write_bytes(data)``; a write that fails for lack of space is a ``DiskFull`` naming ``path``."""
    try:
        Path(path).write_bytes(data)
    except OSError as err:
        full = no_space(err, path, guess=False)
        if full is None:
            raise
        raise full from None


def write_text(path, text):
    write_bytes(path, text.encode())


# -- Ctrl-C: what the process completed before it was stopped

_completed = []
_stop_reported = False


def new_command():
    """Forget what an earlier command of this process completed (``main`` runs one command per call)."""
    global _stop_reported
    _completed.clear()
    _stop_reported = False


def completed(path):
    """Record an output this process has put in place, complete."""
    _completed.append(str(path))


def _reported():
    global _stop_reported
    _stop_reported = True


def stop_summary(outputs=()):
    """What a Ctrl-C left, unless the output being written already said so: the outputs this process
    completed, and which of ``outputs`` (the command's) it had not reached."""
    if _stop_reported:
        return None
    done = list(dict.fromkeys(_completed))
    waiting = [str(p) for p in outputs if str(p) not in done]
    parts = [f"{p} is complete and in place" for p in done]
    parts += [f"{p} is as it was" for p in waiting]
    return "\nstopped: " + ("; ".join(parts) if parts else "nothing was written")


# -- locks and swaps


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


def restore_set_aside(path):
    """Finish or undo a swap that a killed process left half done; hold ``path``'s lock (``run_lock``)."""
    path = Path(path)
    previous = previous_path(path)
    if not previous.exists():
        return
    if path.exists():  # the new output was already in place; only deleting the old one was cut short
        shutil.rmtree(previous)
    else:
        previous.rename(path)
        print(f"restored {path}, which a stopped run had set aside while replacing it", file=sys.stderr)


def _swap_in(staging, path):
    """Put the complete ``staging`` in ``path``'s place. Stopped between the two renames (Ctrl-C), the old
    ``path`` goes back; killed there, the next command that locks ``path`` puts it back."""
    previous = previous_path(path)
    if path.exists():
        path.rename(previous)
    try:
        stop_point("swap")
        staging.rename(path)
    except BaseException:
        if previous.exists() and not path.exists():
            previous.rename(path)
        raise
    completed(path)
    if previous.exists():
        shutil.rmtree(previous)
    stop_point("swapped")  # the new output in place, the command not yet returned


def _holds_progress(staging):
    return (staging / "training.json").is_file() or any((staging / "checkpoints").rglob("trainer_state.json"))


def _kept_note(path, staging, kept):
    old = f"{path} is untouched" if path.exists() else f"{path} was not created"
    if kept:
        return (
            f"the unfinished run is kept in {staging}; continue it with the same command plus --resume "
            f"(--force starts over); {old}"
        )
    return f"nothing was written; {old}"


def _prepare_staging(staging, kind):
    """Clear a leftover ``.DIR.partial`` (the kit's, never the user's) and create a new one with the marker."""
    if staging.exists() or staging.is_symlink():
        marked = output_kind(staging) is not None
        if not marked and not (staging.is_dir() and not staging.is_symlink() and not foreign_entries(staging, kind)):
            check_replaceable(staging)  # refuses, naming why
        shutil.rmtree(staging)
    try:
        staging.mkdir()
    except OSError as err:
        raise OutputError(f"cannot create {staging}: {err.strerror}") from None
    write_marker(staging, kind)


@contextlib.contextmanager
def fresh_output(path, force, resumable=False, resume=None, kind="run"):
    """Yield a new, empty directory (but for the marker) that becomes ``path`` when the block completes.

    An existing ``path`` is refused unless ``force``, and even then unless the kit wrote it
    (``check_replaceable``); it stays as it is until the new output is complete. If the block fails, the
    new output is deleted, except that a ``resumable`` one holding training progress is kept for
    ``--resume``. ``resume(staging)``, when given, checks an unfinished run and continues it instead of
    starting a new one. A write that fails for lack of space is a ``DiskFull`` naming the device.
    """
    path = Path(path).resolve()
    _refuse_current_directory(path)
    with run_lock(path):
        restore_set_aside(path)
        staging = staging_path(path)
        if resume is not None and staging.is_dir():
            if path.exists() or path.is_symlink():
                check_replaceable(path)  # the finished run will replace it
            resume(staging)
            if not (staging / MARKER).exists():
                write_marker(staging, kind)
        else:
            if path.exists() or path.is_symlink():
                check_replaceable(path)
                if not force:
                    raise OutputExists(f"{path} already exists; pass --force to replace it")
            if resumable and not force and staging.is_dir() and _holds_progress(staging):
                raise OutputExists(
                    f"{staging} holds an unfinished run for {path}: add --resume to continue it, "
                    "or --force to discard it"
                )
            _prepare_staging(staging, kind)
        try:
            yield staging
            if path.exists() or path.is_symlink():
                check_replaceable(path)  # again: the user may have put files in it meanwhile
            _swap_in(staging, path)
        except BaseException as err:
            if path.exists() and not staging.exists():  # swapped in: the command's stop note says so
                raise
            full = err if isinstance(err, DiskFull) else no_space(err, staging)  # before the cleanup frees space
            kept = resumable and _holds_progress(staging)
            if not kept:
                shutil.rmtree(staging, ignore_errors=True)
            note = _kept_note(path, staging, kept)
            if isinstance(err, KeyboardInterrupt):
                print(f"\nstopped: {note}", file=sys.stderr)
                _reported()
                raise
            if full is not None:
                raise DiskFull(f"{full}; {note}") from None
            if kept:
                print(f"\nstopped: {note}", file=sys.stderr)
            raise
