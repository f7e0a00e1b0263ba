"""Keeps two libtorch builds out of one process.

Polaris's TorchScript engine module carries its own libtorch (2.15); a
`torch` Python package (Debian's 1.13, or a PyPI build) carries another.
Loaded into one process in either order they break each other (measured:
`import torch` after Polaris loaded its libtorch aborts with
std::system_error; a TorchScript load after `import torch` segfaults), so
neither is allowed to happen silently:

- a TorchScript load after `import torch` raises RuntimeError (foreign_torch);
- `import torch` after Polaris loaded its libtorch raises ImportError
  (the finder below), instead of killing the interpreter.

ONNX models never load libtorch and coexist with `import torch`.
"""
from __future__ import annotations

import importlib.abc
import sys

# The file name of Polaris's TorchScript engine module (python/CMakeLists.txt).
_TORCH_MODULE = "libpolaris_backend_torch.so"


def foreign_torch() -> str | None:
    """Where the `torch` package this process imported comes from, or None."""
    if "torch" not in sys.modules:
        return None
    return getattr(sys.modules["torch"], "__file__", None) or "an imported 'torch' module"


def polaris_libtorch() -> str | None:
    """The path of Polaris's TorchScript module if this process has loaded it (Linux), else None."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            for line in maps:
                if line.rstrip().endswith(_TORCH_MODULE):
                    return line.split(maxsplit=5)[-1].strip()
    except OSError:
        pass
    return None


def check_no_foreign_torch(path: str) -> None:
    """Refuses to load the TorchScript model `path` in a process that imported torch."""
    where = foreign_torch()
    if where is not None:
        raise RuntimeError(
            f"cannot load '{path}': this process imported PyTorch ({where}) before Polaris loaded its own "
            "libtorch, and two libtorch builds in one process break each other. Load TorchScript models "
            "in a process that does not import torch (or serve them with `polaris serve`); ONNX models "
            "are not affected.")


class _RefuseTorchAfterPolarisLibtorch(importlib.abc.MetaPathFinder):
    """An import hook that only speaks when `torch` is imported after Polaris loaded libtorch."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "torch" or "torch" in sys.modules:
            return None
        where = polaris_libtorch()
        if where is None:
            return None
        raise ImportError(
            "cannot import torch: Polaris already loaded its own libtorch in this process (for a TorchScript "
            f"model or the torch engine's providers: {where}), and two libtorch builds in one process crash. "
            "Import torch before using Polaris's TorchScript engine (then Polaris refuses TorchScript models "
            "but serves ONNX ones), or use torch in another process.", name=fullname)


def install() -> None:
    """Puts the import hook first on sys.meta_path (once)."""
    if not any(isinstance(f, _RefuseTorchAfterPolarisLibtorch) for f in sys.meta_path):
        sys.meta_path.insert(0, _RefuseTorchAfterPolarisLibtorch())
