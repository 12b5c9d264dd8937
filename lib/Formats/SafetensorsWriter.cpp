//===- SafetensorsWriter.cpp - safetensors writer -------------------------===//
#include "lowbit/Formats/Safetensors.h"
#include "lowbit/Support/Error.h"
#include "lowbit/Support/OutputFile.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/Support/JSON.h"

#include <algorithm>

using namespace llvm;
using namespace lowbit;

/// Position in the reference implementation's Dtype enum, which is declared
/// in increasing alignment; the serializer writes higher positions first.
static int alignmentRank(DType type) {
  static const DType kOrder[] = {
      DType::Bool, DType::U8,   DType::I8,  DType::F8E5M2, DType::F8E4M3,
      DType::I16,  DType::U16,  DType::F16, DType::BF16,   DType::I32,
      DType::U32,  DType::F32,  DType::F64, DType::I64,    DType::U64};
  for (int i = 0; i < int(std::size(kOrder)); ++i)
    if (kOrder[i] == type)
      return i;
  return -1;
}

void SafetensorsWriter::addTensor(StringRef name, DType type,
                                  ArrayRef<int64_t> shape,
                                  std::vector<uint8_t> bytes) {
  entries.push_back({name.str(), type, shape.vec(), std::move(bytes)});
}

Error SafetensorsWriter::write(StringRef path) const {
  StringSet<> names;
  for (const Entry &e : entries) {
    if (!names.insert(e.name).second)
      return fileError(path, "duplicate tensor name '{0}'", e.name);
    if (alignmentRank(e.type) < 0)
      return fileError(path, "tensor '{0}': {1} cannot be stored in "
                       "safetensors", e.name, getDTypeInfo(e.type).name);
    std::optional<uint64_t> size = tensorBytes(e.type, e.shape);
    if (!size || *size != e.bytes.size())
      return fileError(path, "tensor '{0}': {1} bytes do not match its shape",
                       e.name, e.bytes.size());
  }
  std::vector<const Entry *> order;
  for (const Entry &e : entries)
    order.push_back(&e);
  std::stable_sort(order.begin(), order.end(), [](const Entry *a, const Entry *b) {
    int ra = alignmentRank(a->type), rb = alignmentRank(b->type);
    return ra != rb ? ra > rb : a->name < b->name;
  });

  // Built by hand: llvm::json::Object sorts keys, but the format's key order
  // is __metadata__ first, then the tensors in buffer order.
  std::string header = "{";
  auto quote = [](StringRef s) {
    std::string out;
    raw_string_ostream os(out);
    os << json::Value(s);
    return out;
  };
  if (!meta.empty()) {
    header += "\"__metadata__\":{";
    bool first = true;
    for (const auto &[k, v] : meta) {
      header += (first ? "" : ",") + quote(k) + ":" + quote(v);
      first = false;
    }
    header += "}";
  }
  uint64_t offset = 0;
  for (const Entry *e : order) {
    if (header.size() > 1)
      header += ",";
    header += quote(e->name) + ":{\"dtype\":" +
              quote(safetensorsDTypeName(e->type)) + ",\"shape\":[";
    for (size_t i = 0; i < e->shape.size(); ++i)
      header += (i ? "," : "") + std::to_string(e->shape[i]);
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," +
              std::to_string(offset + e->bytes.size()) + "]}";
    offset += e->bytes.size();
  }
  header += "}";
  header.append((8 - header.size() % 8) % 8, ' ');

  return writeFileAtomically(path, [&](raw_pwrite_stream &os) {
    uint64_t n = header.size();
    char len[8];
    for (int i = 0; i < 8; ++i)
      len[i] = char(n >> (8 * i));
    os.write(len, 8);
    os << header;
    for (const Entry *e : order)
      os.write(reinterpret_cast<const char *>(e->bytes.data()), e->bytes.size());
    return Error::success();
  });
}
