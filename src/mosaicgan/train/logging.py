"""Loss logging: running means, a JSONL file in the run folder, TensorBoard when installed
(every logged number as a scalar, the learning rate included, and the sample grids as images)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch

from mosaicgan.atomic import atomic_path, writing


class RunningMeans:
    """Means of each loss since the last `pop()`: what the log and the progress bar show.

    Values may be floats or 0-d tensors on the device; tensors are summed where they are and
    read once in `pop`, so a step never waits for the device just to be logged."""

    def __init__(self) -> None:
        self.sums: dict[str, Any] = defaultdict(float)
        self.count = 0

    def update(self, values: dict[str, Any]) -> None:
        for key, value in values.items():
            self.sums[key] = self.sums[key] + (value.detach().float() if torch.is_tensor(value) else value)
        self.count += 1

    def pop(self, *, average: bool = False) -> dict[str, float]:
        """The means as floats; with `average`, also averaged over the processes of a
        distributed run (every process must call it at the same step)."""
        keys = list(self.sums)  # the tasks' order, the same on every process
        device = next((v.device for v in self.sums.values() if torch.is_tensor(v)), torch.device("cpu"))
        stacked = torch.stack([torch.as_tensor(self.sums[k], dtype=torch.float32, device=device) for k in keys]) \
            if keys else torch.zeros(0)
        if average and keys:
            torch.distributed.all_reduce(stacked)
            stacked /= torch.distributed.get_world_size()
        values = stacked.tolist()  # the one read from the device
        means = {k: v / max(1, self.count) for k, v in zip(keys, values, strict=True)}
        self.sums.clear()
        self.count = 0
        return means


class MetricLog:
    """Appends one JSON object per line to RUN_DIR/log.jsonl (survives resumes: append mode)."""

    def __init__(self, run_dir: Path, *, tensorboard: bool = True) -> None:
        self.path = run_dir / "log.jsonl"
        self.writer = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter  # needs the tensorboard package
            except ImportError:
                pass
            else:
                self.writer = SummaryWriter(str(run_dir / "tensorboard"))

    def write(self, record: dict[str, Any]) -> None:
        with writing(self.path), self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
        if self.writer is not None:
            for key, value in record.items():
                if key != "step" and isinstance(value, (int, float)):
                    self.writer.add_scalar(key, value, record["step"])

    def image(self, tag: str, image: torch.Tensor, step: int) -> None:
        """A picture (3, H, W) in [-1, 1] (a sample grid) in TensorBoard's Images tab; the PNG in
        samples/ is written by the loop whether TensorBoard is there or not."""
        if self.writer is not None:
            self.writer.add_image(tag, ((image.detach().float().cpu() + 1) / 2).clamp(0, 1), step)

    def drop_after(self, step: int) -> None:
        """Forget records past `step`: a run interrupted after its last checkpoint logged steps
        that the resumed run repeats, and each step should appear once."""
        if not self.path.is_file():
            return
        kept = [json.dumps(record) for record in read_records(self.path) if record.get("step", 0) <= step]
        with atomic_path(self.path) as tmp:
            tmp.write_text("".join(line + "\n" for line in kept), encoding="utf-8")

    def reset(self) -> None:
        """Start an empty log: a fresh run owns the folder, whatever an earlier start logged."""
        if self.path.exists():
            with atomic_path(self.path) as tmp:
                tmp.write_text("", encoding="utf-8")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def read_records(path: Path) -> list[dict[str, Any]]:
    """The records of a JSONL log, skipping a line that is not a whole JSON object: a process
    killed in the middle of `write` leaves a torn last line, which must not make the log unreadable."""
    records: list[dict[str, Any]] = []
    if not path.is_file():  # a run stopped before its first log line has none
        return records
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def read_log(run_dir: Path) -> list[dict[str, Any]]:
    return read_records(Path(run_dir) / "log.jsonl")
