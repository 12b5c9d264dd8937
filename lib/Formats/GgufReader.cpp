//===- GgufReader.cpp - GGUF reader ---------------------------------------===//
//
// Validation follows llama.cpp's gguf.cpp (formats.md §2.1): every count is
// bounded by the bytes left in the file before anything is allocated, every
// size computation is overflow-checked, and tensor data must lie inside the
// file at aligned offsets without overlapping. Data need not be
// contiguous (the spec allows gaps).
//
//===----------------------------------------------------------------------===//
#include "lowbit/Formats/Gguf.h"
#include "lowbit/Support/InputFiles.h"
#include "lowbit/Support/Error.h"
#include "lowbit/Support/Float16.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/bit.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/MathExtras.h"

#include <cmath>
#include <cstring>
#include <limits>

using namespace llvm;
using namespace lowbit;

//===----------------------------------------------------------------------===//
// ggml type ids
//===----------------------------------------------------------------------===//

// Index = ggml_type id (ggml.h); "" marks ids retired from files.
static const char *const kGgmlNames[] = {
    "F32",     "F16",    "Q4_0",   "Q4_1",     "",        "",
    "Q5_0",    "Q5_1",   "Q8_0",   "Q8_1",     "Q2_K",    "Q3_K",
    "Q4_K",    "Q5_K",   "Q6_K",   "Q8_K",     "IQ2_XXS", "IQ2_XS",
    "IQ3_XXS", "IQ1_S",  "IQ4_NL", "IQ3_S",    "IQ2_S",   "IQ4_XS",
    "I8",      "I16",    "I32",    "I64",      "F64",     "IQ1_M",
    "BF16",    "",       "",       "",         "TQ1_0",   "TQ2_0",
    "",        "",       "",       "MXFP4"};

static const std::pair<uint32_t, DType> kGgmlDTypes[] = {
    {0, DType::F32},   {1, DType::F16},   {2, DType::Q4_0},  {3, DType::Q4_1},
    {6, DType::Q5_0},  {7, DType::Q5_1},  {8, DType::Q8_0},  {10, DType::Q2_K},
    {11, DType::Q3_K}, {12, DType::Q4_K}, {13, DType::Q5_K}, {14, DType::Q6_K},
    {24, DType::I8},   {25, DType::I16},  {26, DType::I32},  {27, DType::I64},
    {28, DType::F64},  {30, DType::BF16}};

std::optional<DType> lowbit::dtypeFromGgml(uint32_t ggmlType) {
  for (auto [id, type] : kGgmlDTypes)
    if (id == ggmlType)
      return type;
  return std::nullopt;
}

std::optional<uint32_t> lowbit::ggmlFromDType(DType dtype) {
  for (auto [id, type] : kGgmlDTypes)
    if (type == dtype)
      return id;
  return std::nullopt;
}

StringRef lowbit::ggmlTypeName(uint32_t ggmlType) {
  if (ggmlType >= std::size(kGgmlNames))
    return "";
  return kGgmlNames[ggmlType];
}

//===----------------------------------------------------------------------===//
// GgufValue
//===----------------------------------------------------------------------===//

StringRef lowbit::ggufValueTypeName(GgufValueType type) {
  static const char *const kNames[] = {"u8",  "i8",  "u16",    "i16",   "u32",
                                       "i32", "f32", "bool",   "string",
                                       "array", "u64", "i64",  "f64"};
  auto id = static_cast<uint32_t>(type);
  return id < std::size(kNames) ? kNames[id] : "?";
}

GgufValue GgufValue::unsignedOf(GgufValueType t, uint64_t v) {
  GgufValue r;
  r.type = t;
  r.uintValue = v;
  return r;
}

GgufValue GgufValue::signedOf(GgufValueType t, int64_t v) {
  GgufValue r;
  r.type = t;
  r.intValue = v;
  return r;
}

GgufValue GgufValue::floatOf(GgufValueType t, double v) {
  GgufValue r;
  r.type = t;
  r.floatValue = v;
  return r;
}

