"""The masks deface 1.5.0 would blur, with its defaults; run by benchmarks/faces.py in a separate venv.

Runs with the Python of an environment where `pip install deface==1.5.0 onnxruntime` was done
(deface is no dependency of mosaicgan; this file imports nothing of mosaicgan):

    python benchmarks/faces_deface_masks.py OUT.npz ROOT PHOTO ...

For each photo (a path under ROOT): deface's detector (`CenterFace()` on the photo at its own
size, threshold 0.2), its box scaling (`scale_bb`, mask scale 1.3), the clipping of
`anonymize_frame`, and the ellipse of `draw_det` (skimage.draw.ellipse inside the box), which
is where deface's default `--replacewith blur` changes pixels. Saves one bool mask per photo
(packed bits) and the number of seconds the detector took.
"""

import sys
import time

import imageio.v2 as imageio
import numpy as np
import skimage.draw
from deface.centerface import CenterFace
from deface.deface import scale_bb

THRESHOLD, MASK_SCALE = 0.2, 1.3  # deface's defaults (--thresh, --mask-scale)


def deface_mask(frame: np.ndarray, dets: np.ndarray) -> np.ndarray:
    mask = np.zeros(frame.shape[:2], dtype=bool)
    for det in dets:
        x1, y1, x2, y2 = scale_bb(*det[:4].astype(int), MASK_SCALE)
        y1, y2 = max(0, y1), min(frame.shape[0] - 1, y2)
        x1, x2 = max(0, x1), min(frame.shape[1] - 1, x2)
        roi = mask[y1:y2, x1:x2]
        ey, ex = skimage.draw.ellipse((y2 - y1) // 2, (x2 - x1) // 2, (y2 - y1) // 2, (x2 - x1) // 2)
        keep = (ey < roi.shape[0]) & (ex < roi.shape[1])
        roi[ey[keep], ex[keep]] = True
    return mask


def main() -> int:
    out, root, photos = sys.argv[1], sys.argv[2], sys.argv[3:]
    centerface = CenterFace()
    masks, seconds = {}, {}
    for photo in photos:
        frame = imageio.imread(f"{root}/{photo}")
        if frame.ndim == 3 and frame.shape[2] == 4:
            frame = frame[:, :, :3]
        if frame.ndim == 2:
            frame = np.stack([frame] * 3, axis=2)
        start = time.perf_counter()
        dets, _ = centerface(frame, threshold=THRESHOLD)
        seconds[photo] = time.perf_counter() - start
        masks[photo] = deface_mask(frame, dets)
    np.savez_compressed(out, **{f"mask:{p}": np.packbits(m, axis=1) for p, m in masks.items()},
                        **{f"shape:{p}": np.array(m.shape) for p, m in masks.items()},
                        **{f"seconds:{p}": np.array(s) for p, s in seconds.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
