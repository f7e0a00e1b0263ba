#include "server/http_infer_codec.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <rapidjson/document.h>
#include <rapidjson/encodedstream.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "core/quote.h"
#include "core/shape.h"
#include "core/utf8.h"
#include "runtime/model_config.h"
#include "server/shared_memory_io.h"
#include "server/wire_tensor.h"

namespace polaris {
namespace {

// The infer path's JSON is RapidJSON: it parses a request header into a
// pooled DOM and writes the response header directly, where nlohmann's
// node-per-value DOM spent a fifth of the server's CPU (decode and encode)
// on a tiny model (docs/performance.md, "Serving"). The rest of the server
// keeps nlohmann.
using JsonValue = rapidjson::Value;
using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;
// Values and the parser's stack both come from pools (see decode_infer_request).
using JsonDocument =
    rapidjson::GenericDocument<rapidjson::UTF8<>, rapidjson::MemoryPoolAllocator<>, rapidjson::MemoryPoolAllocator<>>;

// Iterative: deep nesting costs heap, not stack. Numbers arrive as their
// text (ExactNumbers converts them). Strings must be valid UTF-8.
constexpr unsigned kParseFlags =
    rapidjson::kParseIterativeFlag | rapidjson::kParseNumbersAsStringsFlag | rapidjson::kParseValidateEncodingFlag;

// SAX events on their way to the document, with nesting bounded, strings
// checked for UTF-8 and numbers converted by
// std::from_chars: exactly (shortest round trip included), and a value out
// of a double's range is an error. RapidJSON 1.1.0's own full-precision
// conversion reads past its table of powers of ten for numbers such as
// 1118446744073709552222...(70 digits)e308 (undefined behaviour from one
// request; found by fuzz_http_infer, fixed upstream after the release), and
// its fast conversion is off by up to 3 ULP. RapidJSON still tokenizes:
// what reaches RawNumber is a valid JSON number.
template <typename Document>
class ExactNumbers {
 public:
  ExactNumbers(Document& out, std::string& error) : out_(out), error_(error) {}

  bool RawNumber(const char* text, rapidjson::SizeType length, bool) {
    const char* end = text + length;
    if (std::none_of(text, end, [](char c) { return c == '.' || c == 'e' || c == 'E'; })) {
      if (*text == '-') {
        int64_t i = 0;
        if (auto [ptr, ec] = std::from_chars(text, end, i); ec == std::errc() && ptr == end) return out_.Int64(i);
      } else {
        uint64_t u = 0;
        if (auto [ptr, ec] = std::from_chars(text, end, u); ec == std::errc() && ptr == end) return out_.Uint64(u);
      }
      // Beyond 64 bits: a double, as RapidJSON and nlohmann read it.
    }
    double d = 0;
    if (auto [ptr, ec] = std::from_chars(text, end, d); ec == std::errc() && ptr == end) return out_.Double(d);
    error_ = "the number " + in_quotes(std::string_view(text, length), 40) + " is out of a double's range";
    return false;
  }
  bool Null() { return out_.Null(); }
  bool Bool(bool b) { return out_.Bool(b); }
  bool Int(int i) { return out_.Int(i); }
  bool Uint(unsigned u) { return out_.Uint(u); }
  bool Int64(int64_t i) { return out_.Int64(i); }
  bool Uint64(uint64_t u) { return out_.Uint64(u); }
  bool Double(double d) { return out_.Double(d); }
  bool String(const char* s, rapidjson::SizeType n, bool copy) { return utf8(s, n) && out_.String(s, n, copy); }
  bool StartObject() { return deeper() && out_.StartObject(); }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) { return utf8(s, n) && out_.Key(s, n, copy); }
  bool EndObject(rapidjson::SizeType members) { return --depth_, out_.EndObject(members); }
  bool StartArray() { return deeper() && out_.StartArray(); }
  bool EndArray(rapidjson::SizeType elements) { return --depth_, out_.EndArray(elements); }

