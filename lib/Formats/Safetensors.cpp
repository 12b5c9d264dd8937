//===- Safetensors.cpp - safetensors reader -------------------------------===//
//
// Validation follows the reference Rust implementation (formats.md §1):
// header length bounds, JSON object, per-tensor byte size = prod(shape) *
// element size, offsets contiguous from 0, and no bytes after the last tensor.
//
//===----------------------------------------------------------------------===//
#include "lowbit/Formats/Safetensors.h"
#include "lowbit/Support/InputFiles.h"
#include "lowbit/Support/Error.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/JSON.h"

#include <algorithm>

using namespace llvm;
using namespace lowbit;

static constexpr uint64_t kMaxHeaderBytes = 100000000;

std::optional<DType> lowbit::dtypeFromSafetensors(StringRef name) {
  static const std::pair<const char *, DType> kNames[] = {
      {"F32", DType::F32},   {"F16", DType::F16},   {"BF16", DType::BF16},
      {"F64", DType::F64},   {"I8", DType::I8},     {"U8", DType::U8},
      {"I16", DType::I16},   {"U16", DType::U16},   {"I32", DType::I32},
      {"U32", DType::U32},   {"I64", DType::I64},   {"U64", DType::U64},
      {"BOOL", DType::Bool}, {"F8_E4M3", DType::F8E4M3},
      {"F8_E5M2", DType::F8E5M2}};
  for (auto &[text, type] : kNames)
    if (name == text)
      return type;
  return std::nullopt;
}

StringRef lowbit::safetensorsDTypeName(DType type) {
  switch (type) {
  case DType::F32: return "F32";
  case DType::F16: return "F16";
  case DType::BF16: return "BF16";
  case DType::F64: return "F64";
  case DType::I8: return "I8";
  case DType::U8: return "U8";
  case DType::I16: return "I16";
  case DType::U16: return "U16";
  case DType::I32: return "I32";
  case DType::U32: return "U32";
  case DType::I64: return "I64";
  case DType::U64: return "U64";
  case DType::Bool: return "BOOL";
  case DType::F8E4M3: return "F8_E4M3";
  case DType::F8E5M2: return "F8_E5M2";
  default: return "";
  }
}

/// The first key of the top-level object in `json` (valid JSON) that occurs
/// twice. JSON parsers, llvm::json's included, silently keep one of the two
/// entries, which would hide a tensor.
static std::optional<std::string> duplicateTopLevelKey(StringRef json) {
  StringSet<> keys;
  int depth = 0;
  for (size_t i = 0; i < json.size(); ++i) {
    char c = json[i];
    if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      --depth;
    } else if (c == '"') {
      size_t start = ++i;
      while (i < json.size() && json[i] != '"')
        i += json[i] == '\\' ? 2 : 1;
      if (i >= json.size())
        return std::nullopt;
      size_t next = json.find_first_not_of(" \t\r\n", i + 1);
      if (depth == 1 && next != StringRef::npos && json[next] == ':' &&
          !keys.insert(json.slice(start, i)).second)
        return json.slice(start, i).str();
    }
  }
  return std::nullopt;
}

Expected<std::unique_ptr<SafetensorsFile>>
SafetensorsFile::open(StringRef path) {
  auto bufOrErr = readInputFile(path, /*IsText=*/false,
                                        /*RequiresNullTerminator=*/false,
                                        /*IsVolatile=*/false);
  if (!bufOrErr)
    return fileError(path, "cannot open: {0}", bufOrErr.getError().message());
  return open(std::move(*bufOrErr));
}

