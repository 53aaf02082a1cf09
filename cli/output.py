"""Output directories that are never overwritten without --force and never left half-written."""

import contextlib
import shutil
from pathlib import Path


class OutputExists(FileExistsError):
    pass


@contextlib.contextmanager
def fresh_output(path, force, keep_on_interrupt=False):
    """Yield ``path`` as a new, empty directory.

    An existing ``path`` is refused unless ``force``; then it is set aside
    and restored if the work fails, deleted only once the work succeeds.
    A failed run leaves nothing behind, except that with
    ``keep_on_interrupt`` a run stopped by Ctrl-C keeps its directory (its
    checkpoints) so that ``--resume`` can continue it.
    """
    path = Path(path).resolve()
    backup = None
    if path.exists():
        if not force:
            raise OutputExists(f"{path} already exists; pass --force to replace it")
        backup = path.with_name(f".{path.name}.replaced")
        if backup.exists():
            shutil.rmtree(backup)
        path.rename(backup)
    path.mkdir(parents=True)
    try:
        yield path
    except BaseException as err:
        if keep_on_interrupt and isinstance(err, KeyboardInterrupt):
            kept = f"; the output it replaces is in {backup}" if backup is not None else ""
            print(f"\ninterrupted: {path} keeps its checkpoints (continue with --resume){kept}")
            raise
        shutil.rmtree(path, ignore_errors=True)
        if backup is not None:
            backup.rename(path)
        raise
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)
