"""`polaris devices` on this machine's real drivers: the CPU and its ISA flags
as the kernel lists them, PoCL as an OpenCL device, bootstrap's software
Vulkan driver, and no drivers at all (not available, with reasons, exit 0)."""
import json

import pytest

from conftest import run, vulkan_icd

NO_DRIVERS = {"OCL_ICD_VENDORS": "/nonexistent",
              "VK_ICD_FILENAMES": "/nonexistent.json", "VK_DRIVER_FILES": "/nonexistent.json"}
TRACKED_ISA = ["sse4_1", "sse4_2", "avx", "f16c", "fma", "avx2", "avx_vnni", "avx512f", "avx512dq",
               "avx512cd", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "avx512_fp16",
               "amx_bf16", "amx_tile", "amx_int8"]


def devices(polaris_bin, env=None):
    return json.loads(run(polaris_bin, "devices", "--json", env=env).stdout)


def cpuinfo_flags():
    for line in open("/proc/cpuinfo"):
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    pytest.fail("no flags line in /proc/cpuinfo")


def provider_names(device, usable=True):
    return {f'{p["engine"]}:{p["provider"]}' for p in device["providers"] if p["usable"] == usable}


def test_cpu_with_the_kernels_isa_flags(polaris_bin):
    report = devices(polaris_bin)
    assert report["cpu"]["available"]
    (cpu,) = report["cpu"]["devices"]
    flags = cpuinfo_flags()
    assert [f for f in TRACKED_ISA if f in flags] == cpu["features"]
    assert int(cpu["properties"]["logical_cpus"]) >= 1
    assert {"onnxruntime:cpu", "torch:cpu", "opencv:cpu"} <= provider_names(cpu)


def test_pocl_is_an_opencl_device(polaris_bin):
    report = devices(polaris_bin)
    assert report["opencl"]["available"], report["opencl"]["reason"]
    pocl = [d for d in report["opencl"]["devices"]
            if "Portable Computing Language" in d["properties"]["platform"]]
    assert pocl, report["opencl"]
    # A CPU OpenCL device: OpenCV DNN trusts it only when told to.
    assert "opencv:opencl" in provider_names(pocl[0], usable=False)
    allowed = devices(polaris_bin, env={"OPENCV_DNN_OPENCL_ALLOW_ALL_DEVICES": "1"})
    pocl = [d for d in allowed["opencl"]["devices"] if d["id"] == pocl[0]["id"]]
    assert "opencv:opencl" in provider_names(pocl[0])


def test_software_vulkan_driver_is_listed_with_webgpu(polaris_bin):
    icd = vulkan_icd()
    report = devices(polaris_bin, env={"VK_DRIVER_FILES": icd, "VK_ICD_FILENAMES": icd})
    assert report["vulkan"]["available"], report["vulkan"]["reason"]
    (device,) = report["vulkan"]["devices"]
    assert "llvmpipe" in device["name"]
    assert device["properties"]["driver_info"].startswith("Mesa 25.")
    assert "onnxruntime:webgpu" in provider_names(device)


def test_no_drivers_means_not_available_not_a_crash(polaris_bin):
    report = devices(polaris_bin, env=NO_DRIVERS)
    assert not report["opencl"]["available"] and "no OpenCL platform" in report["opencl"]["reason"]
    assert not report["vulkan"]["available"] and "VK_ERROR_INCOMPATIBLE_DRIVER" in report["vulkan"]["reason"]
    assert report["cpu"]["available"]
    table = run(polaris_bin, "devices", env=NO_DRIVERS).stdout
    assert table.startswith("DEVICE")
    assert "not available:" in table and "no OpenCL platform" in table
    assert "cpu ISA:" in table


def test_table_lists_every_device_of_the_json(polaris_bin):
    icd = vulkan_icd()
    env = {"VK_DRIVER_FILES": icd, "VK_ICD_FILENAMES": icd}
    report = devices(polaris_bin, env=env)
    table = run(polaris_bin, "devices", env=env).stdout
    ids = [d["id"] for s in report.values() for d in s["devices"]]
    assert "cpu" in ids and "vulkan:0" in ids
    for device_id in ids:
        assert any(line.split()[0] == device_id for line in table.splitlines() if line.strip()), device_id
