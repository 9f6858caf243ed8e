"""Reading, listing and writing images, with one-line errors that name the file.

Conversion between PIL images and tensors in [-1, 1] lives here too, so every entry point
(training data, translate, add, make-pairs) treats modes (grey, RGBA, palette) the same way.
"""

from __future__ import annotations

import functools
import glob
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from mosaicgan.atomic import atomic_path
from mosaicgan.data.file_kind import IMAGE_EXTENSIONS, file_kind, is_license_name
from mosaicgan.errors import UserError

# The suffix of a locked file's sidecar (infer/lock/options.SIDECAR_SUFFIX, which a test keeps equal).
LOCK_SIDECAR = ".locked"

# Larger images are refused from their header, before decoding: PIL's own decompression-bomb
# limit (89.5 megapixels, about 9500 x 9500), which a full-size photo stays far below.
MAX_PIXELS = 89_478_485


def _too_large(size: tuple[int, int], path: Path) -> UserError:
    w, h = size
    return UserError(f"image too large ({w} x {h}; limit {MAX_PIXELS / 1e6:.1f} megapixels)", path=path)


# Formats whose files may hold several pictures that are all the content (frames, pages).
# A camera's MPO (a JPEG with a preview or depth picture after the photo) is read as its first.
_MULTI_FRAME = {"GIF": ("an animated GIF", "frames"), "PNG": ("an animated PNG", "frames"),
                "WEBP": ("an animated WebP", "frames"), "TIFF": ("a multi-page TIFF", "pages")}


def open_image(path: Path) -> Image.Image:
    """Image.open with the size limit as a one-line UserError, checked on the header's size.

    An image of several frames or pages (animated GIF, PNG or WebP, multi-page TIFF) is refused
    in one line: every command reads and writes one picture per file, and taking the first
    frame would drop the others without a word. (Such a file is a video to these tools:
    converted to one, every frame goes through the video path.)
    """
    limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None  # PIL would warn or raise its own error; the check below says it in one line
    try:
        img = Image.open(path)
    finally:
        Image.MAX_IMAGE_PIXELS = limit
    if img.size[0] * img.size[1] > MAX_PIXELS:
        img.close()
        raise _too_large(img.size, path)
    if img.format in _MULTI_FRAME and getattr(img, "is_animated", False):
        what, unit = _MULTI_FRAME[img.format]
        count = getattr(img, "n_frames", 2)
        img.close()
        advice = ("split the pages into files" if unit == "pages"
                  else "convert it to a video (e.g. ffmpeg -i NAME NAME.mp4) and give that")
        raise UserError(f"{what} of {count} {unit}; only single pictures are read (one {unit[:-1]} would be "
                        f"taken and the rest dropped): {advice}", path=path)
    return img


def to_8bit(img: Image.Image, *, path: Path) -> Image.Image:
    """High-bit-depth images (16-bit and 32-bit integer grey, float grey) scaled to 8 bits.

    PIL's own `convert` clips such values at 255 (a 16-bit photo turns almost white, a float
    one in [0, 1] black), so every reader goes through this first. Integer images: values
    up to 255 are taken as 8-bit, up to 65535 as 16-bit. Float images: values in [0, 1] or
    [0, 255]. Anything else is refused rather than guessed. (16-bit colour PNGs are already
    read as 8-bit by PIL, correctly.)
    """
    if img.mode.startswith("I;16"):
        arr = np.asarray(img).astype(np.float64) / 257.0
    elif img.mode == "I":
        arr = np.asarray(img).astype(np.float64)
        low, high = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
        if low < 0 or high > 65535:
            raise UserError(f"32-bit integer image with values {low:g}..{high:g}; only 0..255 (8-bit) "
                            "and 0..65535 (16-bit) ranges are read", path=path)
        if high > 255:
            arr /= 257.0
    elif img.mode == "F":
        arr = np.asarray(img).astype(np.float64)
        if not np.isfinite(arr).all():
            raise UserError("float image holds NaN or infinite values", path=path)
        low, high = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
        if low < 0 or high > 255:
            raise UserError(f"float image with values {low:g}..{high:g}; only 0..1 and 0..255 are read", path=path)
        if high <= 1.0:
            arr = arr * 255.0
    else:
        return img
    return Image.fromarray(np.rint(arr).clip(0, 255).astype(np.uint8))


