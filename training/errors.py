"""The kit's own error classes: a problem with the user's input or files that the message explains.

The command line prints these (exit status 2); any other exception is a bug
and keeps its traceback.
"""


class MrfpgaError(Exception):
    pass


class DataError(MrfpgaError, ValueError):
    """Data the kit cannot train on or simulate, named with the array and the problem."""


class ConfigError(MrfpgaError, ValueError):
    """A run configuration the kit cannot run, named with the key and what it allows."""


class ConversionError(MrfpgaError, ValueError):
    """A model or setting the HLS conversion cannot take, named with the layer and the reason."""


class ToolMissing(MrfpgaError, RuntimeError):
    """An external tool (Vivado, Vitis, Verilator, Yosys) is not installed; the message says how to get it."""


class SettingWarning(UserWarning):
    """A setting the kit accepts but that likely does not do what the user wants (a clock faster than the
    board's part can practically run); the command line prints it as ``mrfpga COMMAND: warning: ...``."""
