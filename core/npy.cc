#include "core/npy.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <regex>
#include <vector>

namespace polaris {
namespace {

std::optional<DataType> from_descr(const std::string& d) {
  static const std::vector<std::pair<std::string, DataType>> kDescr = {
      {"|b1", DataType::kBool}, {"|u1", DataType::kUint8}, {"<u2", DataType::kUint16},
      {"<u4", DataType::kUint32}, {"<u8", DataType::kUint64}, {"|i1", DataType::kInt8},
      {"<i2", DataType::kInt16}, {"<i4", DataType::kInt32}, {"<i8", DataType::kInt64},
      {"<f2", DataType::kFp16}, {"<f4", DataType::kFp32}, {"<f8", DataType::kFp64}};
  for (const auto& [name, type] : kDescr)
    if (name == d) return type;
  return std::nullopt;
}

float half_to_float(uint16_t h) {
  const uint32_t sign = (h >> 15) & 1, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  float v;
  if (exp == 0)
    v = std::ldexp(static_cast<float>(mant), -24);
  else if (exp == 31)
    v = mant ? NAN : INFINITY;
  else
    v = std::ldexp(static_cast<float>(mant | 0x400), static_cast<int>(exp) - 25);
  return sign ? -v : v;
}

}  // namespace

double element_as_double(const Tensor& t, std::size_t i) {
  const auto* p = static_cast<const std::byte*>(t.data());
  auto load = [&](auto tag) {
    decltype(tag) v;
    std::memcpy(&v, p + i * sizeof v, sizeof v);
    return static_cast<double>(v);
  };
  switch (t.dtype()) {
    case DataType::kBool: return load(uint8_t{});
    case DataType::kUint8: return load(uint8_t{});
    case DataType::kUint16: return load(uint16_t{});
    case DataType::kUint32: return load(uint32_t{});
    case DataType::kUint64: return load(uint64_t{});
    case DataType::kInt8: return load(int8_t{});
    case DataType::kInt16: return load(int16_t{});
    case DataType::kInt32: return load(int32_t{});
    case DataType::kInt64: return load(int64_t{});
    case DataType::kFp32: return load(float{});
    case DataType::kFp64: return load(double{});
    case DataType::kFp16: return half_to_float(static_cast<uint16_t>(load(uint16_t{})));
    case DataType::kBf16: {
      const uint32_t bits = static_cast<uint32_t>(load(uint16_t{})) << 16;
      float f;
      std::memcpy(&f, &bits, 4);
      return f;
    }
    default: return 0;
  }
}

Result<Tensor> read_npy(const std::string& path, std::optional<DataType> as_type) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot open " + path);
  const std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (file.size() < 10 || file.compare(0, 6, "\x93NUMPY") != 0) return InvalidArgument(path + ": not a .npy file");
  const int major = static_cast<unsigned char>(file[6]);
  std::size_t header_len = 0, offset = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(file[8]) | (static_cast<unsigned char>(file[9]) << 8);
    offset = 10;
  } else {
    if (file.size() < 12) return InvalidArgument(path + ": truncated header");
    for (int i = 3; i >= 0; --i) header_len = (header_len << 8) | static_cast<unsigned char>(file[8 + i]);
    offset = 12;
  }
  if (header_len > file.size() - offset) return InvalidArgument(path + ": header past end of file");
  const std::string header = file.substr(offset, header_len);
  offset += header_len;

  std::smatch m;
  if (!std::regex_search(header, m, std::regex("'descr': '([^']+)'")))
    return InvalidArgument(path + ": no descr");
  const std::string descr = m[1];
  if (header.find("'fortran_order': False") == std::string::npos)
    return InvalidArgument(path + ": Fortran order is not supported");
  if (!std::regex_search(header, m, std::regex("'shape': \\(([^)]*)\\)"))) return InvalidArgument(path + ": no shape");
  std::vector<int64_t> dims;
  const std::string dims_text = m[1];
  const std::regex number("\\d+");
  for (std::sregex_iterator it(dims_text.begin(), dims_text.end(), number), end; it != end; ++it)
    dims.push_back(std::stoll(it->str()));
  const Shape shape(dims);
  POLARIS_ASSIGN_OR_RETURN(int64_t count, shape.element_count());
  const std::size_t payload = file.size() - offset;

  if (descr.rfind("|S", 0) == 0) {
    const std::size_t width = std::stoul(descr.substr(2));
    if (width * static_cast<std::size_t>(count) != payload) return InvalidArgument(path + ": size mismatch");
    std::vector<std::string> values;
    for (int64_t i = 0; i < count; ++i) {
      std::string s = file.substr(offset + i * width, width);
      s.erase(s.find_last_not_of('\0') + 1);
      values.push_back(s);
    }
    return Tensor::from_strings(shape, values);
  }
  auto type = from_descr(descr);
  if (!type) return InvalidArgument(path + ": unsupported dtype " + descr);
  if (as_type) {
    if (element_size(*as_type) != element_size(*type)) return InvalidArgument(path + ": cannot view as another size");
    type = as_type;
  }
  return Tensor::copy_of(*type, shape, file.data() + offset, payload);
}