 private:
  // The deepest request is an object holding "inputs", an array of
  // objects, each with "data" nested as deep as its shape (Shape::kMaxRank
  // at most): anything deeper is refused before the parser's stack and the
  // document grow with it (200,000 levels once cost 19 MiB, kept by the
  // thread's malloc arena).
  static constexpr int kMaxDepth = static_cast<int>(Shape::kMaxRank) + 8;
  bool deeper() {
    if (++depth_ <= kMaxDepth) return true;
    error_ = "the JSON is nested deeper than " + std::to_string(kMaxDepth) + " levels";
    return false;
  }

  int depth_ = 0;
  // kParseValidateEncodingFlag checks the body's bytes, but RapidJSON 1.1.0
  // decodes a lone surrogate escape ("\uDC00") into bytes that are not
  // UTF-8 (found by fuzz_http_infer; fixed upstream after the release),
  // and an "id" or a name goes back into the reply's JSON as it came.
  bool utf8(const char* s, rapidjson::SizeType n) {
    if (is_valid_utf8(std::string_view(s, n))) return true;
    error_ = "a string is not valid UTF-8 (a lone surrogate escape such as \\uDC00?)";
    return false;
  }

  Document& out_;
  std::string& error_;
};

// ---------------------------------------------------------------- decoding

std::string string_of(const JsonValue& v) { return std::string(v.GetString(), v.GetStringLength()); }

// A member of a JSON object, null when absent (or `object` is no object).
const JsonValue* member(const JsonValue& object, const char* key) {
  if (!object.IsObject()) return nullptr;
  const auto it = object.FindMember(key);
  return it == object.MemberEnd() ? nullptr : &it->value;
}

const JsonValue* string_member(const JsonValue& object, const char* key) {
  const JsonValue* v = member(object, key);
  return v != nullptr && v->IsString() ? v : nullptr;
}

Result<ParameterValue> parameter_from_json(const std::string& key, const JsonValue& v) {
  if (v.IsBool()) return ParameterValue(v.GetBool());
  if (v.IsUint64()) {
    const uint64_t u = v.GetUint64();
    if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return ParameterValue(static_cast<int64_t>(u));
    return ParameterValue(u);
  }
  if (v.IsInt64()) return ParameterValue(v.GetInt64());
  if (v.IsDouble()) return ParameterValue(v.GetDouble());
  if (v.IsString()) return ParameterValue(string_of(v));
  return InvalidArgument("parameter " + in_quotes(key) + " must be a bool, number or string");
}

Result<Parameters> parameters_from_json(const JsonValue* object, const std::string& where) {
  Parameters out;
  if (object == nullptr || object->IsNull()) return out;
  if (!object->IsObject()) return InvalidArgument(where + " 'parameters' must be an object");
  for (auto it = object->MemberBegin(); it != object->MemberEnd(); ++it) {
    std::string key = string_of(it->name);
    POLARIS_ASSIGN_OR_RETURN(ParameterValue p, parameter_from_json(key, it->value));
    out.insert_or_assign(std::move(key), std::move(p));
  }
  return out;
}

bool bool_parameter(const Parameters& p, const std::string& key) {
  auto it = p.find(key);
  if (it == p.end()) return false;
  if (const auto* b = std::get_if<bool>(&it->second)) return *b;
  return false;
}

// An input's or output's "parameters": each must be a bool, number or
// string, as the request's are; only a few are read (int_parameter), so no
// map is built for them.
Status check_parameters(const JsonValue* object, const std::string& where) {
  if (object == nullptr || object->IsNull()) return Status::Ok();
  if (!object->IsObject()) return InvalidArgument(where + " 'parameters' must be an object");
  for (auto it = object->MemberBegin(); it != object->MemberEnd(); ++it)
    if (!it->value.IsBool() && !it->value.IsNumber() && !it->value.IsString())
      return InvalidArgument("parameter " + in_quotes(string_of(it->name)) + " must be a bool, number or string");
  return Status::Ok();
}

// An integer parameter (one above int64's range reads negative, and is
// refused by the caller's range check); nullopt when absent or not an integer.
std::optional<int64_t> int_parameter(const JsonValue* parameters, const char* key) {
  const JsonValue* v = parameters != nullptr ? member(*parameters, key) : nullptr;
  if (v == nullptr) return std::nullopt;
  if (v->IsInt64()) return v->GetInt64();
  if (v->IsUint64()) return static_cast<int64_t>(v->GetUint64());
  return std::nullopt;
}

// The shared-memory parameters of an input or requested output
// (shared_memory_io.h); nullopt without shared_memory_region.
Result<std::optional<SharedMemoryRef>> shared_memory_parameters(const JsonValue* parameters, const std::string& what) {
  const JsonValue* region = parameters != nullptr ? member(*parameters, "shared_memory_region") : nullptr;
  if (region == nullptr) return std::optional<SharedMemoryRef>();
  if (!region->IsString()) return InvalidArgument(what + ": parameter 'shared_memory_region' must be a string");
  std::optional<int64_t> numbers[2];
  const char* keys[2] = {"shared_memory_byte_size", "shared_memory_offset"};
  for (int i = 0; i < 2; ++i) {
    const JsonValue* v = member(*parameters, keys[i]);
    if (v == nullptr) continue;
    if (!v->IsInt64())
      return InvalidArgument(fmt::format("{}: parameter '{}' must be an integer from 0 to 2^63-1", what, keys[i]));
    numbers[i] = v->GetInt64();
  }
  POLARIS_ASSIGN_OR_RETURN(SharedMemoryRef ref, shared_memory_ref(string_of(*region), numbers[0], numbers[1], what));
  return std::optional<SharedMemoryRef>(std::move(ref));
}

// Row-major flattening of nested JSON arrays; the count is bounded by the
// body, so this never allocates from a number on the wire. Nesting deeper
// than `depth_left` fails: data nests at most as deep as its shape, and an
// unbounded recursion on "[[[[...]]]]" would overflow the stack.
bool flatten(const JsonValue& v, std::vector<const JsonValue*>& out, std::size_t depth_left) {
  if (!v.IsArray()) {
    out.push_back(&v);
    return true;
  }
  if (depth_left == 0) return false;
  for (const JsonValue& e : v.GetArray())
    if (!flatten(e, out, depth_left - 1)) return false;
  return true;
}

template <typename T>
Status fill_numbers(const std::vector<const JsonValue*>& values, T* data, const std::string& input) {
  for (std::size_t i = 0; i < values.size(); ++i) {
    const JsonValue& v = *values[i];
    if constexpr (std::is_floating_point_v<T>) {
      if (!v.IsNumber()) return InvalidArgument(fmt::format("input {}: element {} is not a number", in_quotes(input), i));
      data[i] = static_cast<T>(v.GetDouble());
    } else {
      bool in_range = false;
      if (v.IsUint64()) {
        const uint64_t u = v.GetUint64();
        in_range = u <= static_cast<uint64_t>(std::numeric_limits<T>::max());
        if (in_range) data[i] = static_cast<T>(u);
      } else if (v.IsInt64()) {  // negative
        const int64_t s = v.GetInt64();
        in_range = std::is_signed_v<T> && s >= static_cast<int64_t>(std::numeric_limits<T>::min());
        if (in_range) data[i] = static_cast<T>(s);
      } else {
        return InvalidArgument(fmt::format("input {}: element {} is not an integer", in_quotes(input), i));
      }
      if (!in_range)
        return InvalidArgument(fmt::format("input {}: element {} is out of range for its datatype", in_quotes(input), i));
    }
  }
  return Status::Ok();
}

Result<Tensor> tensor_from_json_data(DataType dtype, const Shape& shape, const JsonValue& data,
                                     const std::string& input) {
  if (dtype == DataType::kFp16 || dtype == DataType::kBf16)
    return InvalidArgument(fmt::format("input {}: {} data must be sent binary (the binary tensor extension)", in_quotes(input),
                                       to_string(dtype)));
  std::vector<const JsonValue*> values;
  if (!flatten(data, values, std::max<std::size_t>(shape.rank(), 1)))
    return InvalidArgument(fmt::format("input {}: 'data' is nested deeper than its shape {}", in_quotes(input),
                                       shape.to_string()));
  POLARIS_ASSIGN_OR_RETURN(int64_t count, shape.element_count());
  if (static_cast<int64_t>(values.size()) != count)
    return InvalidArgument(fmt::format("input {} has {} data elements but its shape {} needs {}", in_quotes(input),
                                       values.size(), shape.to_string(), count));
  if (dtype == DataType::kBytes) {
    std::vector<std::string> strings;
    strings.reserve(values.size());
    for (const JsonValue* v : values) {
      if (!v->IsString()) return InvalidArgument("input " + in_quotes(input) + ": BYTES data must be strings");
      strings.push_back(string_of(*v));
    }
    return Tensor::from_strings(shape, strings);
  }
  POLARIS_ASSIGN_OR_RETURN(Tensor t, Tensor::allocate(dtype, shape));
  void* p = t.mutable_data();
  Status filled;
  switch (dtype) {
    case DataType::kBool:
      for (std::size_t i = 0; i < values.size(); ++i) {
        if (!values[i]->IsBool())
          return InvalidArgument(fmt::format("input {}: element {} is not true or false", in_quotes(input), i));
        static_cast<uint8_t*>(p)[i] = values[i]->GetBool() ? 1 : 0;
      }
      break;
    case DataType::kUint8: filled = fill_numbers(values, static_cast<uint8_t*>(p), input); break;
    case DataType::kUint16: filled = fill_numbers(values, static_cast<uint16_t*>(p), input); break;
    case DataType::kUint32: filled = fill_numbers(values, static_cast<uint32_t*>(p), input); break;
    case DataType::kUint64: filled = fill_numbers(values, static_cast<uint64_t*>(p), input); break;
    case DataType::kInt8: filled = fill_numbers(values, static_cast<int8_t*>(p), input); break;
    case DataType::kInt16: filled = fill_numbers(values, static_cast<int16_t*>(p), input); break;
    case DataType::kInt32: filled = fill_numbers(values, static_cast<int32_t*>(p), input); break;
    case DataType::kInt64: filled = fill_numbers(values, static_cast<int64_t*>(p), input); break;
    case DataType::kFp32: filled = fill_numbers(values, static_cast<float*>(p), input); break;
    case DataType::kFp64: filled = fill_numbers(values, static_cast<double*>(p), input); break;
    default: return InvalidArgument("input " + in_quotes(input) + ": unsupported datatype");
  }
  POLARIS_RETURN_IF_ERROR(filled);
  return t;
}

Result<Shape> shape_from_json(const JsonValue* v, const std::string& input) {
  if (v == nullptr || !v->IsArray()) return InvalidArgument("input " + in_quotes(input) + " needs a 'shape' array");
  std::vector<int64_t> dims;
  for (const JsonValue& d : v->GetArray()) {
    if (!d.IsInt64() || d.GetInt64() < 0)
      return InvalidArgument("input " + in_quotes(input) + ": shape dims must be non-negative integers");
    dims.push_back(d.GetInt64());
  }
  Shape shape(std::move(dims));
  if (Status s = shape.validate_concrete(); !s.ok()) return InvalidArgument("input " + in_quotes(input) + ": " + s.message());
  return shape;
}

Status decode_inputs(const JsonValue* inputs, const std::shared_ptr<const std::string>& body,
                     std::size_t binary_start, const SharedMemoryRegistry* shared_memory, InferRequest& request) {
  if (inputs == nullptr || !inputs->IsArray() || inputs->Empty())
    return InvalidArgument("the request needs a non-empty 'inputs' array");
  std::size_t offset = binary_start;
  for (const JsonValue& in : inputs->GetArray()) {
    const JsonValue* name_value = string_member(in, "name");
    if (name_value == nullptr) return InvalidArgument("every input needs a 'name'");
    const std::string name = string_of(*name_value);
    const JsonValue* datatype = string_member(in, "datatype");
    if (datatype == nullptr) return InvalidArgument("input " + in_quotes(name) + " needs a 'datatype'");
    const auto dtype = data_type_from_string(string_of(*datatype));
    if (!dtype || *dtype == DataType::kInvalid)
      return InvalidArgument("input " + in_quotes(name) + ": unknown datatype " + in_quotes(string_of(*datatype)));
    POLARIS_ASSIGN_OR_RETURN(Shape shape, shape_from_json(member(in, "shape"), name));
    const JsonValue* params = member(in, "parameters");
    POLARIS_RETURN_IF_ERROR(check_parameters(params, "input"));
    POLARIS_ASSIGN_OR_RETURN(std::optional<SharedMemoryRef> shm,
                             shared_memory_parameters(params, "input " + in_quotes(name)));
    if (shm) {
      // The bytes are in a registered region: the body carries none of them.
      if (member(in, "data") != nullptr || member(*params, "binary_data_size") != nullptr)
        return InvalidArgument("unexpected 'data' or 'binary_data_size' provided when using shared memory for input "
                               "tensor " + in_quotes(name));
      POLARIS_ASSIGN_OR_RETURN(Tensor t, tensor_from_shared_memory(shared_memory, *dtype, shape, *shm, name));
      request.inputs.push_back({name, std::move(t)});
    } else if (auto binary_size = int_parameter(params, "binary_data_size")) {
      if (*binary_size < 0 || static_cast<std::size_t>(*binary_size) > body->size() - offset)
        return InvalidArgument(fmt::format("input {}: binary_data_size {} runs past the end of the body", in_quotes(name),
                                           *binary_size));
      POLARIS_ASSIGN_OR_RETURN(Tensor t, tensor_from_wire(*dtype, shape, body->data() + offset,
                                                          static_cast<std::size_t>(*binary_size), body, name));
      offset += static_cast<std::size_t>(*binary_size);
      request.inputs.push_back({name, std::move(t)});
    } else {
      const JsonValue* data = member(in, "data");
      if (data == nullptr) return InvalidArgument("input " + in_quotes(name) + " has neither 'data' nor binary_data_size");
      POLARIS_ASSIGN_OR_RETURN(Tensor t, tensor_from_json_data(*dtype, shape, *data, name));
      request.inputs.push_back({name, std::move(t)});
    }
  }
  if (offset != body->size())
    return InvalidArgument(fmt::format("the body has {} bytes after the JSON header but the inputs use {}",
                                       body->size() - binary_start, offset - binary_start));
  return Status::Ok();
}

Status decode_outputs(const JsonValue* outputs, const SharedMemoryRegistry* shared_memory, InferRequest& request) {
  if (outputs == nullptr || outputs->IsNull()) return Status::Ok();
  if (!outputs->IsArray()) return InvalidArgument("'outputs' must be an array");
  for (const JsonValue& out : outputs->GetArray()) {
    const JsonValue* name = string_member(out, "name");
    if (name == nullptr) return InvalidArgument("every requested output needs a 'name'");
    RequestedOutput r;
    r.name = string_of(*name);
    const JsonValue* params = member(out, "parameters");
    POLARIS_RETURN_IF_ERROR(check_parameters(params, "output"));
    const JsonValue* binary = params != nullptr ? member(*params, "binary_data") : nullptr;
    r.binary = binary != nullptr ? binary->IsBool() && binary->GetBool() : request.binary_outputs;
    if (auto k = int_parameter(params, "classification")) {
      if (*k < 1) return InvalidArgument("output " + in_quotes(r.name) + ": classification must be at least 1");
      r.classification = static_cast<uint32_t>(std::min<int64_t>(*k, 1 << 20));
    }
    POLARIS_ASSIGN_OR_RETURN(std::optional<SharedMemoryRef> shm,
                             shared_memory_parameters(params, "output " + in_quotes(r.name)));
    if (shm) {
      if (r.classification > 0)
        return InvalidArgument("output " + in_quotes(r.name) +
                               ": output can't set both 'shared_memory_region' and 'classification'");
      POLARIS_ASSIGN_OR_RETURN(r.shared_memory, output_window(shared_memory, *shm, r.name));
    }
    request.outputs.push_back(std::move(r));
  }
  return Status::Ok();
}

// ---------------------------------------------------------------- encoding

void write_string(JsonWriter& w, std::string_view s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }

// BYTES elements may hold bytes that are not UTF-8, which RapidJSON's
// writer would copy into the JSON as they are: nlohmann's replacing dump
// writes them as U+FFFD instead (valid JSON, the response still goes out).
void write_bytes_element(JsonWriter& w, std::string_view s) {
  const std::string literal =
      nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  w.RawValue(literal.data(), literal.size(), rapidjson::kStringType);
}

// JSON has no NaN or infinities: they are written as null (as nlohmann did).
void write_number(JsonWriter& w, double d) {
  if (std::isfinite(d))
    w.Double(d);
  else
    w.Null();
}

void write_tensor_data(JsonWriter& w, const Tensor& t) {
  w.StartArray();
  if (t.dtype() == DataType::kBytes) {
    const std::vector<std::string_view> strings = t.strings().value();
    for (std::string_view s : strings) write_bytes_element(w, s);
    w.EndArray();
    return;
  }
  const std::size_t n = t.byte_size() / std::max<std::size_t>(element_size(t.dtype()), 1);
  const void* p = t.data();
  auto each = [&](const auto* values, auto write) {
    for (std::size_t i = 0; i < n; ++i) write(values[i]);
  };
  auto as_int = [&](int64_t v) { w.Int64(v); };
  auto as_uint = [&](uint64_t v) { w.Uint64(v); };
  auto as_real = [&](double v) { write_number(w, v); };
  switch (t.dtype()) {
    case DataType::kBool: each(static_cast<const uint8_t*>(p), [&](uint8_t v) { w.Bool(v != 0); }); break;
    case DataType::kUint8: each(static_cast<const uint8_t*>(p), as_uint); break;
    case DataType::kUint16: each(static_cast<const uint16_t*>(p), as_uint); break;
    case DataType::kUint32: each(static_cast<const uint32_t*>(p), as_uint); break;
    case DataType::kUint64: each(static_cast<const uint64_t*>(p), as_uint); break;
    case DataType::kInt8: each(static_cast<const int8_t*>(p), as_int); break;
    case DataType::kInt16: each(static_cast<const int16_t*>(p), as_int); break;
    case DataType::kInt32: each(static_cast<const int32_t*>(p), as_int); break;
    case DataType::kInt64: each(static_cast<const int64_t*>(p), as_int); break;
    case DataType::kFp32: each(static_cast<const float*>(p), as_real); break;
    case DataType::kFp64: each(static_cast<const double*>(p), as_real); break;
    default: break;
  }
  w.EndArray();
}

}  // namespace

