"""Wire compatibility of proto/grpc_service.proto, proved rather than assumed.

protoc compiles Polaris's .proto files into a descriptor set; every method of
our GRPCInferenceService and every message and enum it reaches is then held,
field by field (name, number, type, label, type name, oneof, map entry),
against the descriptors PyPI's tritonclient ships. Our ModelConfig is a
subset of Triton's on purpose, so Triton may have fields we lack there; in
the service's own messages only the fields listed below may be missing.
"""
import copy

import pytest
from google.protobuf import descriptor_pb2

from conftest import ROOT, compiled_protos

PROTO_DIR = ROOT / "proto"

# The RPCs Polaris serves (Triton's trace and log RPCs are not; the CUDA shared-memory ones
# answer as a server without CUDA).
SERVED_METHODS = {
    "ServerLive", "ServerReady", "ModelReady", "ServerMetadata", "ModelMetadata", "ModelInfer",
    "ModelStreamInfer", "ModelConfig", "ModelStatistics", "RepositoryIndex", "RepositoryModelLoad",
    "RepositoryModelUnload", "SystemSharedMemoryStatus", "SystemSharedMemoryRegister",
    "SystemSharedMemoryUnregister", "CudaSharedMemoryStatus", "CudaSharedMemoryRegister",
    "CudaSharedMemoryUnregister",
}
# Triton fields of service messages that Polaris leaves out (numbers reserved).
OMITTED_SERVICE_FIELDS = {
    ".inference.ModelStatistics": {"memory_usage", "response_stats"},
}
FIELD_FACTS = ("number", "type", "label", "type_name")


def _messages(file_proto):
    """{'.inference.Name': DescriptorProto} for every message, nested ones included."""
    found = {}

    def walk(prefix, messages):
        for m in messages:
            name = f"{prefix}.{m.name}"
            found[name] = m
            walk(name, m.nested_type)

    walk("." + file_proto.package, file_proto.message_type)
    return found


def _enums(file_proto):
    found = {}

    def walk(prefix, messages, enums):
        for e in enums:
            found[f"{prefix}.{e.name}"] = e
        for m in messages:
            walk(f"{prefix}.{m.name}", m.nested_type, m.enum_type)

    walk("." + file_proto.package, file_proto.message_type, file_proto.enum_type)
    return found


def _oneof_name(message, field):
    return message.oneof_decl[field.oneof_index].name if field.HasField("oneof_index") else None


class Files:
    """The messages, enums and service of a set of FileDescriptorProtos."""

    def __init__(self, files):
        self.files = {f.name: f for f in files}
        self.messages, self.enums = {}, {}
        for f in files:
            self.messages.update(_messages(f))
            self.enums.update(_enums(f))

    def service(self, name):
        for f in self.files.values():
            for s in f.service:
                if s.name == name:
                    return s
        raise KeyError(name)


def compare(ours: Files, triton: Files):
    """Every difference between our service (and all it reaches) and Triton's, as readable lines."""
    problems = []
    our_service = ours.service("GRPCInferenceService")
    triton_methods = {m.name: m for m in triton.service("GRPCInferenceService").method}
    our_names = {m.name for m in our_service.method}
    if our_names != SERVED_METHODS:
        problems.append(f"methods: ours {sorted(our_names)}, expected {sorted(SERVED_METHODS)}")

    to_check = []
    for method in our_service.method:
        theirs = triton_methods.get(method.name)
        if theirs is None:
            problems.append(f"method {method.name}: Triton has no such method")
            continue
        for fact in ("input_type", "output_type", "client_streaming", "server_streaming"):
            if getattr(method, fact) != getattr(theirs, fact):
                problems.append(f"method {method.name}.{fact}: ours {getattr(method, fact)!r}, "
                                f"Triton {getattr(theirs, fact)!r}")
        to_check += [method.input_type, method.output_type]

    seen = set()
    while to_check:
        name = to_check.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in ours.enums:
            problems += _compare_enum(name, ours.enums[name], triton.enums.get(name))
            continue
        message = ours.messages.get(name)
        if message is None:
            problems.append(f"{name}: not defined in our files")
            continue
        theirs = triton.messages.get(name)
        if theirs is None:
            problems.append(f"message {name}: Triton has no such message")
            continue
        problems += _compare_message(name, message, theirs, ours)
        to_check += [f.type_name for f in message.field if f.type_name]
    return problems


