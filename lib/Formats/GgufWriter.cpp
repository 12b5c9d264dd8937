//===- GgufWriter.cpp - GGUF v3 writer ------------------------------------===//
//
// Produces the layout llama.cpp@c392e50 insists on (formats.md §2.1): tensor
// data in tensor-info order, each tensor padded to the alignment (the last
// one too), offsets relative to the aligned start of the data blob.
//
//===----------------------------------------------------------------------===//
#include "lowbit/Formats/Gguf.h"
#include "lowbit/Support/Error.h"
#include "lowbit/Support/OutputFile.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/bit.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;
using namespace lowbit;

static constexpr uint64_t kMaxNameBytes = 63;
static constexpr uint32_t kDefaultAlignment = 32;

void GgufWriter::set(StringRef key, GgufValue value) {
  if (value.isArray()) {
    if (value.elemType == GgufValueType::Array)
      problems.push_back(("metadata key '" + key + "': nested arrays are not "
                          "supported").str());
    for (const GgufValue &e : value.elems)
      if (e.type != value.elemType) {
        problems.push_back(("metadata key '" + key + "': array of " +
                            ggufValueTypeName(value.elemType) +
                            " has an element of type " +
                            ggufValueTypeName(e.type)).str());
        break;
      }
  }
  if (!keyIndex.try_emplace(key, kvs.size()).second) {
    problems.push_back(("duplicate metadata key '" + key + "'").str());
    return;
  }
  kvs.emplace_back(key.str(), std::move(value));
}

void GgufWriter::setArrayString(StringRef key, ArrayRef<std::string> v) {
  std::vector<GgufValue> elems;
  elems.reserve(v.size());
  for (const std::string &s : v)
    elems.push_back(GgufValue::string(s));
  set(key, GgufValue::array(GgufValueType::String, std::move(elems)));
}

void GgufWriter::setArrayF32(StringRef key, ArrayRef<float> v) {
  std::vector<GgufValue> elems;
  elems.reserve(v.size());
  for (float x : v)
    elems.push_back(GgufValue::f32(x));
  set(key, GgufValue::array(GgufValueType::F32, std::move(elems)));
}

void GgufWriter::setArrayI32(StringRef key, ArrayRef<int32_t> v) {
  std::vector<GgufValue> elems;
  elems.reserve(v.size());
  for (int32_t x : v)
    elems.push_back(GgufValue::i32(x));
  set(key, GgufValue::array(GgufValueType::I32, std::move(elems)));
}

void GgufWriter::setArrayU32(StringRef key, ArrayRef<uint32_t> v) {
  std::vector<GgufValue> elems;
  elems.reserve(v.size());
  for (uint32_t x : v)
    elems.push_back(GgufValue::u32(x));
  set(key, GgufValue::array(GgufValueType::U32, std::move(elems)));
}

void GgufWriter::addTensor(StringRef name, DType type, ArrayRef<int64_t> shape,
                           std::vector<uint8_t> bytes) {
  size_t before = tensorList.size();
  addTensor(name, type, shape, nullptr, bytes.size());
  if (tensorList.size() > before) // not rejected
    tensorList.back().owned = std::move(bytes);
}

std::optional<uint64_t> GgufWriter::checkTensor(StringRef name, DType type,
                                                ArrayRef<int64_t> shape) {
  auto problem = [&](const Twine &msg) -> std::optional<uint64_t> {
    problems.push_back(("tensor '" + name + "': " + msg).str());
    return std::nullopt;
  };
  if (name.size() > kMaxNameBytes)
    return problem("name is " + Twine(name.size()) + " bytes long (at most " +
                   Twine(kMaxNameBytes) + " allowed)");
  if (nameIndex.count(name)) {
    problems.push_back(("duplicate tensor name '" + name + "'").str());
    return std::nullopt;
  }
  if (!ggmlFromDType(type))
    return problem("type " + getDTypeInfo(type).name +
                   " cannot be stored in GGUF");
  if (shape.size() > 4)
    return problem("rank " + Twine(shape.size()) + " exceeds GGUF's 4");
  for (int64_t d : shape)
    if (d < 0)
      return problem("negative dimension " + Twine(d));
  const DTypeInfo &info = getDTypeInfo(type);
  int64_t inner = shape.empty() ? 1 : shape.back();
  if (inner % info.blockElems)
    return problem("row length " + Twine(inner) +
                   " is not a multiple of the " + info.name + " block size " +
                   Twine(info.blockElems));
  // tensorBytes() does not guard the row-size product against overflow.
  uint64_t expected = uint64_t(inner) / info.blockElems;
  bool overflow = __builtin_mul_overflow(expected, info.blockBytes, &expected);
  for (size_t i = 0; i + 1 < shape.size(); ++i)
    overflow |= __builtin_mul_overflow(expected, uint64_t(shape[i]), &expected);
  if (overflow)
    return problem("byte size overflows");
  return expected;
}

void GgufWriter::addTensor(StringRef name, DType type, ArrayRef<int64_t> shape,
                           const uint8_t *data, uint64_t size) {
  std::optional<uint64_t> expected = checkTensor(name, type, shape);
  if (!expected)
    return;
  if (*expected != size) {
    problems.push_back(("tensor '" + name + "': has " + Twine(size) +
                        " bytes, expected " + Twine(*expected) +
                        " for its shape and type").str());
    return;
  }
  nameIndex[name] = tensorList.size();
  tensorList.push_back({name.str(), type, shape.vec(), {}, data, size});
}

