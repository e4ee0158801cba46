"""Text in images: RapidOCR (PP-OCRv4 Chinese detection and recognition, ONNX Runtime on CPU).

The models ship inside the `rapidocr-onnxruntime` wheel, so reading needs nothing from a network.
`read` finds the lines of text in an image (or a region of it) and recognises each; `recognise`
reads one known line again, which costs a fraction of finding it. The direction classifier is
off: text burned into a broadcast is upright.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from auditor.errors import ModelError
from auditor.findings import Box

log = logging.getLogger("auditor")

MIN_CONFIDENCE = 0.6  # lines read with less are dropped (RapidOCR's own default is 0.5)
_RAPIDOCR_LOGGERS = ("RapidOCR", "OrtInferSession")


@dataclass(frozen=True)
class TextLine:
    text: str
    box: Box  # left, top, width, height in pixels of the whole frame
    confidence: float


class TextReader:
    """One RapidOCR engine with `threads` ONNX Runtime threads; loaded on first use."""

    def __init__(self, threads: int = 1) -> None:
        self.threads = max(1, threads)
        self._engine: Any = None
        self._loading = threading.Lock()  # two audits of one batch worker may read at once

    @property
    def engine(self) -> Any:
        with self._loading:
            return self._load()

    def _load(self) -> Any:
        if self._engine is None:
            try:
                from rapidocr_onnxruntime import RapidOCR
            except ImportError as exc:
                raise ModelError(
                    f"screen text needs rapidocr-onnxruntime ({exc}); pip install "
                    "rapidocr-onnxruntime, or use --no-screen"
                ) from exc
            self._engine = RapidOCR(
                intra_op_num_threads=self.threads,
                inter_op_num_threads=1,
                use_cls=False,
                text_score=MIN_CONFIDENCE,
                # "max": an image is never enlarged before detection. RapidOCR's default ("min",
                # 736) blows a 200x100 region up to 1500x736 and takes 20 times as long.
                det_limit_type="max",
            )
            for name in _RAPIDOCR_LOGGERS:  # it logs to its own handlers at DEBUG
                logging.getLogger(name).setLevel(logging.WARNING)
        return self._engine

    def read(self, image: npt.NDArray[np.uint8], region: Box | None = None) -> list[TextLine]:
        """Every line of text in `image` (BGR), or in `region` of it; boxes in `image`'s pixels."""
        left, top = 0, 0
        if region is not None:
            left, top, width, height = region
            image = image[top : top + height, left : left + width]
        if image.shape[0] < 8 or image.shape[1] < 8:
            return []
        found, _ = self.engine(np.ascontiguousarray(image), use_cls=False)
        lines = []
        for points, text, score in found or ():
            xs = [p[0] for p in points]
            ys = [p[1] for p in points]
            x0, y0 = int(min(xs)), int(min(ys))
            box = (left + x0, top + y0, max(1, int(max(xs)) - x0), max(1, int(max(ys)) - y0))
            text = str(text).strip()
            if text and float(score) >= MIN_CONFIDENCE:
                lines.append(TextLine(text, box, float(score)))
        return lines

    def recognise(self, image: npt.NDArray[np.uint8], box: Box) -> tuple[str, float]:
        """The text of one line whose box is known (no detection), and its confidence."""
        left, top, width, height = box
        crop = image[max(0, top) : top + height, max(0, left) : left + width]
        if crop.shape[0] < 4 or crop.shape[1] < 4:
            return "", 0.0
        found, _ = self.engine(np.ascontiguousarray(crop), use_det=False, use_cls=False)
        if not found:
            return "", 0.0
        text, score = found[0][0], found[0][1]
        return str(text).strip(), float(score)
