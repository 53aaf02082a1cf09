"""Board descriptions from ``board_configs/*.yaml``: part, host, default clock, the part's resources."""

from dataclasses import dataclass
from pathlib import Path

import yaml

from mrfpga.hls.package_data import package_dir
from mrfpga.training.errors import ConversionError

RESOURCE_KEYS = ("LUT", "FF", "BRAM_18K", "DSP48E1")

# Clock periods (ns). Below PRACTICAL_PERIOD_NS a part's fabric rarely closes timing (7-series: about
# 450-500 MHz for short paths); below PHYSICAL_PERIOD_NS (1 GHz) no FPGA fabric clocks at all.
PRACTICAL_PERIOD_NS = {"xc7": 2.0}
DEFAULT_PRACTICAL_PERIOD_NS = 2.0
PHYSICAL_PERIOD_NS = 1.0


@dataclass(frozen=True)
class Board:
    name: str
    part: str
    family: str
    arm_host: bool
    clock_period_ns: float
    resources: dict

    @property
    def practical_period_ns(self):
        """The shortest clock period (ns) the part's fabric practically reaches."""
        for prefix, period in PRACTICAL_PERIOD_NS.items():
            if self.part.startswith(prefix):
                return period
        return DEFAULT_PRACTICAL_PERIOD_NS


def board_dir():
    return package_dir("board_configs")


def known_boards():
    return sorted(p.stem for p in board_dir().glob("*.yaml"))


def load_board(name):
    path = board_dir() / f"{name}.yaml"
    if not path.is_file():
        raise ConversionError(f"unknown board {name!r}; known boards: {', '.join(known_boards())}")
    raw = yaml.safe_load(Path(path).read_text())
    missing = [k for k in RESOURCE_KEYS if k not in raw.get("resources", {})]
    if missing:
        raise ConversionError(f"{path}: resources lack {missing}")
    return Board(
        name=raw["name"],
        part=raw["part"],
        family=raw["family"],
        arm_host=bool(raw["arm_host"]),
        clock_period_ns=float(raw["clock_period_ns"]),
        resources={k: int(raw["resources"][k]) for k in RESOURCE_KEYS},
    )
