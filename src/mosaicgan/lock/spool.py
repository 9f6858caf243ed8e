"""A temporary file for a payload that grows while a video is written, so that the original
pixels never lie on disk in the clear: every chunk is encrypted (AES-256-GCM) under a key that
lives in this process's memory only, and the file has no name (it is gone when closed, or when
the process dies). Read back once, in order, to be sealed to the recipient (`seal.seal_stream`).
"""

from __future__ import annotations

import struct
import tempfile
from collections.abc import Callable
from pathlib import Path

from mosaicgan.lock.crypto import need

CHUNK = 1 << 20
TAG = 16


class EncryptedSpool:
    """write(bytes) any number of times, then `reader()` gives read(n) over what was written."""

    def __init__(self, *, folder: str | Path | None = None, chunk: int = CHUNK) -> None:
        need()
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._aead = AESGCM(AESGCM.generate_key(bit_length=256))
        self._file = tempfile.TemporaryFile(dir=folder)
        self._chunk, self._buf, self._count = chunk, bytearray(), 0
        self.length = 0
        self._closed_for_writing = False

    def _nonce(self, index: int) -> bytes:
        return struct.pack(">4xQ", index)

    def _flush(self, part: bytes) -> None:
        self._file.write(self._aead.encrypt(self._nonce(self._count), part, None))
        self._count += 1

    def write(self, data: bytes) -> int:
        if self._closed_for_writing:
            raise ValueError("the spool is being read")
        self._buf += data
        self.length += len(data)
        while len(self._buf) >= self._chunk:
            self._flush(bytes(self._buf[:self._chunk]))
            del self._buf[:self._chunk]
        return len(data)

    def reader(self) -> Callable[[int], bytes]:
        """read(n): the next n bytes written (fewer only at the end). Ends writing."""
        if not self._closed_for_writing:
            if self._buf:
                self._flush(bytes(self._buf))
                self._buf = bytearray()
            self._closed_for_writing = True
        self._file.seek(0)
        state = {"index": 0, "plain": b"", "pos": 0}
        sizes = [self._chunk] * (self.length // self._chunk) + ([self.length % self._chunk] if self.length % self._chunk
                                                                 else [])

        def read(n: int) -> bytes:
            out = bytearray()
            while len(out) < n:
                if state["pos"] == len(state["plain"]):
                    if state["index"] == len(sizes):
                        break
                    data = self._file.read(sizes[state["index"]] + TAG)
                    state["plain"] = self._aead.decrypt(self._nonce(state["index"]), data, None)
                    state["index"] += 1
                    state["pos"] = 0
                take = min(n - len(out), len(state["plain"]) - state["pos"])
                out += state["plain"][state["pos"]:state["pos"] + take]
                state["pos"] += take
            return bytes(out)

        return read

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> EncryptedSpool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
