"""The gate model: a TorchScript model that holds its instance busy until a test lets it go.

Tests that need an instance busy (priorities, queue limits, instance groups, shutdown under
load) cannot rely on how long a real model takes: ResNet50 went from 100 ms to 28 ms between two
machines and a priority test stopped queueing anything. The gate model instead waits, inside its
execution, for an event the test controls: a one-byte file. A request whose input is `t` runs
until the file's byte is at least `t`, then answers its input unchanged. So a test opens the gate
to 1 to let the requests with ticket 1 finish, to 2 for ticket 2, and so on, and whatever order
the scheduler picks is visible in which requests can finish.

The file path is baked into the model (TorchScript reads no environment), so each test makes its
own model beside its own gate file with `Gate(folder).write_model(path)`. Needs Python torch
(Debian's, in the build venv); the server runs the model with libtorch.

The wait spins on reads of the file (TorchScript has no sleep); a request that is never let go
gives up after about a minute at this machine's speed (`MAX_SPINS`), so a test that dies leaves
no request running forever. The read's size is computed from the input, so TorchScript's
freezing (the torch backend freezes every model) cannot fold the read into a constant.
"""
import pathlib

MAX_SPINS = 5_000_000


def _module(gate_file: str):
    import torch
    from torch import Tensor, nn

    class GateModel(nn.Module):
        def __init__(self, path: str, max_spins: int):
            super().__init__()
            self.path = path
            self.max_spins = max_spins

        def forward(self, x: Tensor) -> Tensor:
            ticket = int(x.reshape(-1)[0].item())
            size = 1 + 0 * ticket  # known only at run time: freezing cannot fold the read
            spins = 0
            while spins < self.max_spins:
                level = int(torch.from_file(self.path, False, size, dtype=torch.uint8)[0].item())
                if level >= ticket:
                    break
                spins += 1
            return x.clone()

    return torch.jit.script(GateModel(gate_file, MAX_SPINS))


class Gate:
    """A gate file (level 0: closed to every ticket above 0) and models that wait on it."""

    def __init__(self, folder):
        self.folder = pathlib.Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.file = self.folder / "gate"
        self.open_to(0)

    def open_to(self, level: int):
        """Lets every request with a ticket <= level finish (0-255)."""
        tmp = self.file.with_suffix(".tmp")
        tmp.write_bytes(bytes([level]))
        tmp.replace(self.file)  # atomic: a reader sees the old byte or the new one

    def write_model(self, path):
        """Writes a TorchScript gate model (input `x`, output `output__0`, FP32, any shape; the
        first element is the ticket) to `path`."""
        path = pathlib.Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        _module(str(self.file.resolve())).save(str(path))
        return path
