"""How the tests start the kit's command line in a subprocess."""


def ctrl_c_as_in_a_terminal():
    """``preexec_fn`` for a subprocess that stops itself with SIGINT: a shell's background job (a CI runner, a
    ``make test &``) starts with SIGINT ignored, and Python then never raises KeyboardInterrupt."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