namespace {

std::string descr_of(DataType type) {
  switch (type) {
    case DataType::kBool: return "|b1";
    case DataType::kUint8: return "|u1";
    case DataType::kUint16: case DataType::kBf16: return "<u2";
    case DataType::kUint32: return "<u4";
    case DataType::kUint64: return "<u8";
    case DataType::kInt8: return "|i1";
    case DataType::kInt16: return "<i2";
    case DataType::kInt32: return "<i4";
    case DataType::kInt64: return "<i8";
    case DataType::kFp16: return "<f2";
    case DataType::kFp32: return "<f4";
    case DataType::kFp64: return "<f8";
    default: return "";
  }
}

}  // namespace

Status write_npy(const std::string& path, const Tensor& tensor) {
  std::string descr = descr_of(tensor.dtype()), payload;
  if (tensor.dtype() == DataType::kBytes) {
    POLARIS_ASSIGN_OR_RETURN(auto strings, tensor.strings());
    std::size_t width = 1;
    for (auto s : strings) width = std::max(width, s.size());
    descr = "|S" + std::to_string(width);
    for (auto s : strings) payload += std::string(s) + std::string(width - s.size(), '\0');
  } else {
    payload.assign(static_cast<const char*>(tensor.data()), tensor.byte_size());
  }
  std::string shape;
  for (auto d : tensor.shape().dims()) shape += std::to_string(d) + ", ";
  if (tensor.shape().rank() > 1) shape.resize(shape.size() - 1);
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + shape + "), }";
  header.append(63 - (10 + header.size()) % 64, ' ');  // pad so data starts 64-aligned
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  if (!out) return NotFound("cannot write " + path);
  out.write("\x93NUMPY\x01\x00", 8);
  const char len[2] = {static_cast<char>(header.size() & 0xff), static_cast<char>(header.size() >> 8)};
  out.write(len, 2);
  out << header << payload;
  return out ? Status::Ok() : Internal("failed writing " + path);
}

Result<double> max_abs_diff(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype())
    return InvalidArgument(std::string("dtype ") + std::string(to_string(a.dtype())) + " vs " +
                           std::string(to_string(b.dtype())));
  if (!(a.shape() == b.shape())) return InvalidArgument("shape " + a.shape().to_string() + " vs " + b.shape().to_string());
  if (a.dtype() == DataType::kBytes) {
    POLARIS_ASSIGN_OR_RETURN(auto sa, a.strings());
    POLARIS_ASSIGN_OR_RETURN(auto sb, b.strings());
    for (std::size_t i = 0; i < sa.size(); ++i)
      if (sa[i] != sb[i]) return InvalidArgument("string " + std::to_string(i) + " differs");
    return 0.0;
  }
  POLARIS_ASSIGN_OR_RETURN(int64_t count, a.shape().element_count());
  double worst = 0;
  for (int64_t i = 0; i < count; ++i) {
    const double x = element_as_double(a, i), y = element_as_double(b, i);
    if (std::isnan(x) && std::isnan(y)) continue;
    worst = std::max(worst, std::fabs(x - y));
  }
  return worst;
}

}  // namespace polaris