def is_image_name(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def read_image(path: str | Path, *, mode: str = "RGB") -> Image.Image:
    """Open and fully decode an image, converted to `mode` ("RGB", "L" or "RGBA").

    Palette and other modes are converted through RGBA so transparency is kept where asked.
    Photos are turned upright by their EXIF orientation tag, as viewers show them (outputs are
    written without the tag, so an unturned photo would come out sideways).
    A missing, truncated or non-image file raises UserError naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError("no such image file", path=path)
    try:
        with open_image(path) as img:
            img.load()
            img = to_8bit(ImageOps.exif_transpose(img), path=path)
            if img.mode == "P" or img.mode == "LA" or (img.mode != mode and "transparency" in img.info):
                img = img.convert("RGBA")
            return img.convert(mode) if img.mode != mode else img.copy()
    except UnidentifiedImageError:
        raise UserError("not an image (cannot identify the file format)", path=path) from None
    except (OSError, SyntaxError, ValueError) as err:
        raise UserError(f"cannot decode image ({err})", path=path) from None


# EXIF orientations 5-8 turn the stored picture by 90 degrees: displayed width and height swap.
_TRANSPOSING_ORIENTATIONS = (5, 6, 7, 8)


def probe_image(path: str | Path, *, decode: bool = False) -> tuple[int, int]:
    """(width, height) of an image as `read_image` returns it (EXIF orientation applied), from
    its header alone (cheap). A missing or non-image file raises UserError naming it.

    With `decode`, the whole file is decoded too (JPEGs at 1/8 scale, which still reads every
    byte), so a truncated or corrupt image is found before a long job starts, not when it
    reaches the file."""
    path = Path(path)
    try:
        with open_image(path) as img:
            w, h = img.size
            orientation = img.getexif().get(0x0112, 1)
            if decode:
                img.draft(img.mode, (max(1, w // 8), max(1, h // 8)))
                img.load()
    except FileNotFoundError:
        raise UserError("no such image file", path=path) from None
    except UserError:
        raise
    except PermissionError:
        raise UserError("cannot read image (permission denied)", path=path) from None
    except UnidentifiedImageError:
        raise UserError("not a readable image", path=path) from None
    except (OSError, SyntaxError, ValueError) as err:
        if decode and path.is_file():
            raise UserError(f"cannot decode image ({err})", path=path) from None
        raise UserError("not a readable image", path=path) from None
    except Exception:  # noqa: BLE001  (PIL raises many kinds for a bad header)
        raise UserError("not a readable image", path=path) from None
    return (h, w) if orientation in _TRANSPOSING_ORIENTATIONS else (w, h)


def _folder_files(folder: Path, *, recursive: bool) -> list[Path]:
    """The files of `folder` (and its sub-folders), sorted; hidden files and folders, a data
    set's license (`file_kind.is_license_name`) and the sidecars of locked files
    (NAME.ext.locked: read beside their file, see infer/lock) left out."""
    entries = sorted(folder.rglob("*") if recursive else folder.iterdir())
    return [entry for entry in entries
            if not any(part.startswith(".") for part in entry.relative_to(folder).parts)
            and not entry.is_dir() and not is_license_name(entry) and not entry.name.endswith(LOCK_SIDECAR)]


def list_images(folder: str | Path, *, recursive: bool = False) -> list[Path]:
    """Image files in `folder` (by name), sorted: the one rule of every training data folder.

    Hidden files, a license file and the sidecars of locked files are skipped. Any other
    non-image file is an error (naming it) rather than silently ignored, so a data set is
    exactly what the user put there. An empty or missing folder is an error too.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError("no such folder", path=folder)
    images = []
    for entry in _folder_files(folder, recursive=recursive):
        if not is_image_name(entry):
            raise UserError(
                f"not an image file (expected one of {', '.join(IMAGE_EXTENSIONS)}); "
                "move it out of the data folder",
                path=entry,
            )
        images.append(entry)
    if not images:
        raise UserError("folder holds no images", path=folder)
    return images


def expand_inputs(inputs: list[str | Path]) -> list[Path]:
    """The INPUT arguments of a media command -> a sorted, de-duplicated list of files.

    A file is taken as given (its reader names it if it is not what it should be). A folder
    (not recursive: hidden files and a license skipped) and a glob pattern give their images
    and videos, found by content (`file_kind`), so a folder may mix photos and clips; any other
    file found there is refused in one line naming it. (Commands that take images only refuse
    the videos among them: `jobs.media`.)
    """
    found: list[Path] = []
    for item in inputs:
        text = str(item)
        path = Path(text)
        if path.is_dir():
            media = [_media_file(p) for p in _folder_files(path, recursive=False)]
            if not media:
                raise UserError("folder holds no images or videos", path=path)
            found.extend(media)
        elif path.is_file():
            found.append(path)
        elif glob.has_magic(text):
            matches = sorted(Path(m) for m in glob.glob(text)
                             if Path(m).is_file() and not is_license_name(m) and not m.endswith(LOCK_SIDECAR))
            if not matches:
                raise UserError("pattern matches no image or video files", path=text)
            found.extend(_media_file(p) for p in matches)
        else:
            raise UserError("no such file or folder", path=text)
    unique = list(dict.fromkeys(p.resolve() for p in found))
    if not unique:
        raise UserError("no input images given")
    return unique


def _media_file(path: Path) -> Path:
    if file_kind(path) is None:
        raise UserError("not an image or a video (by its content); move it out of the folder or name the files",
                        path=path)
    return path


def pil_to_tensor(img: Image.Image) -> torch.Tensor:
    """PIL image (L, RGB or RGBA) -> float tensor (C, H, W) in [-1, 1]."""
    return array_to_tensor(np.asarray(img, dtype=np.uint8))


def array_to_tensor(arr: np.ndarray) -> torch.Tensor:
    """uint8 array (H, W) or (H, W, C) -> float tensor (C, H, W) in [-1, 1] (a copy)."""
    return uint8_to_unit(array_to_uint8_tensor(arr))


def array_to_uint8_tensor(arr: np.ndarray) -> torch.Tensor:
    """uint8 array (H, W) or (H, W, C) -> uint8 tensor (C, H, W) (a copy), for `uint8_to_unit`
    to finish later, where the batch is used."""
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.strides[1] < 0:
        # A mirrored view (crop_and_flip): numpy copies it pixel by pixel, ~13x slower than a
        # plain copy and torch's flip of it (256x256 RGB: 326 against 25 us).
        return torch.from_numpy(arr[:, ::-1].copy()).flip(1).permute(2, 0, 1)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1)


