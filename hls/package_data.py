"""Where the installed kit keeps its data folders (templates, board configs, examples)."""

from pathlib import Path


def package_dir(name):
    """Folder of the ``mrfpga.<name>`` data package, installed or not."""
    return Path(__file__).resolve().parent.parent / name