GgufValue GgufValue::string(std::string v) {
  GgufValue r;
  r.type = GgufValueType::String;
  r.stringValue = std::move(v);
  return r;
}

GgufValue GgufValue::array(GgufValueType elemType,
                           std::vector<GgufValue> elems) {
  GgufValue r;
  r.type = GgufValueType::Array;
  r.elemType = elemType;
  r.elems = std::move(elems);
  return r;
}

static bool isSignedType(GgufValueType t) {
  return t == GgufValueType::I8 || t == GgufValueType::I16 ||
         t == GgufValueType::I32 || t == GgufValueType::I64;
}

static bool isUnsignedType(GgufValueType t) {
  return t == GgufValueType::U8 || t == GgufValueType::U16 ||
         t == GgufValueType::U32 || t == GgufValueType::U64;
}

bool GgufValue::isInteger() const {
  return isSignedType(type) || isUnsignedType(type);
}

std::optional<int64_t> GgufValue::asInt(int64_t lo, int64_t hi) const {
  if (isUnsignedType(type)) {
    if (hi < 0 || uintValue > uint64_t(hi) ||
        (lo > 0 && uintValue < uint64_t(lo)))
      return std::nullopt;
    return int64_t(uintValue);
  }
  if (isSignedType(type) && intValue >= lo && intValue <= hi)
    return intValue;
  return std::nullopt;
}

std::string GgufValue::str() const {
  switch (type) {
  case GgufValueType::U8: case GgufValueType::U16:
  case GgufValueType::U32: case GgufValueType::U64:
    return std::to_string(uintValue);
  case GgufValueType::I8: case GgufValueType::I16:
  case GgufValueType::I32: case GgufValueType::I64:
    return std::to_string(intValue);
  case GgufValueType::F32: case GgufValueType::F64:
    return formatv("{0}", floatValue).str();
  case GgufValueType::Bool:
    return uintValue ? "true" : "false";
  case GgufValueType::String: {
    std::string s;
    raw_string_ostream os(s);
    os << '"';
    printEscapedString(StringRef(stringValue).take_front(80), os);
    os << (stringValue.size() > 80 ? "...\"" : "\"");
    return s;
  }
  case GgufValueType::Array: {
    std::string s = "[";
    for (size_t i = 0; i < elems.size() && i < 8; ++i)
      s += (i ? ", " : "") + elems[i].str();
    if (elems.size() > 8)
      s += ", ... (" + std::to_string(elems.size()) + " elements)";
    return s + "]";
  }
  }
  return "?";
}

bool GgufValue::operator==(const GgufValue &o) const {
  if (type != o.type)
    return false;
  switch (type) {
  case GgufValueType::String:
    return stringValue == o.stringValue;
  case GgufValueType::Array:
    return elemType == o.elemType && elems == o.elems;
  case GgufValueType::F32: case GgufValueType::F64:
    // Bitwise, so NaNs round-trip as equal.
    return std::memcmp(&floatValue, &o.floatValue, sizeof(double)) == 0;
  default:
    return isSignedType(type) ? intValue == o.intValue
                              : uintValue == o.uintValue;
  }
}

//===----------------------------------------------------------------------===//
// Parser
//===----------------------------------------------------------------------===//

namespace lowbit {
class GgufParser {
public:
  explicit GgufParser(GgufFile &file)
      : file(file), path(file.filePath), bytes(file.buffer->getBuffer()) {}
  Error parse();

private:
  uint64_t left() const { return bytes.size() - pos; }
  bool readU32(uint32_t &v) {
    if (left() < 4)
      return false;
    v = support::endian::read32le(bytes.data() + pos);
    pos += 4;
    return true;
  }
  bool readU64(uint64_t &v) {
    if (left() < 8)
      return false;
    v = support::endian::read64le(bytes.data() + pos);
    pos += 8;
    return true;
  }
  bool readString(StringRef &s) {
    uint64_t len;
    if (!readU64(len) || len > left())
      return false;
    s = bytes.substr(pos, len);
    pos += len;
    return true;
  }
  Error truncated(const Twine &what) {
    return fileError(path, "truncated file: {0} at offset {1} runs past the "
                     "end of the file ({2} bytes)", what.str(), pos,
                     bytes.size());
  }
  Error readScalar(GgufValueType type, GgufValue &v, StringRef key);
  Error readValue(GgufValue &v, StringRef key);
  Error readTensorInfo(uint64_t index, std::vector<uint64_t> &offsets);

