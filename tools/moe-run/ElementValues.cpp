//===- ElementValues.cpp - Tensor elements as numbers ---------------------===//

#include "ElementValues.h"

#include <cmath>
#include <cstring>
#include <sstream>

using namespace moe;

namespace {
template <typename T> T load(const HostTensor &tensor, int64_t index) {
  T value;
  std::memcpy(&value, tensor.bytes() + index * sizeof(T), sizeof(T));
  return value;
}

/// IEEE binary16 to double: every half value is exact in a double.
double halfToDouble(uint16_t bits) {
  int exponent = (bits >> 10) & 0x1F;
  int mantissa = bits & 0x3FF;
  double sign = (bits & 0x8000) ? -1.0 : 1.0;
  if (exponent == 0x1F)
    return mantissa ? NAN : sign * INFINITY;
  if (exponent == 0) // subnormal
    return sign * std::ldexp(mantissa, -24);
  return sign * std::ldexp(mantissa + 1024, exponent - 25);
}

/// bfloat16 is the top half of a float.
double bfloat16ToDouble(uint16_t bits) {
  uint32_t widened = static_cast<uint32_t>(bits) << 16;
  float value;
  std::memcpy(&value, &widened, sizeof(value));
  return value;
}
} // namespace

double moe::elementAt(const HostTensor &tensor, int64_t index) {
  switch (tensor.dtype()) {
  case DType::F16:
    return halfToDouble(load<uint16_t>(tensor, index));
  case DType::BF16:
    return bfloat16ToDouble(load<uint16_t>(tensor, index));
  case DType::F32:
    return load<float>(tensor, index);
  case DType::F64:
    return load<double>(tensor, index);
  case DType::I8:
    return load<int8_t>(tensor, index);
  case DType::I16:
    return load<int16_t>(tensor, index);
  case DType::I32:
    return load<int32_t>(tensor, index);
  case DType::I64:
    return static_cast<double>(load<int64_t>(tensor, index));
  case DType::U8:
  case DType::Bool: // validated to hold 0 or 1 by every loader
    return load<uint8_t>(tensor, index);
  case DType::U16:
    return load<uint16_t>(tensor, index);
  case DType::U32:
    return load<uint32_t>(tensor, index);
  case DType::U64:
    return static_cast<double>(load<uint64_t>(tensor, index));
  }
  return NAN;
}

std::string moe::formatNumber(double value) {
  std::ostringstream os;
  os << value;
  return os.str();
}

std::string moe::indexString(const std::vector<int64_t> &shape, int64_t index) {
  std::vector<int64_t> indices(shape.size());
  for (size_t i = shape.size(); i-- > 0;) {
    indices[i] = index % shape[i];
    index /= shape[i];
  }
  return shapeString(indices);
}