Result<InferRequest> decode_infer_request(std::shared_ptr<const std::string> body,
                                          std::optional<std::size_t> json_length,
                                          const SharedMemoryRegistry* shared_memory) {
  const std::size_t header_size = json_length.value_or(body->size());
  if (header_size > body->size())
    return InvalidArgument(fmt::format("Inference-Header-Content-Length {} is larger than the body ({} bytes)",
                                       header_size, body->size()));
  // The DOM and the parser's stacks live in pools whose first blocks are on
  // this stack: a usual header costs no heap allocation at all (the stacks
  // start at 512 bytes, well inside their block, which also holds the
  // pool's own header); a large or deep JSON body grows the pools in 64 KiB
  // blocks, freed together with the document.
  char value_block[8192];
  char parse_block[4096];
  rapidjson::MemoryPoolAllocator<> values(value_block, sizeof value_block);
  rapidjson::MemoryPoolAllocator<> parse_stack(parse_block, sizeof parse_block);
  JsonDocument header(&values, 512, &parse_stack);
  std::string value_error;
  rapidjson::ParseResult parsed;
  auto parse = [&](JsonDocument& document) {
    ExactNumbers<JsonDocument> numbers(document, value_error);
    rapidjson::MemoryStream bytes(body->data(), header_size);
    rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> in(bytes);
    rapidjson::GenericReader<rapidjson::UTF8<>, rapidjson::UTF8<>, rapidjson::MemoryPoolAllocator<>> reader(
        &parse_stack);
    parsed = reader.Parse<kParseFlags>(in, numbers);
    return !parsed.IsError();
  };
  header.Populate(parse);
  if (parsed.IsError())
    return InvalidArgument(fmt::format("the request is not valid JSON: {} (at byte {})",
                                       value_error.empty() ? rapidjson::GetParseError_En(parsed.Code())
                                                            : value_error.c_str(),
                                       parsed.Offset()));
  if (!header.IsObject()) return InvalidArgument("the request must be a JSON object");
  InferRequest request;
  if (const JsonValue* id = member(header, "id")) {
    if (!id->IsString()) return InvalidArgument("'id' must be a string");
    request.id = string_of(*id);
  }
  POLARIS_ASSIGN_OR_RETURN(request.parameters, parameters_from_json(member(header, "parameters"), "request"));
  request.binary_outputs = bool_parameter(request.parameters, "binary_data_output");
  POLARIS_RETURN_IF_ERROR(decode_inputs(member(header, "inputs"), body, header_size, shared_memory, request));
  POLARIS_RETURN_IF_ERROR(decode_outputs(member(header, "outputs"), shared_memory, request));
  return request;
}

