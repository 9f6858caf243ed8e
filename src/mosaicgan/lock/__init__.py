"""Reversible anonymization: the original pixels of every anonymized region, kept inside the
anonymized file (or beside it), compressed losslessly and encrypted to a public key.

Pure parts only, no knowledge of `add` or `remove`:
- `keys`: X25519 key pairs on disk, fingerprints;
- `seal`: public-key encryption of a byte string bound to the file it belongs to
  (X25519 + HKDF-SHA256 + AES-256-GCM, a fresh key per file, in authenticated chunks);
- `payload`: region crops (any frame, any channels, 8 or 16 bits) to bytes and back, PNG-compressed;
- `containers`: where the sealed bytes live in a PNG, JPEG, WebP or TIFF file, an MP4/MOV file,
  or a sidecar file;
- `identity`: the digests that bind a payload to its file.
The file adapters that use them are `infer/lock/`. docs/privacy.md describes the format.
"""