  GgufFile &file;
  StringRef path;
  StringRef bytes;
  uint64_t pos = 0;
  uint64_t arrayElements = 0; // in all the metadata arrays read so far
  static constexpr uint64_t kMaxArrayElements = uint64_t(1) << 23;
};
} // namespace lowbit

// Bytes of one element of each value type; strings count their length field.
static uint64_t minValueBytes(GgufValueType t) {
  switch (t) {
  case GgufValueType::U8: case GgufValueType::I8: case GgufValueType::Bool:
    return 1;
  case GgufValueType::U16: case GgufValueType::I16:
    return 2;
  case GgufValueType::U32: case GgufValueType::I32: case GgufValueType::F32:
    return 4;
  case GgufValueType::Array:
    return 12;
  default:
    return 8;
  }
}

static std::string quoted(StringRef s) {
  std::string out;
  raw_string_ostream os(out);
  os << '\'';
  printEscapedString(s.take_front(64), os);
  os << (s.size() > 64 ? "...'" : "'");
  return out;
}

Error GgufParser::readScalar(GgufValueType type, GgufValue &v, StringRef key) {
  v.type = type;
  uint64_t size = minValueBytes(type);
  if (type == GgufValueType::String) {
    StringRef s;
    if (!readString(s))
      return truncated("string value of key " + quoted(key));
    v.stringValue = s.str();
    return Error::success();
  }
  if (left() < size)
    return truncated(ggufValueTypeName(type) + " value of key " + quoted(key));
  const char *p = bytes.data() + pos;
  pos += size;
  using namespace support::endian;
  switch (type) {
  case GgufValueType::U8: v.uintValue = uint8_t(*p); break;
  case GgufValueType::Bool: v.uintValue = *p != 0; break;
  case GgufValueType::U16: v.uintValue = read16le(p); break;
  case GgufValueType::U32: v.uintValue = read32le(p); break;
  case GgufValueType::U64: v.uintValue = read64le(p); break;
  case GgufValueType::I8: v.intValue = int8_t(*p); break;
  case GgufValueType::I16: v.intValue = int16_t(read16le(p)); break;
  case GgufValueType::I32: v.intValue = int32_t(read32le(p)); break;
  case GgufValueType::I64: v.intValue = int64_t(read64le(p)); break;
  case GgufValueType::F32: v.floatValue = bitsToFloat(read32le(p)); break;
  case GgufValueType::F64: v.floatValue = bit_cast<double>(read64le(p)); break;
  default: llvm_unreachable("not a scalar");
  }
  return Error::success();
}

