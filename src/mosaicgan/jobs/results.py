"""The result of a media job: one `ItemResult` per input (`infer.results`), and what the job
as a whole came to."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mosaicgan.errors import NOTHING_DONE
from mosaicgan.infer.results import NOTHING_FOUND, SHRUNK_AWAY, WRITTEN, ItemResult

__all__ = ["NOTHING_DONE", "NOTHING_FOUND", "SHRUNK_AWAY", "WRITTEN", "ItemResult", "JobResult"]


@dataclass
class JobResult:
    """command: "add", "remove", ...; out_dir: where outputs went; items: one per input this
    process worked on (under torchrun, every process's, in input order); inputs: how many
    inputs the job was given in all; info: what the job ran with (the restorer's name, the
    upscale factor, a CAM class label), for the caller's summary."""

    command: str
    out_dir: Path
    items: list[ItemResult] = field(default_factory=list)
    inputs: int = 0
    info: dict[str, Any] = field(default_factory=dict)
    primary: bool = True  # under torchrun: False on every process but rank 0, which reports
    order: dict[Path, int] = field(default_factory=dict, repr=False)  # input -> its place among the inputs

    @property
    def written(self) -> list[Path]:
        """Every file written (outputs, then masks, input by input)."""
        return [p for item in self.items for p in item.outputs]

    def with_status(self, status: str) -> list[ItemResult]:
        return [item for item in self.items if item.status == status]

    @property
    def exit_status(self) -> int:
        """0 when something was written (or there was nothing to do), else NOTHING_DONE."""
        return 0 if any(item.written for item in self.items) or not self.items else NOTHING_DONE

    def to_dict(self) -> dict[str, Any]:
        return {"command": self.command, "out_dir": str(self.out_dir), "inputs": self.inputs,
                "info": self.info, "items": [item.to_dict() for item in self.items]}
