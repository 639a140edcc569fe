"""Images of pages (photographs, scans, faxes): their text read by OCR.

PNG, JPEG, TIFF (every page of a multi-page TIFF), BMP and WebP. A photo's
EXIF orientation is applied first, as every image viewer does, so boxes match
the picture a person sees. An image too large to decode safely is refused
before it is decoded; one without text is skipped with that reason.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

from rag.loaders._common import (
    DEFAULT_OPTIONS,
    OCR_OFF_REASON,
    LoadedDocument,
    LoadError,
    LoadOptions,
    NoTextError,
)
from rag.loaders._ocr import PageReader
from rag.types import Page

SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"})
REQUIRES = ("PIL", "rapidocr_onnxruntime", "wordninja")

_DAMAGED = "not a valid image (damaged or truncated)"


def load(path: Path, options: LoadOptions = DEFAULT_OPTIONS) -> LoadedDocument:
    if not options.ocr:
        raise NoTextError(OCR_OFF_REASON)
    image = _open(path)
    frames = getattr(image, "n_frames", 1)
    return LoadedDocument(title=path.stem, pages=_pages(path, image, frames, options))


def _open(path: Path):  # -> PIL.Image.Image, not decoded yet
    from PIL import Image, UnidentifiedImageError

    from rag.ocr import MAX_PIXELS

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
    except Image.DecompressionBombError as err:
        raise LoadError(_too_large(_pixels_from(err))) from err
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
        if isinstance(err, PermissionError | FileNotFoundError):
            raise
        raise LoadError(_DAMAGED) from err
    width, height = image.size
    if width * height > MAX_PIXELS:
        image.close()
        raise LoadError(_too_large(width * height))
    return image


def _pixels_from(err: Exception) -> int:
    """The pixel count Pillow names in its decompression-bomb message."""
    import re

    numbers = [int(n) for n in re.findall(r"\d+", str(err))]
    return numbers[0] if numbers else 0


def _too_large(pixels: int) -> str:
    from rag.ocr import MAX_PIXELS

    return (
        f"image too large to read ({pixels / 1e6:,.0f} megapixels; "
        f"at most {MAX_PIXELS // 1_000_000})"
    )


def _pages(path: Path, image, frames: int, options: LoadOptions) -> Iterator[Page]:
    from rag.ocr import MAX_PIXELS

    reader = PageReader(path, options, frames, paged=False)
    found = False
    try:
        for index in range(frames):
            try:
                image.seek(index)
                if image.size[0] * image.size[1] > MAX_PIXELS:
                    raise LoadError(_too_large(image.size[0] * image.size[1]))
            except EOFError:
                break
            result = reader.read(index + 1, lambda: _frame(image))
            text = result.text
            if text.strip():
                found = True
                yield Page(text=text, number=index + 1 if frames > 1 else None)
    except (OSError, ValueError, SyntaxError) as err:
        if isinstance(err, PermissionError | FileNotFoundError):
            raise
        raise LoadError(_DAMAGED) from err
    finally:
        image.close()
    if not found:
        raise NoTextError("no text found in the image")


def _frame(image):  # -> (RGB array, 1.0): boxes in the image's own pixels
    import numpy as np
    from PIL import ImageOps

    upright = ImageOps.exif_transpose(image).convert("RGB")
    return np.asarray(upright), 1.0
