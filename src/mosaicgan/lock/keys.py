"""Key pairs for locking: X25519, stored as PEM files that `mosaicgan keygen` writes.

- NAME.key: the private key (PKCS #8 PEM), created readable by its owner only (mode 0600),
  optionally encrypted with a passphrase. It is the only way back to the original pixels:
  lost, the originals in every file locked to it are gone for good.
- NAME.pub: the public key (SubjectPublicKeyInfo PEM). It locks files; it cannot unlock them,
  so it may be copied to every machine that anonymizes.
A key's fingerprint is the SHA-256 of its raw 32 public bytes; it is written in the clear in
every locked file, so `info` can say which key opens it (without the key).
Key files are never overwritten: a new key pair in place of an old one would orphan every
file locked to the old one.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from mosaicgan.errors import UserError
from mosaicgan.lock.crypto import need

PASSPHRASE_ENV = "MOSAICGAN_KEY_PASSPHRASE"
PRIVATE_SUFFIX, PUBLIC_SUFFIX = ".key", ".pub"


def fingerprint(public_raw: bytes) -> bytes:
    """The 32-byte identity of a public key (its raw X25519 bytes hashed)."""
    return hashlib.sha256(b"mosaicgan-key-v1\x00" + public_raw).digest()


def show_fingerprint(digest: bytes) -> str:
    """The short form people compare: 'SHA256:' and the first 16 hex digits."""
    return f"SHA256:{digest.hex()[:16]}"


@dataclass(frozen=True)
class KeyPair:
    private: Path
    public: Path
    fingerprint: bytes


def generate_key_pair(out_dir: str | Path, *, name: str = "mosaicgan", passphrase: bytes | None = None) -> KeyPair:
    """Write NAME.key (mode 0600) and NAME.pub into `out_dir` (made if missing). Refuses when
    either exists. passphrase: encrypt the private key file with it (None: not encrypted)."""
    need()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import x25519

    if not name or "/" in name or name.startswith("."):
        raise UserError(f"--name must be a plain file name, got {name!r}")
    out = Path(out_dir)
    private_path, public_path = out / f"{name}{PRIVATE_SUFFIX}", out / f"{name}{PUBLIC_SUFFIX}"
    for path in (private_path, public_path):
        if path.exists():
            raise UserError("exists; a key file is never overwritten (the files locked to it would be lost for "
                            "good); choose another --out or --name", path=path)
    if out.exists() and not out.is_dir():
        raise UserError("--out is an existing file, not a folder", path=out)
    key = x25519.X25519PrivateKey.generate()
    encryption = (serialization.BestAvailableEncryption(passphrase) if passphrase
                  else serialization.NoEncryption())
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    public_raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    try:
        out.mkdir(parents=True, exist_ok=True)
        _write_new(private_path, private_pem, mode=0o600)
        try:
            _write_new(public_path, public_pem, mode=0o644)
        except BaseException:
            private_path.unlink(missing_ok=True)
            raise
    except OSError as err:
        raise UserError(f"cannot write the key files ({err.strerror or err})", path=out) from None
    return KeyPair(private_path, public_path, fingerprint(public_raw))


def _write_new(path: Path, data: bytes, *, mode: int) -> None:
    """Create `path` with `mode` (never replacing a file), write it whole or not at all."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(path, mode)  # (the umask may have cleared bits of a 0644 public key)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _read(path: Path, flag: str) -> bytes:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{flag}: no such key file", path=path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise UserError(f"{flag}: cannot read the key file ({err.strerror})", path=path) from None
    if len(data) > 64 * 1024:
        raise UserError(f"{flag}: not a key file (too large)", path=path)
    return data


def load_public_key(path: str | Path, *, flag: str = "--lock-to"):
    """The X25519 public key of a NAME.pub file. A private key file is refused: the private key
    should not travel to the machine that anonymizes."""
    need()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import x25519

    data = _read(Path(path), flag)
    if b"PRIVATE KEY" in data:
        raise UserError(f"{flag} takes the public key (NAME{PUBLIC_SUFFIX}), and this is a private key; keep the "
                        "private key off the machine that anonymizes", path=path)
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        raise UserError(f"{flag}: not a public key file (make one with `mosaicgan keygen`)", path=path) from None
    if not isinstance(key, x25519.X25519PublicKey):
        raise UserError(f"{flag}: not an X25519 key (make one with `mosaicgan keygen`)", path=path)
    return key


def load_private_key(path: str | Path, *, passphrase: bytes | None = None, flag: str = "--unlock"):
    """The X25519 private key of a NAME.key file. passphrase: for an encrypted key file (None:
    the environment variable MOSAICGAN_KEY_PASSPHRASE, if set)."""
    need()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import x25519

    data = _read(Path(path), flag)
    if b"PRIVATE KEY" not in data:
        what = "a public key" if b"PUBLIC KEY" in data else "not a key file"
        raise UserError(f"{flag} needs the private key (NAME{PRIVATE_SUFFIX}); this is {what}, and a public key "
                        "cannot unlock", path=path)
    if passphrase is None and os.environ.get(PASSPHRASE_ENV):
        passphrase = os.environ[PASSPHRASE_ENV].encode("utf-8")
    try:
        key = serialization.load_pem_private_key(data, password=passphrase)
    except TypeError:
        if passphrase is None:
            raise UserError(f"{flag}: the private key is protected by a passphrase; set {PASSPHRASE_ENV}",
                            path=path) from None
        raise UserError(f"{flag}: the private key is not protected by a passphrase; unset {PASSPHRASE_ENV}",
                        path=path) from None
    except ValueError:
        why = "wrong passphrase, or a damaged key file" if passphrase else "a damaged key file"
        raise UserError(f"{flag}: cannot read the private key ({why})", path=path) from None
    if not isinstance(key, x25519.X25519PrivateKey):
        raise UserError(f"{flag}: not an X25519 key (make one with `mosaicgan keygen`)", path=path)
    return key


def public_raw(key) -> bytes:
    """The raw 32 bytes of an X25519 public key (or of a private key's public half)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import x25519

    if isinstance(key, x25519.X25519PrivateKey):
        key = key.public_key()
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