Result<InferRequest> decode_raw_infer_request(std::shared_ptr<const std::string> body,
                                              const inference::ModelConfig& config) {
  if (config.input_size() != 1)
    return InvalidArgument(fmt::format("a raw body (Inference-Header-Content-Length: 0) needs a model with one "
                                       "input; '{}' has {}",
                                       config.name(), config.input_size()));
  const auto& input = config.input(0);
  const DataType dtype = from_config_data_type(input.data_type());
  std::vector<int64_t> dims;
  if (config.max_batch_size() > 0) dims.push_back(1);
  for (int64_t d : input.dims()) {
    if (d < 0)
      return InvalidArgument("a raw body cannot carry input " + in_quotes(input.name()) + ": it has variable dims");
    dims.push_back(d);
  }
  InferRequest request;
  request.binary_outputs = true;
  POLARIS_ASSIGN_OR_RETURN(Tensor t, tensor_from_wire(dtype, Shape(std::move(dims)), body->data(), body->size(),
                                                      body, input.name()));
  request.inputs.push_back({input.name(), std::move(t)});
  return request;
}

EncodedInferResponse encode_infer_response(const InferResponse& response) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("model_name");
  write_string(w, response.model_name);
  w.Key("model_version");
  write_string(w, response.model_version);
  if (!response.id.empty()) {
    w.Key("id");
    write_string(w, response.id);
  }
  w.Key("outputs");
  w.StartArray();
  std::vector<const Tensor*> binary;
  for (const InferOutput& out : response.outputs) {
    w.StartObject();
    w.Key("name");
    write_string(w, out.name);
    w.Key("datatype");
    write_string(w, to_string(out.tensor.dtype()));
    w.Key("shape");
    w.StartArray();
    for (int64_t d : out.tensor.shape().dims()) w.Int64(d);
    w.EndArray();
    const bool must_be_binary = out.tensor.dtype() == DataType::kFp16 || out.tensor.dtype() == DataType::kBf16;
    if (out.shared_memory) {
      // Already written to the client's region: name, datatype and shape
      // only, as Triton answers (tritonclient reads the bytes with
      // shared_memory.get_contents_as_numpy). No "parameters" either:
      // Triton's C++ HTTP client (perf_analyzer's) takes an output's
      // parameters to hold binary_data_size and fails without it.
    } else if (out.binary || must_be_binary) {
      w.Key("parameters");
      w.StartObject();
      w.Key("binary_data_size");
      w.Uint64(out.tensor.byte_size());
      w.EndObject();
      binary.push_back(&out.tensor);
    } else {
      w.Key("data");
      write_tensor_data(w, out.tensor);
    }
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  EncodedInferResponse encoded;
  std::size_t total = buffer.GetSize();
  for (const Tensor* t : binary) total += t->byte_size();
  encoded.body.reserve(total);
  encoded.body.assign(buffer.GetString(), buffer.GetSize());
  if (!binary.empty()) {
    encoded.json_length = buffer.GetSize();
    for (const Tensor* t : binary) encoded.body.append(static_cast<const char*>(t->data()), t->byte_size());
  }
  return encoded;
}

}  // namespace polaris
