#!/usr/bin/env bash
# Builds tools/gpu-check against this machine's PyTorch and runs it on the
# models given (default: the MobileNetV2 and EfficientNet-B0 TorchScript files
# carried in .gpu-check/). Meant for a CUDA machine (docs/gpu.md); prints the
# driver's JSON lines. Usage: tools/gpu-check/run.sh [MODEL.pt...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
torch_dir=$(python3 -c 'import os, torch; print(os.path.dirname(torch.__file__))')
json_include=${JSON_INCLUDE:-$root/.gpu-check/include}
build=${BUILD:-/tmp/polaris-gpu-check}
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))'
cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTORCH_DIR="$torch_dir" -DJSON_INCLUDE="$json_include" >/dev/null
cmake --build "$build" -j "$(nproc)"
models=("$@")
[ ${#models[@]} -gt 0 ] || models=("$root"/.gpu-check/*.pt)
"$build/gpu_check" "$build/lib" "${models[@]}"