Error GgufParser::readValue(GgufValue &v, StringRef key) {
  uint32_t typeId;
  if (!readU32(typeId))
    return truncated("value type of key " + quoted(key));
  if (typeId > uint32_t(GgufValueType::F64))
    return fileError(path, "metadata key {0} has unknown value type {1}",
                     quoted(key), typeId);
  auto type = static_cast<GgufValueType>(typeId);
  if (type != GgufValueType::Array)
    return readScalar(type, v, key);

  uint32_t elemId;
  uint64_t count;
  if (!readU32(elemId) || !readU64(count))
    return truncated("array header of key " + quoted(key));
  if (elemId > uint32_t(GgufValueType::F64))
    return fileError(path, "metadata key {0} is an array of unknown value "
                     "type {1}", quoted(key), elemId);
  auto elemType = static_cast<GgufValueType>(elemId);
  if (elemType == GgufValueType::Array)
    return fileError(path, "metadata key {0} is a nested array, which is not "
                     "supported", quoted(key));
  // Bound the count before allocating: every element takes at least this.
  if (count > left() / minValueBytes(elemType))
    return truncated(formatv("array of {0} {1} elements of key {2}", count,
                             ggufValueTypeName(elemType), quoted(key)));
  // Each element is held as a GgufValue (about 90 bytes), so a file could
  // otherwise make us allocate ~90 times its size: 16 MB of u8 array took
  // 1.5 GB. The largest vocabularies (256K tokens, with scores, types and
  // merges) stay under 1M elements.
  if (count > kMaxArrayElements - arrayElements)
    return fileError(path, "metadata key {0}: arrays of more than {1} elements "
                     "in all are not supported ({2} before this array of {3})",
                     quoted(key), kMaxArrayElements, arrayElements, count);
  arrayElements += count;
  v.type = GgufValueType::Array;
  v.elemType = elemType;
  v.elems.resize(count);
  for (GgufValue &e : v.elems)
    if (Error err = readScalar(elemType, e, key))
      return err;
  return Error::success();
}

// Checked like everything else here: tensorBytes() in DType.cpp does not
// guard the row-size product, and a hostile header must not wrap around.
static std::optional<uint64_t> checkedBytes(const DTypeInfo &info,
                                            ArrayRef<int64_t> shape) {
  uint64_t total;
  if (__builtin_mul_overflow(uint64_t(shape.back()) / info.blockElems,
                             uint64_t(info.blockBytes), &total))
    return std::nullopt;
  for (size_t i = 0; i + 1 < shape.size(); ++i)
    if (__builtin_mul_overflow(total, uint64_t(shape[i]), &total))
      return std::nullopt;
  return total;
}

static constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;
static constexpr uint64_t kMinKvBytes = 8 + 4 + 1;
static constexpr uint64_t kMaxNameBytes = 63; // GGML_MAX_NAME - 1 for the NUL

Error GgufParser::readTensorInfo(uint64_t index,
                                 std::vector<uint64_t> &offsets) {
  StringRef name;
  if (!readString(name))
    return truncated(formatv("name of tensor {0}", index));
  std::string qname = quoted(name);
  if (name.size() > kMaxNameBytes)
    return fileError(path, "tensor name {0} is {1} bytes long (at most {2} "
                     "allowed)", qname, name.size(), kMaxNameBytes);
  if (!file.tensorIndex.try_emplace(name, file.tensorList.size()).second)
    return fileError(path, "duplicate tensor name {0}", qname);

  uint32_t nDims;
  if (!readU32(nDims))
    return truncated("n_dims of tensor " + qname);
  if (nDims < 1 || nDims > 4)
    return fileError(path, "tensor {0} has n_dims {1} (must be 1 to 4)", qname,
                     nDims);
  TensorRef t;
  t.name = name.str();
  t.shape.resize(nDims);
  int64_t elements = 1;
  for (uint32_t i = 0; i < nDims; ++i) {
    uint64_t ne;
    if (!readU64(ne))
      return truncated(formatv("dimension {0} of tensor {1}", i, qname));
    if (ne > uint64_t(std::numeric_limits<int64_t>::max()) ||
        __builtin_mul_overflow(elements, int64_t(ne), &elements))
      return fileError(path, "tensor {0}: element count overflows (dimension "
                       "{1} is {2})", qname, i, ne);
    t.shape[nDims - 1 - i] = int64_t(ne); // ne is innermost first
  }

  uint32_t ggmlType;
  uint64_t offset;
  if (!readU32(ggmlType) || !readU64(offset))
    return truncated("type and offset of tensor " + qname);
  std::optional<DType> dtype = dtypeFromGgml(ggmlType);
  if (!dtype) {
    StringRef typeName = ggmlTypeName(ggmlType);
    if (typeName.empty())
      return fileError(path, "unknown ggml type {0} for tensor {1}", ggmlType,
                       qname);
    return fileError(path, "unsupported tensor type {0} ({1}) for tensor {2}",
                     typeName, ggmlType, qname);
  }
  t.dtype = *dtype;
  const DTypeInfo &info = getDTypeInfo(*dtype);
  if (t.shape.back() % info.blockElems)
    return fileError(path, "tensor {0}: row length {1} is not a multiple of "
                     "the {2} block size {3}", qname, t.shape.back(), info.name,
                     info.blockElems);
  std::optional<uint64_t> size = checkedBytes(info, t.shape);
  if (!size)
    return fileError(path, "tensor {0}: byte size overflows", qname);
  if (offset % file.dataAlignment)
    return fileError(path, "tensor {0} has data offset {1}, not a multiple of "
                     "the alignment {2}", qname, offset, file.dataAlignment);
  t.bytes = *size;
  offsets.push_back(offset);
  file.tensorList.push_back(std::move(t));
  return Error::success();
}

