"""Keeping a storage actor's process small: one process per storage means every MB counts 200x.

Two habits, both measured in ``bench/actor_memory.py``:

- **No pandas.** pyarrow imports pandas on its first ``pa.array()``/``pa.table()`` whenever it
  is installed (about 25-33 MB), though an actor never converts to pandas. ``block_unused``
  makes ``import pandas`` fail in this process only, so pyarrow takes it as not installed.
- **Give freed memory back.** A collection window is parsed, filtered and written as Parquet, a
  sync parses every resource list; afterwards Arrow's allocator and glibc's arenas keep the pages
  for reuse. ``release_memory`` after each window and each sync returns them (Arrow's
  ``release_unused`` and glibc's ``malloc_trim``).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import importlib.abc
import sys
from typing import Any, Optional

_libc: Optional[ctypes.CDLL] = None


#: packages a storage actor never uses but that get imported because they are installed
UNUSED = ("pandas",)


class _Unused(importlib.abc.MetaPathFinder):
    """An import finder that says the ``UNUSED`` packages are not installed."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if any(name == u or name.startswith(u + ".") for u in UNUSED):
            raise ModuleNotFoundError(f"{name} is not loaded in storage actors (rayactors.lean)", name=name)
        return None


def block_unused() -> list[str]:
    """Make importing the ``UNUSED`` packages fail in this process; returns those that were
    imported already (blocking cannot unload them)."""
    if not any(isinstance(f, _Unused) for f in sys.meta_path):
        sys.meta_path.insert(0, _Unused())
    return [u for u in UNUSED if u in sys.modules]


def release_memory() -> None:
    """Return freed pages of Arrow's pool and of glibc's heap to the operating system."""
    global _libc
    try:
        import pyarrow as pa
        pa.default_memory_pool().release_unused()
    except Exception:  # an allocator without the call: nothing to release
        pass
    if _libc is None:
        name = ctypes.util.find_library("c")
        _libc = ctypes.CDLL(name) if name else ctypes.CDLL(None)
    trim = getattr(_libc, "malloc_trim", None)   # glibc only
    if trim is not None:
        trim(0)
