"""Training images decoded once into one uint8 file that every loader process memory-maps.

pix2pix and CycleGAN data sets, as the reference has them, decode each file and resize it
again every time a sample is drawn: for 1024-pixel JPEG pairs that is ~30 ms a sample on one
core of a 2-core EPYC, more than a GPU step. The resize before the random crop depends only on
the image's size and the preset, so it is done once too; a sample is then a crop and a flip of
a stored array (benchmarks/data_speed.py). The arrays are the same bytes the per-sample path
produces, so training sees identical tensors.

The file lives in the run folder (RUN/cache/) with a JSON index beside it that names what it
was made from (each file's path, size, inode and times, the preprocessing, Pillow's version); a cache
whose index does not match is made again, so changed data is never served stale. Memory-mapped
rather than held in each process: loader workers share the pages, and the operating system
can drop them under memory pressure.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import PIL

from mosaicgan.atomic import atomic_path, writing
from mosaicgan.errors import UserError

VERSION = 1
# Leave at least this share of the free disk space to checkpoints and samples.
MAX_SHARE_OF_FREE_DISK = 0.5


class DecodeCache:
    """Item i: a read-only uint8 (H, W, C) view into the memory-mapped file.

    The map is opened on first use in each process: pickling the cache (to a spawned loader
    worker) sends its path and index, not its contents."""

    def __init__(self, path: Path, entries: list[tuple[int, int, int, int]]) -> None:
        self.path, self.entries = Path(path), [tuple(e) for e in entries]
        self._map: np.memmap | None = None

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def nbytes(self) -> int:
        return sum(h * w * c for _, h, w, c in self.entries)

    def __getitem__(self, i: int) -> np.ndarray:
        if self._map is None:
            self._map = np.memmap(self.path, dtype=np.uint8, mode="r")
        offset, h, w, c = self.entries[i]
        return self._map[offset:offset + h * w * c].reshape(h, w, c)

    def __getstate__(self) -> dict:
        return {"path": self.path, "entries": self.entries, "_map": None}


def source_key(files: Iterable[Path], recipe: dict) -> str:
    """What a cache was made from: each file's path, size, inode, modification and change times
    (ns), the preprocessing that shaped the arrays, and the Pillow that decoded and resized them.

    The inode and change time too, since a file rewritten at the same size with its old
    modification time restored (a copy tool, or a file system with 2-second times) would pass
    on size and mtime alone; no tool can set the change time back."""
    h = hashlib.sha256(json.dumps({**recipe, "pillow": PIL.__version__}, sort_keys=True).encode())
    for f in files:
        try:
            st = Path(f).stat()
        except OSError as err:
            raise UserError(f"cannot read image ({err.strerror})", path=f) from None
        h.update(f"\0{Path(f).resolve()}\0{st.st_size}\0{st.st_ino}\0{st.st_mtime_ns}\0{st.st_ctime_ns}".encode())
    return h.hexdigest()


def _index_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def open_cache(path: Path, *, key: str) -> DecodeCache | None:
    """The cache at `path` if its index says it was made from `key` and the file is whole."""
    try:
        meta = json.loads(_index_path(path).read_text())
        if meta["version"] != VERSION or meta["key"] != key or path.stat().st_size != meta["bytes"]:
            return None
        return DecodeCache(path, meta["entries"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def fits_on_disk(folder: Path, nbytes: int) -> bool:
    with writing(folder):
        folder.mkdir(parents=True, exist_ok=True)
    return nbytes <= shutil.disk_usage(folder).free * MAX_SHARE_OF_FREE_DISK


def build_cache(path: Path, *, key: str, arrays: Callable[[], Iterator[np.ndarray]]) -> DecodeCache:
    """Write every array `arrays()` yields, in order, then the index (both atomically: a cut-short
    build leaves no file that `open_cache` would take)."""
    entries: list[tuple[int, int, int, int]] = []
    offset = 0
    # The old index goes first: one left beside a newer data file could otherwise describe it.
    with writing(path):
        _index_path(path).unlink(missing_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:  # atomic_path turns failed writes into UserErrors
        for arr in arrays():
            arr = np.ascontiguousarray(arr if arr.ndim == 3 else arr[:, :, None], dtype=np.uint8)
            f.write(memoryview(arr).cast("B"))
            entries.append((offset, *arr.shape))
            offset += arr.nbytes
    meta = {"version": VERSION, "key": key, "bytes": offset, "entries": entries}
    with atomic_path(_index_path(path)) as tmp:
        tmp.write_text(json.dumps(meta))
    return DecodeCache(path, entries)


def cached_arrays(path: Path, *, files: Iterable[Path], recipe: dict, nbytes: int,
                  arrays: Callable[[], Iterator[np.ndarray]], build: bool = True) -> DecodeCache | None:
    """The cache at `path` made from these files with this recipe: reused when its index
    matches, else made (if `build`; `nbytes`: its expected size); None when there is none and
    it is not to be made, or would take more than MAX_SHARE_OF_FREE_DISK of the free disk space
    (the data set then decodes per sample)."""
    key = source_key(files, recipe)
    cache = open_cache(path, key=key)
    if cache is None and build and fits_on_disk(path.parent, nbytes):
        cache = build_cache(path, key=key, arrays=arrays)
    return cache