Error GgufParser::parse() {
  if (bytes.size() < 4)
    return fileError(path, "not a GGUF file (only {0} bytes)", bytes.size());
  if (!bytes.starts_with("GGUF"))
    return fileError(path, "not a GGUF file (bad magic {0:x8}, expected "
                     "'GGUF')", support::endian::read32be(bytes.data()));
  pos = 4;
  uint32_t version;
  if (!readU32(version))
    return truncated("version");
  if (version != 0 && (version & 0xffff) == 0)
    return fileError(path, "GGUF version {0:x8} looks byte-swapped; big-endian "
                     "files are not supported", version);
  if (version == 1)
    return fileError(path, "GGUF version 1 is not supported (only 2 and 3)");
  if (version < 2 || version > 3)
    return fileError(path, "unsupported GGUF version {0} (only 2 and 3)",
                     version);
  file.fileVersion = version;

  uint64_t nTensors, nKvs;
  if (!readU64(nTensors) || !readU64(nKvs))
    return truncated("header");
  if (nTensors > left() / kMinTensorInfoBytes)
    return fileError(path, "tensor count {0} cannot fit in a file of {1} "
                     "bytes", nTensors, bytes.size());
  if (nKvs > left() / kMinKvBytes)
    return fileError(path, "metadata key count {0} cannot fit in a file of "
                     "{1} bytes", nKvs, bytes.size());

  file.kvs.reserve(nKvs);
  for (uint64_t i = 0; i < nKvs; ++i) {
    StringRef key;
    if (!readString(key))
      return truncated(formatv("key of metadata entry {0}", i));
    if (!file.kvIndex.try_emplace(key, file.kvs.size()).second)
      return fileError(path, "duplicate metadata key {0}", quoted(key));
    GgufValue value;
    if (Error e = readValue(value, key))
      return e;
    file.kvs.emplace_back(key.str(), std::move(value));
  }

  if (const GgufValue *align = file.find("general.alignment")) {
    if (align->type != GgufValueType::U32)
      return fileError(path, "general.alignment must be a u32, got {0}",
                       ggufValueTypeName(align->type));
    if (!isPowerOf2_64(align->uintValue))
      return fileError(path, "general.alignment {0} is not a power of two",
                       align->uintValue);
    file.dataAlignment = uint32_t(align->uintValue);
  }

  std::vector<uint64_t> offsets;
  file.tensorList.reserve(nTensors);
  offsets.reserve(nTensors);
  for (uint64_t i = 0; i < nTensors; ++i)
    if (Error e = readTensorInfo(i, offsets))
      return e;

  // pos <= file size < 2^63, so aligning cannot overflow.
  file.dataStart = alignTo(pos, file.dataAlignment);
  if (nTensors && file.dataStart > bytes.size())
    return fileError(path, "tensor data would start at offset {0}, past the "
                     "end of the file ({1} bytes)", file.dataStart,
                     bytes.size());
  uint64_t dataBytes = nTensors ? bytes.size() - file.dataStart : 0;
  for (size_t i = 0; i < file.tensorList.size(); ++i) {
    TensorRef &t = file.tensorList[i];
    uint64_t end;
    if (__builtin_add_overflow(offsets[i], t.bytes, &end) || end > dataBytes)
      return fileError(path, "tensor {0} data (offset {1}, {2} bytes) runs "
                       "past the end of the file ({3} data bytes)",
                       quoted(t.name), offsets[i], t.bytes, dataBytes);
    t.data = reinterpret_cast<const uint8_t *>(bytes.data()) + file.dataStart +
             offsets[i];
  }
  // No two tensors may share bytes (llama.cpp requires them back to back):
  // in offset order, each must end before the next begins.
  std::vector<size_t> order;
  for (size_t i = 0; i < file.tensorList.size(); ++i)
    if (file.tensorList[i].bytes)
      order.push_back(i);
  llvm::sort(order, [&](size_t a, size_t b) {
    return offsets[a] != offsets[b] ? offsets[a] < offsets[b] : a < b;
  });
  for (size_t j = 1; j < order.size(); ++j) {
    const TensorRef &prev = file.tensorList[order[j - 1]];
    const TensorRef &next = file.tensorList[order[j]];
    if (offsets[order[j - 1]] + prev.bytes > offsets[order[j]])
      return fileError(path, "tensor {0} data (offset {1}, {2} bytes) "
                       "overlaps tensor {3} (offset {4})", quoted(prev.name),
                       offsets[order[j - 1]], prev.bytes, quoted(next.name),
                       offsets[order[j]]);
  }
  return Error::success();
}

