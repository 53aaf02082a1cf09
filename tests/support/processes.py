"""How the tests start the kit's command line: in a subprocess, or in process where no process boundary is tested."""


def ctrl_c_as_in_a_terminal():
    """``preexec_fn`` for a subprocess that stops itself with SIGINT: a shell's background job (a CI runner, a
    ``make test &``) starts with SIGINT ignored, and Python then never raises KeyboardInterrupt."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def mrfpga_in_process(capsys, *args):
    """``mrfpga args`` through the console script's entry point (``mrfpga.cli.main.main``) in the test's own
    process, which has TensorFlow loaded already: ``(exit status, standard output, standard error)``."""
    from mrfpga.cli.main import main

    status = main([str(arg) for arg in args])
    out, err = capsys.readouterr()
    return status, out, err
