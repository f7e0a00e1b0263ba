"""The process's one Runtime: the engine modules and the engines' thread budget.

Every loader and every MultiModelServer in a process shares it, as every
model of `polaris serve` does: ten models never mean ten thread pools. The
first loader (or set_engine_threads) fixes the thread counts; later ones
asking for others get a warning, since engines cannot change them.
"""
from __future__ import annotations

import os
import threading
import warnings

from . import _polaris

_lock = threading.Lock()
_runtime: _polaris.Runtime | None = None
_threads: tuple[int, int] | None = None

MODULE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib")


def set_engine_threads(intra_op_threads: int = 0, inter_op_threads: int = 1) -> None:
    """Sets the thread budget every model of every engine shares (0: one per core).

    Call before the first model loads; afterwards the engines' thread pools exist and a
    different request raises RuntimeError.
    """
    with _lock:
        if _runtime is not None and _threads != (intra_op_threads, inter_op_threads):
            raise RuntimeError(
                f"the engines already run with intra_op_threads={_threads[0]}, inter_op_threads={_threads[1]}: "
                "set_engine_threads() must come before the first model loads")
        _start(intra_op_threads, inter_op_threads)


def runtime(intra_op_threads: int | None = None, inter_op_threads: int | None = None) -> _polaris.Runtime:
    """The Runtime, started with these thread counts if it is not running yet."""
    with _lock:
        if _runtime is None:
            _start(intra_op_threads or 0, 1 if inter_op_threads is None else inter_op_threads)
        elif (intra_op_threads is not None and intra_op_threads != _threads[0]) or (
                inter_op_threads is not None and inter_op_threads != _threads[1]):
            warnings.warn(
                f"engine threads are process-wide and already set (intra_op_threads={_threads[0]}, "
                f"inter_op_threads={_threads[1]}); this loader's intra_op_threads={intra_op_threads}, "
                f"inter_op_threads={inter_op_threads} are ignored. Call polaris.set_engine_threads() "
                "before the first load to choose them.", RuntimeWarning, stacklevel=3)
        return _runtime


def _start(intra_op_threads: int, inter_op_threads: int) -> None:
    global _runtime, _threads
    if _runtime is None:
        _runtime = _polaris.Runtime(intra_op_threads, inter_op_threads, MODULE_DIR)
        _threads = (intra_op_threads, inter_op_threads)