void GgufWriter::addDeferredTensor(StringRef name, DType type,
                                   ArrayRef<int64_t> shape) {
  std::optional<uint64_t> size = checkTensor(name, type, shape);
  if (!size)
    return;
  nameIndex[name] = tensorList.size();
  tensorList.push_back({name.str(), type, shape.vec(), {}, nullptr, *size,
                        /*deferred=*/true});
}

namespace {
/// Little-endian output that counts bytes, for the padding computations.
struct Out {
  raw_ostream &os;
  uint64_t pos = 0;
  void bytes(const void *p, size_t n) {
    os.write(static_cast<const char *>(p), n);
    pos += n;
  }
  template <typename T> void le(T v) {
    v = support::endian::byte_swap(v, llvm::endianness::little);
    bytes(&v, sizeof(T));
  }
  void str(StringRef s) {
    le<uint64_t>(s.size());
    bytes(s.data(), s.size());
  }
  void pad(uint64_t alignment) {
    static const char zeros[256] = {};
    for (uint64_t n = alignTo(pos, alignment) - pos; n;) {
      uint64_t k = std::min<uint64_t>(n, sizeof(zeros));
      bytes(zeros, k);
      n -= k;
    }
  }
};
} // namespace

static void writeScalar(Out &out, GgufValueType type, const GgufValue &v) {
  switch (type) {
  case GgufValueType::U8: case GgufValueType::Bool:
    return out.le<uint8_t>(uint8_t(v.uintValue));
  case GgufValueType::I8: return out.le<uint8_t>(uint8_t(v.intValue));
  case GgufValueType::U16: return out.le<uint16_t>(uint16_t(v.uintValue));
  case GgufValueType::I16: return out.le<uint16_t>(uint16_t(v.intValue));
  case GgufValueType::U32: return out.le<uint32_t>(uint32_t(v.uintValue));
  case GgufValueType::I32: return out.le<uint32_t>(uint32_t(v.intValue));
  case GgufValueType::U64: return out.le<uint64_t>(v.uintValue);
  case GgufValueType::I64: return out.le<uint64_t>(uint64_t(v.intValue));
  case GgufValueType::F32:
    return out.le<uint32_t>(bit_cast<uint32_t>(float(v.floatValue)));
  case GgufValueType::F64:
    return out.le<uint64_t>(bit_cast<uint64_t>(v.floatValue));
  case GgufValueType::String: return out.str(v.stringValue);
  case GgufValueType::Array: llvm_unreachable("rejected by set()");
  }
}

Error GgufWriter::write(StringRef path) const {
  return writeImpl(path, std::nullopt);
}

Error GgufWriter::write(StringRef path, TensorBytesSource source) const {
  return writeImpl(path, source);
}

Error GgufWriter::writeImpl(StringRef path,
                            std::optional<TensorBytesSource> source) const {
  if (!problems.empty())
    return fileError(path, "{0}", join(problems, "; "));
  if (!source)
    for (const Tensor &t : tensorList)
      if (t.deferred)
        return fileError(path, "tensor '{0}' has no bytes (added as deferred, "
                         "written without a source)", t.name);
  uint32_t alignment = kDefaultAlignment;
  if (auto it = keyIndex.find("general.alignment"); it != keyIndex.end()) {
    const GgufValue &v = kvs[it->second].second;
    if (v.type != GgufValueType::U32 || !isPowerOf2_64(v.uintValue))
      return fileError(path, "general.alignment must be a u32 power of two, "
                       "got {0} {1}", ggufValueTypeName(v.type), v.str());
    alignment = uint32_t(v.uintValue);
  }

  return writeFileAtomically(path, [&](raw_pwrite_stream &os) -> Error {
    Out out{os};
    out.bytes("GGUF", 4);
    out.le<uint32_t>(3);
    out.le<uint64_t>(tensorList.size());
    out.le<uint64_t>(kvs.size());
    for (const auto &[key, v] : kvs) {
      out.str(key);
      out.le<uint32_t>(uint32_t(v.type));
      if (!v.isArray()) {
        writeScalar(out, v.type, v);
        continue;
      }
      out.le<uint32_t>(uint32_t(v.elemType));
      out.le<uint64_t>(v.elems.size());
      for (const GgufValue &e : v.elems)
        writeScalar(out, v.elemType, e);
    }
    uint64_t offset = 0;
    for (const Tensor &t : tensorList) {
      out.str(t.name);
      // A rank-0 tensor is stored as [1]: GGUF needs at least one dimension.
      out.le<uint32_t>(std::max<uint32_t>(1, t.shape.size()));
      if (t.shape.empty())
        out.le<uint64_t>(1);
      for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it)
        out.le<uint64_t>(uint64_t(*it));
      out.le<uint32_t>(*ggmlFromDType(t.type));
      out.le<uint64_t>(offset);
      offset += alignTo(t.size, alignment);
    }
    out.pad(alignment);
    for (size_t i = 0; i < tensorList.size(); ++i) {
      const Tensor &t = tensorList[i];
      if (t.deferred) {
        Expected<ArrayRef<uint8_t>> bytes = (*source)(i);
        if (!bytes)
          return bytes.takeError();
        if (bytes->size() != t.size)
          return fileError(path, "tensor '{0}': got {1} bytes, expected {2}",
                           t.name, bytes->size(), t.size);
        out.bytes(bytes->data(), bytes->size());
      } else {
        out.bytes(t.owned.empty() ? t.data : t.owned.data(), t.size);
      }
      out.pad(alignment);
      // A failed write (e.g. a full disk) stops before the rest is encoded.
      if (os.get_kind() == raw_ostream::OStreamKind::OK_FDStream) {
        auto &fd = static_cast<raw_fd_ostream &>(os);
        if (fd.has_error())
          return fileError(path, "write failed: {0}", fd.error().message());
      }
    }
    return Error::success();
  });
}
