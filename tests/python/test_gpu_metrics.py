"""Triton's GPU metrics (nv_gpu_*, nv_energy_consumption) on :8002/metrics.

CI machines have no GPU, so the amdgpu path is driven through
POLARIS_SYSFS_ROOT (a test/diagnostic knob, docs/server.md): a tree laid out
as the amdgpu driver lays out /sys, with values in the kernel's formats.
The server reads it at scrape time, so changing a file changes the next
scrape (after the 1 s sample cache). Without the knob, a machine without a
GPU must show no GPU metric at all, and no error."""
import ctypes
import os
import pathlib
import re
import subprocess
import time
import urllib.request

import pytest

from conftest import ServerProcess

RX580 = "GPU-amd-0000:03:00.0"          # gfx8: no unique_id, so the PCI address
NAVI = "GPU-3a5c1d6e2f7b8091"           # unique_id, in ROCm's GPU-<16 hex> form


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def add_card(root, card, slot, driver):
    """A DRM card as the kernel links it: class/drm/cardN -> the PCI device's
    drm/cardN, whose `device` links back to the PCI device; `driver` links
    into bus/pci/drivers. Returns the PCI device folder."""
    pci = root / "devices/pci0000:00/0000:00:03.1" / slot
    (pci / "drm" / card).mkdir(parents=True)
    os.symlink(f"../../../{slot}", pci / "drm" / card / "device")
    (root / "class/drm").mkdir(parents=True, exist_ok=True)
    os.symlink(os.path.relpath(pci / "drm" / card, root / "class/drm"), root / "class/drm" / card)
    (root / "bus/pci/drivers" / driver).mkdir(parents=True, exist_ok=True)
    os.symlink(os.path.relpath(root / "bus/pci/drivers" / driver, pci), pci / "driver")
    write(pci / "uevent", f"DRIVER={driver}\nPCI_CLASS=30000\nPCI_SLOT_NAME={slot}\n")
    return pci


def make_sysfs(root):
    """An RX 580, an Intel iGPU and a newer AMD card, as the kernel shows them."""
    rx580 = add_card(root, "card0", "0000:03:00.0", "amdgpu")
    write(rx580 / "vendor", "0x1002\n")
    write(rx580 / "device", "0x67df\n")
    write(rx580 / "gpu_busy_percent", "37\n")
    write(rx580 / "mem_info_vram_total", "8589934592\n")
    write(rx580 / "mem_info_vram_used", "1179648000\n")
    write(rx580 / "power/runtime_status", "active\n")
    write(rx580 / "hwmon/hwmon2/name", "amdgpu\n")
    write(rx580 / "hwmon/hwmon2/power1_average", "45000000\n")
    write(rx580 / "hwmon/hwmon2/power1_cap", "145000000\n")
    (root / "class/drm/card0-DP-1").mkdir()
    # An Intel iGPU: not amdgpu, so not reported even with a busy file.
    igpu = add_card(root, "card1", "0000:00:02.0", "i915")
    write(igpu / "gpu_busy_percent", "50\n")
    # A newer AMD card with a unique_id and an energy counter (µJ).
    navi = add_card(root, "card2", "0000:0c:00.0", "amdgpu")
    write(navi / "unique_id", "3a5c1d6e2f7b8091\n")
    write(navi / "mem_info_vram_total", "17163091968\n")
    write(navi / "hwmon/hwmon5/power1_input", "212000000\n")
    write(navi / "hwmon/hwmon5/energy1_input", "1000000000\n")
    return root


@pytest.fixture
def sysfs(tmp_path):
    return make_sysfs(tmp_path / "sys")


def tiny_repository(tmp_path, models):
    repo = tmp_path / "repo"
    (repo / "identity" / "1").mkdir(parents=True)
    (repo / "identity" / "1" / "model.onnx").symlink_to(models / "tiny" / "identity.onnx")
    return repo


def scrape(server):
    with urllib.request.urlopen(f"http://{server.metrics_url}/metrics", timeout=10) as r:
        return r.read().decode()


def samples(text, name):
    """{gpu_uuid: value} of one metric's series."""
    pattern = re.compile(rf'^{name}\{{gpu_uuid="([^"]*)"\}} (\S+)$', re.M)
    return {uuid: float(value) for uuid, value in pattern.findall(text)}


def promtool_findings(text):
    check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    # Exit 1 would be a format error; 3 is lint advice, which Triton's own
    # names draw (counters without _total, "_us" units): only nv_* may.
    assert check.returncode in (0, 3), check.stdout + check.stderr
    return [line for line in (check.stdout + check.stderr).splitlines() if line.strip()]


def test_amdgpu_sysfs_tree_becomes_tritons_gpu_metrics(polaris_bin, models, sysfs, tmp_path):
    server = ServerProcess(polaris_bin, tiny_repository(tmp_path, models), env={"POLARIS_SYSFS_ROOT": str(sysfs)})
    try:
        text = scrape(server)
        assert samples(text, "nv_gpu_utilization") == {RX580: 0.37}, text
        assert samples(text, "nv_gpu_memory_total_bytes") == {RX580: 8589934592, NAVI: 17163091968}
        assert samples(text, "nv_gpu_memory_used_bytes") == {RX580: 1179648000}
        assert samples(text, "nv_gpu_power_usage") == {RX580: 45.0, NAVI: 212.0}
        assert samples(text, "nv_gpu_power_limit") == {RX580: 145.0}
        assert samples(text, "nv_energy_consumption") == {NAVI: 0.0}, "energy counts from the server's start"
        assert "# TYPE nv_energy_consumption counter" in text
        assert "# TYPE nv_gpu_utilization gauge" in text
        assert "0000:00:02.0" not in text, "the i915 card is not an amdgpu card"
        findings = promtool_findings(text)
        assert all(line.startswith("nv_") for line in findings), findings

        # Read at scrape time: new values show once the 1 s cache has expired.
        write(sysfs / "devices/pci0000:00/0000:00:03.1/0000:03:00.0/gpu_busy_percent", "80\n")
        write(sysfs / "devices/pci0000:00/0000:00:03.1/0000:0c:00.0/hwmon/hwmon5/energy1_input", "1250000000\n")
        time.sleep(1.2)
        text = scrape(server)
        assert samples(text, "nv_gpu_utilization") == {RX580: 0.8}
        assert samples(text, "nv_energy_consumption") == {NAVI: 250.0}

        # A sensor that stops answering drops its series; the scrape still works.
        (sysfs / "devices/pci0000:00/0000:00:03.1/0000:03:00.0/hwmon/hwmon2/power1_average").unlink()
        time.sleep(1.2)
        text = scrape(server)
        assert samples(text, "nv_gpu_power_usage") == {NAVI: 212.0}
        assert "nv_cpu_utilization" in text
    finally:
        assert server.stop() == 0, server.output()


def this_machine_has_a_gpu():
    drm = pathlib.Path("/sys/class/drm")
    for card in drm.glob("card*") if drm.exists() else []:
        if "-" not in card.name and (card / "device/driver").exists() \
                and os.path.basename(os.readlink(card / "device/driver")) == "amdgpu":
            return True
    try:
        ctypes.CDLL("libnvidia-ml.so.1")
        return True
    except OSError:
        return False


def test_no_gpu_means_no_gpu_metrics_and_no_error(polaris_server):
    if this_machine_has_a_gpu():
        pytest.skip("this machine has an amdgpu card or NVML: its GPUs are listed")
    text = scrape(polaris_server)
    assert "nv_cpu_utilization" in text
    assert not re.search(r"^nv_(gpu_|energy_)", text, re.M), text
    assert "gpu_uuid" not in text
