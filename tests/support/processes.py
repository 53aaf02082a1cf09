"""How the tests start the kit's command line: in a subprocess, or in process where no process boundary is tested."""


def ctrl_c_as_in_a_terminal():
    """``preexec_fn`` for a subprocess that stops itself with SIGINT: a shell's background job (a CI runner, a
    ``make test &``) starts with SIGINT ignored, and Python then never raises KeyboardInterrupt."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def mrfpga_in_process(capsys, *args, status=0):
    """``mrfpga args`` through the console script's entry point (``mrfpga.cli.main.main``) in the test's own
    process, which has TensorFlow loaded already; its exit status checked to be ``status``: ``(standard output,
    standard error)``."""
    from mrfpga.cli.main import main

    exited = main([str(arg) for arg in args])
    out, err = capsys.readouterr()
    assert exited == status, f"exit {exited}, not {status}:\n{out[-3000:]}{err[-3000:]}"
    return out, err
