"""Public-key encryption of a payload, bound to the file it belongs to.

A sealed payload (format version 1), all integers big-endian:

    magic "MGLOCK", version (1 byte), flags (1 byte, 0)
    recipient   32 bytes  the fingerprint of the public key it is sealed to (`keys.fingerprint`)
    ephemeral   32 bytes  a one-time X25519 public key, fresh for every file
    binding     32 bytes  the identity of the anonymized file it belongs to (`identity`)
    prefix       7 bytes  random nonce prefix
    chunk_size   4 bytes  plaintext bytes per chunk
    length       8 bytes  plaintext bytes in all
    then ceil(length / chunk_size) chunks (at least one), each AES-256-GCM ciphertext + 16-byte tag

The key is HKDF-SHA256 of the X25519 agreement between the one-time key and the recipient's key
(salted with both public keys), so only the recipient's private key recomputes it. Chunk i is
encrypted under the nonce prefix || i || last-flag with the whole header as associated data:
changing the header (to point the payload at another file or key), reordering, dropping or
cutting chunks all fail authentication (the STREAM construction of Hoang et al., 2015). Chunks
let a long video's payload be sealed and opened with bounded memory.

What a reader without the private key learns: the key it is sealed to, the file it belongs to,
and its length (which `payload` pads to coarse steps).
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from mosaicgan.errors import UserError
from mosaicgan.lock.crypto import need
from mosaicgan.lock.keys import fingerprint, public_raw, show_fingerprint

MAGIC = b"MGLOCK"
VERSION = 1
_HEAD = struct.Struct(">6sBB32s32s32s7sIQ")
HEADER_SIZE = _HEAD.size  # 123
TAG = 16
CHUNK = 1 << 20
_INFO = b"mosaicgan lock v1: AES-256-GCM key"


class LockError(UserError):
    """A payload that cannot be opened: one line saying why (the caller adds the file)."""


class WrongKey(LockError):
    pass


class OtherFile(LockError):
    pass


class Truncated(LockError):
    pass


class Tampered(LockError):
    pass


@dataclass(frozen=True)
class Header:
    version: int
    recipient: bytes
    ephemeral: bytes
    binding: bytes
    prefix: bytes
    chunk_size: int
    length: int
    raw: bytes

    @property
    def chunks(self) -> int:
        return max(1, -(-self.length // self.chunk_size))

    @property
    def sealed_size(self) -> int:
        """Bytes of the whole sealed payload, header included."""
        return HEADER_SIZE + self.length + TAG * self.chunks


def sealed_size(length: int, *, chunk_size: int = CHUNK) -> int:
    """Bytes of the sealed payload of `length` plaintext bytes (known before sealing)."""
    return HEADER_SIZE + length + TAG * max(1, -(-length // chunk_size))


def looks_sealed(data: bytes) -> bool:
    return data[:len(MAGIC)] == MAGIC


def read_header(data: bytes) -> Header:
    """The clear header at the start of `data`. Raises LockError when there is none."""
    if not looks_sealed(data):
        raise LockError("not a mosaicgan lock payload")
    if len(data) < HEADER_SIZE:
        raise Truncated("the locked payload is truncated (its header is cut short)")
    magic, version, _flags, recipient, ephemeral, binding, prefix, chunk_size, length = _HEAD.unpack_from(data)
    if version != VERSION:
        raise LockError(f"lock format version {version} is not known to this mosaicgan (it reads version "
                        f"{VERSION}); update mosaicgan")
    if chunk_size < 1:
        raise Tampered("the locked payload is damaged (chunk size 0)")
    return Header(version, recipient, ephemeral, binding, prefix, chunk_size, length, bytes(data[:HEADER_SIZE]))


def _key(shared: bytes, ephemeral: bytes, recipient_raw: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=hashlib.sha256(ephemeral + recipient_raw).digest(),
                info=_INFO).derive(shared)


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + struct.pack(">IB", index, int(last))


def seal_stream(read: Callable[[int], bytes], length: int, write: Callable[[bytes], None], *, recipient,
                binding: bytes, chunk_size: int = CHUNK) -> int:
    """Seal `length` bytes that `read(n)` gives to the public key `recipient`, writing the sealed
    payload through `write`. binding: 32 bytes naming the file it belongs to. Returns the bytes
    written."""
    need()
    from cryptography.hazmat.primitives.asymmetric import x25519
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if len(binding) != 32:
        raise ValueError(f"binding must be 32 bytes, got {len(binding)}")
    one_time = x25519.X25519PrivateKey.generate()
    ephemeral = public_raw(one_time)
    recipient_raw = public_raw(recipient)
    aead = AESGCM(_key(one_time.exchange(recipient), ephemeral, recipient_raw))
    header = _HEAD.pack(MAGIC, VERSION, 0, fingerprint(recipient_raw), ephemeral, binding, os.urandom(7),
                        chunk_size, length)
    write(header)
    prefix = header[-19:-12]
    count = max(1, -(-length // chunk_size))
    done = 0
    for i in range(count):
        part = read(min(chunk_size, length - done)) if length else b""
        if len(part) != min(chunk_size, length - done):
            raise ValueError("the payload source ended early")
        done += len(part)
        write(aead.encrypt(_nonce(prefix, i, i == count - 1), part, header))
    return HEADER_SIZE + length + TAG * count


def seal(plaintext: bytes, *, recipient, binding: bytes, chunk_size: int = CHUNK) -> bytes:
    """`seal_stream` for bytes in memory."""
    out = io.BytesIO()
    seal_stream(io.BytesIO(plaintext).read, len(plaintext), out.write, recipient=recipient, binding=binding,
                chunk_size=chunk_size)
    return out.getvalue()


def check_opener(header: Header, *, private_key, binding: bytes) -> None:
    """The checks that need no decryption, in the order that names the likeliest cause:
    another key, then another file."""
    mine = fingerprint(public_raw(private_key))
    if header.recipient != mine:
        raise WrongKey(f"locked to another key ({show_fingerprint(header.recipient)}), not to this one "
                       f"({show_fingerprint(mine)})")
    if header.binding != binding:
        raise OtherFile("the locked payload belongs to another file (or this file's pixels were changed since "
                        "it was locked)")


def open_stream(read: Callable[[int], bytes], size: int, *, private_key, binding: bytes) -> Iterator[bytes]:
    """The plaintext of a sealed payload of `size` bytes that `read(n)` gives, chunk by chunk.
    Raises WrongKey, OtherFile, Truncated or Tampered (LockErrors); a chunk is given only once
    it is authenticated, but a consumer must still wait for the end before trusting the whole."""
    need()
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.asymmetric import x25519
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    header = read_header(read(HEADER_SIZE))
    check_opener(header, private_key=private_key, binding=binding)
    if size < header.sealed_size:
        raise Truncated(f"the locked payload is truncated ({size} of {header.sealed_size} bytes)")
    if size > header.sealed_size:
        raise Tampered(f"the locked payload is damaged ({size - header.sealed_size} bytes too many)")
    shared = private_key.exchange(x25519.X25519PublicKey.from_public_bytes(header.ephemeral))
    aead = AESGCM(_key(shared, header.ephemeral, public_raw(private_key)))
    left = header.length
    for i in range(header.chunks):
        n = min(header.chunk_size, left)
        data = read(n + TAG)
        if len(data) != n + TAG:
            raise Truncated("the locked payload is truncated")
        try:
            plain = aead.decrypt(_nonce(header.prefix, i, i == header.chunks - 1), data, header.raw)
        except InvalidTag:
            raise Tampered("the locked payload was altered or is damaged (it fails authentication)") from None
        left -= n
        yield plain


def open_sealed(blob: bytes, *, private_key, binding: bytes) -> bytes:
    """`open_stream` for a payload in memory: the whole plaintext, or a LockError."""
    return b"".join(open_stream(io.BytesIO(blob).read, len(blob), private_key=private_key, binding=binding))