//===----------------------------------------------------------------------===//
// GgufFile
//===----------------------------------------------------------------------===//

Expected<std::unique_ptr<GgufFile>> GgufFile::open(StringRef path) {
  auto bufOrErr = readInputFile(path, /*IsText=*/false,
                                        /*RequiresNullTerminator=*/false,
                                        /*IsVolatile=*/false);
  if (!bufOrErr)
    return fileError(path, "cannot open: {0}", bufOrErr.getError().message());
  return open(std::move(*bufOrErr));
}

Expected<std::unique_ptr<GgufFile>>
GgufFile::open(std::unique_ptr<MemoryBuffer> buffer) {
  auto file = std::make_unique<GgufFile>();
  file->filePath = buffer->getBufferIdentifier().str();
  file->buffer = std::move(buffer);
  if (Error e = GgufParser(*file).parse())
    return std::move(e);
  return file;
}

const GgufValue *GgufFile::find(StringRef key) const {
  auto it = kvIndex.find(key);
  return it == kvIndex.end() ? nullptr : &kvs[it->second].second;
}

const TensorRef *GgufFile::findTensor(StringRef name) const {
  auto it = tensorIndex.find(name);
  return it == tensorIndex.end() ? nullptr : &tensorList[it->second];
}

std::optional<uint32_t> GgufFile::ggmlType(StringRef name) const {
  const TensorRef *t = findTensor(name);
  return t ? ggmlFromDType(t->dtype) : std::nullopt;
}

uint64_t GgufFile::fileOffset(const TensorRef &t) const {
  return t.data - reinterpret_cast<const uint8_t *>(buffer->getBufferStart());
}

static std::string typeString(const GgufValue &v) {
  if (!v.isArray())
    return ggufValueTypeName(v.type).str();
  return ("array[" + ggufValueTypeName(v.elemType) + "]").str();
}

Error GgufFile::typeError(StringRef key, const GgufValue &v,
                          StringRef expected) const {
  return fileError(filePath, "metadata key {0} has type {1}, expected {2}",
                   quoted(key), typeString(v), expected);
}

Expected<const GgufValue *> GgufFile::lookup(StringRef key) const {
  if (const GgufValue *v = find(key))
    return v;
  return fileError(filePath, "metadata key {0} not found", quoted(key));
}

Expected<int64_t> GgufFile::getInt(StringRef key, int64_t lo, int64_t hi,
                                   StringRef typeName) const {
  Expected<const GgufValue *> v = lookup(key);
  if (!v)
    return v.takeError();
  if (!(*v)->isInteger())
    return typeError(key, **v, typeName);
  if (std::optional<int64_t> i = (*v)->asInt(lo, hi))
    return *i;
  return fileError(filePath, "metadata key {0} value {1} ({2}) does not fit "
                   "in {3}", quoted(key), (*v)->str(), typeString(**v),
                   typeName);
}

