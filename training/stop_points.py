"""A test hook: a process that stops itself at a named point, to prove that no stop loses work.

``MRFPGA_STOP_AT=<point>`` makes the process send itself ``SIGKILL`` (or the
signal named by ``MRFPGA_STOP_SIGNAL``, e.g. ``INT`` for a Ctrl-C) when it
reaches ``<point>``. The points: ``batch:<epoch>:<batch>`` (after that
training step), ``written:<epoch>`` (the epoch's checkpoint files written,
not yet committed), ``committed:<epoch>`` (its state committed, the
previous checkpoint not yet deleted), ``trained`` (a run's training
finished, conversion not started) and ``swap`` (a complete output about to
replace the old one, which has been set aside).
"""

import os
import signal

STOP_AT = "MRFPGA_STOP_AT"


def stop_point(name):
    if os.environ.get(STOP_AT) == name:
        # To this thread, not the process: os.kill may hand SIGINT to one of TensorFlow's threads, and on a busy
        # machine the main thread could then return before Python ran the handler.
        signal.raise_signal(getattr(signal, "SIG" + os.environ.get("MRFPGA_STOP_SIGNAL", "KILL")))