def _compare_message(name, message, theirs, ours):
    problems = []
    if message.options.map_entry != theirs.options.map_entry:
        problems.append(f"message {name}: map_entry differs")
    triton_fields = {f.name: f for f in theirs.field}
    for field in message.field:
        other = triton_fields.get(field.name)
        if other is None:
            problems.append(f"field {name}.{field.name}: Triton has no such field")
            continue
        for fact in FIELD_FACTS:
            if getattr(field, fact) != getattr(other, fact):
                problems.append(f"field {name}.{field.name}.{fact}: ours {getattr(field, fact)!r}, "
                                f"Triton {getattr(other, fact)!r}")
        if _oneof_name(message, field) != _oneof_name(theirs, other):
            problems.append(f"field {name}.{field.name}: oneof ours {_oneof_name(message, field)!r}, "
                            f"Triton {_oneof_name(theirs, other)!r}")
    # Messages of the service file must be complete; ModelConfig's may be a subset.
    in_service_file = name in _messages(ours.files["grpc_service.proto"])
    if in_service_file:
        missing = set(triton_fields) - {f.name for f in message.field} - OMITTED_SERVICE_FIELDS.get(name, set())
        if missing:
            problems.append(f"message {name}: Triton's fields {sorted(missing)} are missing")
    return problems


def _compare_enum(name, enum, theirs):
    if theirs is None:
        return [f"enum {name}: Triton has no such enum"]
    triton_values = {v.name: v.number for v in theirs.value}
    return [f"enum {name}.{v.name}: ours {v.number}, Triton {triton_values.get(v.name)}"
            for v in enum.value if triton_values.get(v.name) != v.number]


class CompiledFiles(list):
    """FileDescriptorProtos whose repr stays short in pytest's failure reports."""

    def __repr__(self):
        return f"<{', '.join(f.name for f in self)}>"


@pytest.fixture(scope="module")
def ours(tmp_path_factory):
    compiled = compiled_protos(PROTO_DIR / "grpc_service.proto", tmp_path_factory.mktemp("descriptors"),
                               include_imports=True)
    return CompiledFiles(compiled.file)


@pytest.fixture(scope="module")
def triton():
    from tritonclient.grpc import model_config_pb2, service_pb2

    files = []
    for module in (service_pb2, model_config_pb2):
        proto = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(proto)
        files.append(proto)
    return Files(files)


def test_file_names_and_package_match_triton(ours, triton):
    # Clients resolve by full name; the file names matter to import paths only,
    # yet keeping Triton's means the same descriptor pool layout.
    assert {f.name for f in ours} == set(triton.files)
    assert {f.package for f in ours} == {"inference"}
    grpc_file = next(f for f in ours if f.name == "grpc_service.proto")
    assert list(grpc_file.dependency) == ["model_config.proto"]


def test_every_method_and_message_matches_triton(ours, triton):
    problems = compare(Files(ours), triton)
    assert problems == [], "\n".join(problems)


def test_the_comparison_catches_real_differences(ours, triton):
    """The check above is only worth something if it fails on a real mismatch."""
    def altered(change):
        files = copy.deepcopy(list(ours))
        grpc_file = next(f for f in files if f.name == "grpc_service.proto")
        change(grpc_file, next(f for f in files if f.name == "model_config.proto"))
        return compare(Files(files), triton)

    def message(file_proto, name):
        return next(m for m in file_proto.message_type if m.name == name)

    def renumber(grpc_file, _):
        field = next(f for f in message(grpc_file, "ModelInferRequest").field if f.name == "raw_input_contents")
        field.number = 8
    assert any("raw_input_contents.number" in p for p in altered(renumber))

    def retype(grpc_file, _):
        field = next(f for f in message(grpc_file, "StatisticDuration").field if f.name == "count")
        field.type = descriptor_pb2.FieldDescriptorProto.TYPE_INT64
    assert any("StatisticDuration.count.type" in p for p in altered(retype))

    def unstream(grpc_file, _):
        next(m for m in grpc_file.service[0].method if m.name == "ModelStreamInfer").client_streaming = False
    assert any("ModelStreamInfer.client_streaming" in p for p in altered(unstream))

    def drop(grpc_file, _):
        fields = message(grpc_file, "ModelInferResponse").field
        del fields[[f.name for f in fields].index("id")]
    assert any("['id'] are missing" in p for p in altered(drop))

    def config_number(_, config_file):
        field = next(f for f in message(config_file, "ModelConfig").field if f.name == "max_batch_size")
        field.number = 40
    assert any("ModelConfig.max_batch_size.number" in p for p in altered(config_number))

    def enum_value(_, config_file):
        enum = next(e for e in config_file.enum_type if e.name == "DataType")
        next(v for v in enum.value if v.name == "TYPE_STRING").number = 15
    assert any("DataType.TYPE_STRING" in p for p in altered(enum_value))