Expected<uint32_t> GgufFile::getU32(StringRef key) const {
  Expected<int64_t> v = getInt(key, 0, UINT32_MAX, "u32");
  if (!v)
    return v.takeError();
  return uint32_t(*v);
}

Expected<uint64_t> GgufFile::getU64(StringRef key) const {
  // u64 values above INT64_MAX do not pass through getInt.
  if (const GgufValue *v = find(key); v && v->type == GgufValueType::U64)
    return v->uintValue;
  Expected<int64_t> v = getInt(key, 0, INT64_MAX, "u64");
  if (!v)
    return v.takeError();
  return uint64_t(*v);
}

Expected<int64_t> GgufFile::getI64(StringRef key) const {
  return getInt(key, INT64_MIN, INT64_MAX, "i64");
}

Expected<float> GgufFile::getF32(StringRef key) const {
  Expected<const GgufValue *> v = lookup(key);
  if (!v)
    return v.takeError();
  if (!(*v)->isFloat())
    return typeError(key, **v, "f32");
  return float((*v)->floatValue);
}

Expected<bool> GgufFile::getBool(StringRef key) const {
  Expected<const GgufValue *> v = lookup(key);
  if (!v)
    return v.takeError();
  if ((*v)->type != GgufValueType::Bool)
    return typeError(key, **v, "bool");
  return (*v)->uintValue != 0;
}

Expected<std::string> GgufFile::getString(StringRef key) const {
  Expected<const GgufValue *> v = lookup(key);
  if (!v)
    return v.takeError();
  if ((*v)->type != GgufValueType::String)
    return typeError(key, **v, "string");
  return (*v)->stringValue;
}

Expected<std::vector<std::string>>
GgufFile::getStringArray(StringRef key) const {
  Expected<const GgufValue *> v = lookup(key);
  if (!v)
    return v.takeError();
  if (!(*v)->isArray() || (*v)->elemType != GgufValueType::String)
    return typeError(key, **v, "array[string]");
  std::vector<std::string> out;
  out.reserve((*v)->elems.size());
  for (const GgufValue &e : (*v)->elems)
    out.push_back(e.stringValue);
  return out;
}

Expected<std::vector<float>> GgufFile::getF32Array(StringRef key) const {
  Expected<const GgufValue *> v = lookup(key);
  if (!v)
    return v.takeError();
  if (!(*v)->isArray() || ((*v)->elemType != GgufValueType::F32 &&
                             (*v)->elemType != GgufValueType::F64))
    return typeError(key, **v, "array[f32]");
  std::vector<float> out;
  out.reserve((*v)->elems.size());
  for (const GgufValue &e : (*v)->elems)
    out.push_back(float(e.floatValue));
  return out;
}

Expected<std::vector<int32_t>> GgufFile::getI32Array(StringRef key) const {
  Expected<const GgufValue *> v = lookup(key);
  if (!v)
    return v.takeError();
  if (!(*v)->isArray() || !(isSignedType((*v)->elemType) ||
                            isUnsignedType((*v)->elemType)))
    return typeError(key, **v, "array[i32]");
  std::vector<int32_t> out;
  out.reserve((*v)->elems.size());
  for (size_t i = 0; i < (*v)->elems.size(); ++i) {
    std::optional<int64_t> x = (*v)->elems[i].asInt(INT32_MIN, INT32_MAX);
    if (!x)
      return fileError(filePath, "metadata key {0} element {1} value {2} does "
                       "not fit in i32", quoted(key), i,
                       (*v)->elems[i].str());
    out.push_back(int32_t(*x));
  }
  return out;
}

bool GgufFile::isMapped() const {
  return buffer->getBufferKind() == MemoryBuffer::MemoryBuffer_MMap;
}
