"""The devices this machine has and the providers each engine can use: `polaris devices` in Python."""
from __future__ import annotations

import json
from typing import Any

from . import _runtime


def list_devices() -> list[dict[str, Any]]:
    """Every device found (CPU, OpenCL, Vulkan, CUDA, AMD GPUs), each with its `providers`
    (engine, provider, usable, note) and properties; as `polaris devices --json` lists them."""
    report = device_report()
    return [device for source in report.values() for device in source.get("devices", [])]


def device_report() -> dict[str, Any]:
    """The whole report by source ("cpu", "cuda", "opencl", "vulkan", "amd"): each with
    `available`, `reason` (why not) and `devices`."""
    return json.loads(_runtime.runtime().devices_json())


def providers(engine: str = "onnxruntime") -> list[str]:
    """The providers `engine` ("onnxruntime" or "torch") can use on this machine, best first."""
    return _runtime.runtime().providers([engine])[engine]
