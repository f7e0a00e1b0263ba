"""Batch prediction over a folder of images or .npy files: predict_folder() and
MultiModelServer.predict_batch(), over the C++ batch library that `polaris predict
--input-dir` uses (decoding with OpenCV, preprocessing presets, bounded batches)."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np

from . import _polaris

PathLike = Union[str, os.PathLike]
ProgressCallback = Callable[[int, int, int, float], Any]  # done, total, failed, seconds


@dataclass(frozen=True)
class ClassScore:
    index: int
    label: str  # "" without a labels file
    score: float
    output: str  # the output it came from


@dataclass
class FileResult:
    file: str
    ok: bool
    error: str = ""  # why the file was skipped (names it)
    top_k: list[ClassScore] = field(default_factory=list)
    outputs: dict[str, np.ndarray] = field(default_factory=dict)  # with keep_outputs=True

    @classmethod
    def from_dict(cls, d: dict) -> "FileResult":
        return cls(d["file"], d["ok"], d["error"], [ClassScore(*t) for t in d["top_k"]], dict(d["outputs"]))


class ProgressPrinter:
    """The default progress: a bar redrawn on a terminal, else a line at every tenth."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.terminal = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.last_tenth = -1

    def __call__(self, done: int, total: int, failed: int, seconds: float) -> None:
        rate = done / seconds if seconds > 0 else 0.0
        if self.terminal:
            filled = 30 * done // total if total else 30
            eta = (total - done) / rate if rate else 0
            self.stream.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {done}/{total} files, {failed} failed, "
                              f"{rate:.1f} files/s, ETA {eta:.0f} s ")
            if done == total:
                self.stream.write("\n")
        else:
            tenth = done * 10 // total if total else 10
            if tenth == self.last_tenth and done != total:
                return
            self.last_tenth = tenth
            self.stream.write(f"progress: {done}/{total} files, {failed} failed, {rate:.1f} files/s\n")
        self.stream.flush()


def files_of(source: Union[PathLike, Sequence[PathLike]], recursive: bool) -> list[str]:
    """A folder's images and .npy files (sorted), or the given list of files as it is."""
    if isinstance(source, (str, os.PathLike)):
        files, _skipped = _polaris.list_folder(os.fspath(source), recursive)
        return files
    return [os.fspath(f) for f in source]


def run_folder(target: Callable[[Any], dict], source, *, labels: Optional[Sequence[str]], model_path: str,
               config_text: str = "", output: Optional[PathLike] = None, output_format: Optional[str] = None,
               preprocess: Optional[str] = None, batch_size: int = 8, top_k: int = 5, recursive: bool = False,
               keep_outputs: bool = False, on_result: Optional[Callable[[FileResult], Any]] = None,
               on_progress: Optional[ProgressCallback] = None, progress: Optional[bool] = None,
               collect: bool = True) -> list[FileResult]:
    call = _polaris.FolderCall()
    call.files = files_of(source, recursive)
    call.preprocess = preprocess or ""
    call.config_text = config_text
    call.batch_size, call.top_k, call.keep_outputs = batch_size, top_k, keep_outputs
    call.labels = list(labels) if labels is not None else _polaris.find_labels(model_path)
    call.output_path = os.fspath(output) if output is not None else ""
    call.output_format = output_format or ""
    results: list[FileResult] = []

    def each(d: dict) -> None:
        r = FileResult.from_dict(d)
        if collect:
            results.append(r)
        if on_result is not None:
            on_result(r)

    call.on_result = each
    if on_progress is not None:
        call.on_progress = on_progress
    elif progress or progress is None:
        call.on_progress = ProgressPrinter()
    target(call)
    return results
