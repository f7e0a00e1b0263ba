"""torchvision weights (a state_dict) to a TorchScript file Polaris serves (docs/pull.md).

`polaris pull` runs this file as a script in a child process after it has downloaded and
verified a catalog entry of format "torchvision": the architecture's builder from
torchvision.models, the weights loaded strictly (every key, every shape), traced on one
224x224 RGB image and saved. Standard library only at the top; torch and torchvision are
imported when needed, and their absence is exit status 3 with what to install.

Usage: torchvision_export.py ARCHITECTURE STATE_DICT OUTPUT [--image-size 224]
Prints one JSON line: {"architecture", "input": [1, 3, H, W], "parameters", "torchvision"}.
"""
import argparse
import json
import sys

HINT = "install torch and torchvision for this Python (Debian: apt install python3-torchvision)"


def export(architecture, state_dict_path, output, image_size=224):
    try:
        import torch
        import torchvision
    except ImportError as e:
        raise ModuleNotFoundError(f"{e.name} is not installed for {sys.executable}: {HINT}") from None
    builder = getattr(torchvision.models, architecture, None)
    available = torchvision.models.list_models() if hasattr(torchvision.models, "list_models") else None
    if builder is None or not callable(builder) or (available is not None and architecture not in available):
        raise ValueError(f"torchvision {torchvision.__version__} has no model '{architecture}'")
    model = builder(weights=None).eval()
    # weights_only: a state_dict is tensors; nothing in the file may run code on load.
    try:
        state = torch.load(state_dict_path, map_location="cpu", weights_only=True)
    except TypeError:  # torch before 1.13 has no weights_only
        state = torch.load(state_dict_path, map_location="cpu")
    if not isinstance(state, dict):
        raise ValueError(f"'{state_dict_path}' is not a state_dict (a dict of tensors)")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise ValueError(f"the weights do not fit torchvision's {architecture}: {str(e).splitlines()[0]}") from None
    example = torch.zeros(1, 3, image_size, image_size)
    with torch.no_grad():
        traced = torch.jit.trace(model, example)
    torch.jit.save(traced, output)
    return {"architecture": architecture, "input": list(example.shape), "torchvision": torchvision.__version__,
            "parameters": sum(p.numel() for p in model.parameters())}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("architecture")
    parser.add_argument("state_dict")
    parser.add_argument("output")
    parser.add_argument("--image-size", type=int, default=224)
    args = parser.parse_args(argv)
    try:
        result = export(args.architecture, args.state_dict, args.output, args.image_size)
    except ModuleNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 3
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    import warnings
    warnings.simplefilter("ignore")
    sys.exit(main())