Expected<std::unique_ptr<SafetensorsFile>>
SafetensorsFile::open(std::unique_ptr<MemoryBuffer> buffer) {
  auto file = std::make_unique<SafetensorsFile>();
  file->filePath = buffer->getBufferIdentifier().str();
  file->buffer = std::move(buffer);
  StringRef path = file->filePath;
  StringRef bytes = file->buffer->getBuffer();
  uint64_t fileSize = bytes.size();

  if (fileSize < 8)
    return fileError(path, "truncated safetensors file ({0} bytes, need at "
                     "least 8 for the header length)", fileSize);
  uint64_t headerLen = support::endian::read64le(bytes.data());
  if (headerLen > kMaxHeaderBytes)
    return fileError(path, "header length {0} exceeds the 100 MB limit "
                     "(not a safetensors file?)", headerLen);
  if (8 + headerLen > fileSize)
    return fileError(path, "truncated safetensors file: header of {0} bytes "
                     "does not fit in {1} bytes", headerLen, fileSize);

  Expected<json::Value> header =
      json::parse(bytes.substr(8, headerLen).rtrim(' '));
  if (!header)
    return fileError(path, "invalid header JSON: {0}",
                     toString(header.takeError()));
  const json::Object *obj = header->getAsObject();
  if (!obj)
    return fileError(path, "header is not a JSON object");
  if (std::optional<std::string> dup =
          duplicateTopLevelKey(bytes.substr(8, headerLen)))
    return fileError(path, "duplicate tensor name '{0}' in the header", *dup);

  const uint8_t *data =
      reinterpret_cast<const uint8_t *>(bytes.data()) + 8 + headerLen;
  uint64_t dataSize = fileSize - 8 - headerLen;
  struct Extent {
    uint64_t begin, end;
    size_t tensor;
  };
  std::vector<Extent> extents;

  for (const auto &entry : *obj) {
    std::string name = entry.first.str();
    if (name == "__metadata__") {
      const json::Object *m = entry.second.getAsObject();
      if (!m)
        return fileError(path, "__metadata__ is not an object");
      for (const auto &kv : *m) {
        auto s = kv.second.getAsString();
        if (!s)
          return fileError(path, "__metadata__ value '{0}' is not a string",
                           kv.first.str());
        file->meta[kv.first.str()] = s->str();
      }
      continue;
    }
    const json::Object *t = entry.second.getAsObject();
    if (!t)
      return fileError(path, "tensor '{0}': entry is not an object", name);
    auto dtypeStr = t->getString("dtype");
    const json::Array *shape = t->getArray("shape");
    const json::Array *offsets = t->getArray("data_offsets");
    if (!dtypeStr || !shape || !offsets || offsets->size() != 2)
      return fileError(path, "tensor '{0}': needs dtype, shape and two "
                       "data_offsets", name);
    std::optional<DType> dtype = dtypeFromSafetensors(*dtypeStr);
    if (!dtype)
      return fileError(path, "tensor '{0}': unknown dtype '{1}'", name,
                       *dtypeStr);
    TensorRef ref;
    ref.name = name;
    ref.dtype = *dtype;
    int64_t elements = 1;
    for (const json::Value &d : *shape) {
      std::optional<int64_t> dim = d.getAsInteger();
      if (!dim || *dim < 0)
        return fileError(path, "tensor '{0}': invalid shape", name);
      // Element counts are int64 everywhere (even when a zero dimension
      // makes the byte size small).
      if (__builtin_mul_overflow(elements, *dim, &elements))
        return fileError(path, "tensor '{0}': element count of the shape "
                         "overflows", name);
      ref.shape.push_back(*dim);
    }
    std::optional<int64_t> begin = (*offsets)[0].getAsInteger();
    std::optional<int64_t> end = (*offsets)[1].getAsInteger();
    if (!begin || !end || *begin < 0 || *end < *begin)
      return fileError(path, "tensor '{0}': invalid data_offsets", name);
    std::optional<uint64_t> expected = tensorBytes(ref.dtype, ref.shape);
    if (!expected)
      return fileError(path, "tensor '{0}': size of shape overflows", name);
    if (uint64_t(*end - *begin) != *expected)
      return fileError(path, "tensor '{0}': data_offsets cover {1} bytes but "
                       "{2} {3} needs {4}", name, *end - *begin,
                       *dtypeStr, shape->size(), *expected);
    if (uint64_t(*end) > dataSize)
      return fileError(path, "tensor '{0}': data_offsets [{1}, {2}] lie "
                       "outside the file's {3} data bytes (truncated file?)",
                       name, *begin, *end, dataSize);
    ref.data = data + *begin;
    ref.bytes = uint64_t(*end - *begin);
    extents.push_back({uint64_t(*begin), uint64_t(*end),
                       file->tensorList.size()});
    file->tensorList.push_back(std::move(ref));
  }

  std::sort(extents.begin(), extents.end(), [](const Extent &a, const Extent &b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t cursor = 0;
  for (const Extent &e : extents) {
    if (e.begin != cursor)
      return fileError(path, "tensor '{0}': data starts at {1}, expected {2} "
                       "(tensors overlap or leave a hole)",
                       file->tensorList[e.tensor].name, e.begin, cursor);
    cursor = e.end;
  }
  if (cursor != dataSize)
    return fileError(path, "{0} trailing bytes after the last tensor",
                     dataSize - cursor);

  std::sort(file->tensorList.begin(), file->tensorList.end(),
            [](const TensorRef &a, const TensorRef &b) { return a.name < b.name; });
  for (size_t i = 0; i < file->tensorList.size(); ++i)
    file->index[file->tensorList[i].name] = i;
  return std::move(file);
}

const TensorRef *SafetensorsFile::find(StringRef name) const {
  auto it = index.find(name);
  return it == index.end() ? nullptr : &tensorList[it->second];
}

bool SafetensorsFile::isMapped() const {
  return buffer->getBufferKind() == MemoryBuffer::MemoryBuffer_MMap;
}
