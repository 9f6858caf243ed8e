"""Locking and unlocking files: the adapters between `add` / `remove` and the pure `mosaicgan.lock`.

- `options`: what the user asked (--lock-to KEY.pub [--lock-sidecar], --unlock KEY.key), checked
  and loaded before anything is written;
- `still`: an image's anonymized bytes with the sealed originals of its regions inside (or a
  sidecar beside it), and the way back;
- `video`: the same for a video, frame by frame (a frame-stage hook for `add`, a frame stage for
  `remove --unlock`).
"""
