"""Recognising page images for the loaders: the cache, progress, cancellation, memory.

Each page image is rendered, recognised and dropped before the next one is
rendered, so a 200-page scan holds one page image at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rag.loaders._common import LoadError, LoadOptions


class PageReader:
    """Reads the page images of one file, through the OCR cache when there is one."""

    def __init__(self, path: Path, options: LoadOptions, total: int, paged: bool = True) -> None:
        self.path = path
        self.options = options
        self.total = total
        self.paged = paged or total > 1  # "OCR page 3 of 40", or "OCR of the image"
        self._digest = options.digest

    @property
    def digest(self) -> str:
        if not self._digest:
            from rag.scan import content_hash

            self._digest = content_hash(self.path)
        return self._digest

    def read(self, number: int, render: Callable[[], tuple[object, float]]):  # -> OcrPage
        """The OCR of page ``number`` (1-based); ``render`` gives (RGB array, pixels per unit)."""
        from rag.ocr import recognise

        options = self.options
        if options.should_stop is not None and options.should_stop():
            raise LoadError("stopped before it was read")
        cache = options.cache
        if cache is not None:
            cached = cache.get(self.digest, number)
            if cached is not None:
                return cached
        if options.on_progress is not None:
            options.on_progress(
                f"OCR page {number} of {self.total}" if self.paged else "OCR of the image"
            )
        image, scale = render()
        try:
            result = recognise(image, scale)
        except MemoryError:
            raise
        except Exception as err:  # onnxruntime or OpenCV on an odd image: say where, go on
            where = f"page {number}" if self.paged else "the image"
            raise LoadError(f"OCR failed on {where} ({type(err).__name__}: {err})") from err
        finally:
            del image
        if cache is not None:
            cache.put(self.digest, number, result)
        return result
