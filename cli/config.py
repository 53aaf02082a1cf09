"""Loading the run configuration from a YAML file (the types and their checks: ``mrfpga.training.config``)."""

from pathlib import Path

import yaml

from mrfpga.training.config import from_dict
from mrfpga.training.data import BUILT_IN
from mrfpga.training.errors import ConfigError


def load_config(path):
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    config = from_dict(raw)
    if config.data.source not in BUILT_IN:
        # A relative data path is relative to the config file.
        data = Path(config.data.source)
        config.data.source = str(data if data.is_absolute() else (path.parent / data).resolve())
    return config