def uint8_to_unit(t: torch.Tensor) -> torch.Tensor:
    """uint8 tensor (..., C, H, W) -> float in [-1, 1]: the one 8-bit-to-float conversion (the
    data sets' and the training loop's, which does it on the device), with the CPU's values on
    every device."""
    if t.device.type == "cpu":
        return t.float().div_(127.5).sub_(1.0)
    # CUDA divides by a Python number as a product with its reciprocal, one bit off for 111 of
    # the 256 values: look the CPU's up instead.
    return uint8_to_unit_by_table(t)


def uint8_to_unit_by_table(t: torch.Tensor) -> torch.Tensor:
    """`uint8_to_unit` as a lookup of the CPU's 256 values, into the input's memory layout."""
    out = torch.empty_like(t, dtype=torch.float32)
    return out.copy_(_unit_table(t.device)[t.long()])


@functools.lru_cache(maxsize=8)
def _unit_table(device: torch.device) -> torch.Tensor:
    return uint8_to_unit(torch.arange(256, dtype=torch.uint8)).to(device)


def tensor_to_uint8(t: torch.Tensor) -> np.ndarray:
    """Tensor (C, H, W) in [-1, 1] -> uint8 array (H, W, C), rounded: the one float-to-8-bit
    rule, so an image converted band by band is the same as one converted whole."""
    if t.ndim != 3:
        raise ValueError(f"expected a (C, H, W) tensor, got {tuple(t.shape)}")
    # One float copy (clamp), then in place: a band of a large upscale is hundreds of MB.
    arr = t.detach().float().cpu().clamp(-1, 1).add_(1).mul_(127.5).round_().to(torch.uint8)
    return arr.permute(1, 2, 0).numpy()


def uint8_to_pil(arr: np.ndarray) -> Image.Image:
    """uint8 array (H, W, C) with C in {1, 3, 4} -> PIL image (L, RGB or RGBA)."""
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise ValueError(f"expected a uint8 (H, W, C) array with C in 1, 3, 4; got {arr.dtype} {arr.shape}")
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[arr.shape[2]]
    return Image.fromarray(arr[:, :, 0] if mode == "L" else arr, mode=mode)


def tensor_to_pil(t: torch.Tensor) -> Image.Image:
    """Tensor (C, H, W) in [-1, 1] with C in {1, 3, 4} -> PIL image (L, RGB or RGBA), rounded."""
    if t.ndim != 3 or t.shape[0] not in (1, 3, 4):
        raise ValueError(f"expected a (C, H, W) tensor with C in 1, 3, 4; got {tuple(t.shape)}")
    return uint8_to_pil(tensor_to_uint8(t))


def save_image(img: Image.Image | torch.Tensor, path: str | Path, **save_kwargs) -> Path:
    """Write an image atomically (temporary file in the same folder, then rename).

    A reader never sees half a file, and an existing file is only replaced once the new one
    is complete.
    """
    if isinstance(img, torch.Tensor):
        img = tensor_to_pil(img)
    path = Path(path)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise UserError("unknown image extension for output", path=path)
    if fmt == "JPEG" and img.mode not in ("RGB", "L"):
        img = img.convert("RGB")
    with atomic_path(path) as tmp:
        img.save(tmp, format=fmt, **save_kwargs)
    return path


def image_grid(columns: list[torch.Tensor], *, max_rows: int = 4) -> torch.Tensor:
    """Columns of image batches (N, C, H, W) in [-1, 1] -> one (3, rows*H, cols*W) tensor.

    Row i shows item i of every column side by side (e.g. input | output | target); grey
    columns are repeated to RGB, and differing sizes are resized to the first column's.
    """
    rows = min(max_rows, columns[0].shape[0])
    h, w = columns[0].shape[-2:]
    cells = []
    for col in columns:
        col = col[:rows].detach().float().cpu()
        if col.shape[1] == 1:
            col = col.expand(-1, 3, -1, -1)
        if col.shape[-2:] != (h, w):
            col = torch.nn.functional.interpolate(col, size=(h, w), mode="bilinear", align_corners=False)
        cells.append(col[:, :3])
    # (cols, rows, 3, H, W) -> (3, rows*H, cols*W)
    stacked = torch.stack(cells)
    return stacked.permute(2, 1, 3, 0, 4).reshape(3, rows * h, len(columns) * w)
