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

Expected<SafetensorsLayout>
lowbit::layoutSafetensors(ArrayRef<SafetensorsTensorInfo> tensors,
                          const std::map<std::string, std::string> &meta,
                          StringRef path) {
  StringSet<> names;
  std::vector<uint64_t> sizes;
  for (const SafetensorsTensorInfo &t : tensors) {
    if (!names.insert(t.name).second)
      return fileError(path, "duplicate tensor name '{0}'", t.name);
    if (alignmentRank(t.type) < 0)
      return fileError(path, "tensor '{0}': {1} cannot be stored in "
                       "safetensors", t.name, getDTypeInfo(t.type).name);
    std::optional<uint64_t> size = tensorBytes(t.type, t.shape);
    if (!size)
      return fileError(path, "tensor '{0}': its shape is too large", t.name);
    sizes.push_back(*size);
  }
  std::vector<size_t> order(tensors.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    int ra = alignmentRank(tensors[a].type), rb = alignmentRank(tensors[b].type);
    return ra != rb ? ra > rb : tensors[a].name < tensors[b].name;
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
  SafetensorsLayout layout;
  layout.ranges.resize(tensors.size());
  uint64_t offset = 0;
  for (size_t i : order) {
    const SafetensorsTensorInfo &t = tensors[i];
    if (header.size() > 1)
      header += ",";
    header += quote(t.name) + ":{\"dtype\":" +
              quote(safetensorsDTypeName(t.type)) + ",\"shape\":[";
    for (size_t d = 0; d < t.shape.size(); ++d)
      header += (d ? "," : "") + std::to_string(t.shape[d]);
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," +
              std::to_string(offset + sizes[i]) + "]}";
    layout.ranges[i] = {offset, offset + sizes[i]};
    offset += sizes[i];
  }
  header += "}";
  header.append((8 - header.size() % 8) % 8, ' ');
  uint64_t n = header.size();
  char len[8];
  for (int i = 0; i < 8; ++i)
    len[i] = char(n >> (8 * i));
  layout.header = std::string(len, 8) + header;
  for (auto &range : layout.ranges) {
    range.first += layout.header.size();
    range.second += layout.header.size();
  }
  layout.fileSize = layout.header.size() + offset;
  return std::move(layout);
}

Error SafetensorsWriter::write(StringRef path) const {
  std::vector<SafetensorsTensorInfo> infos;
  for (const Entry &e : entries)
    infos.push_back({e.name, e.type, e.shape});
  Expected<SafetensorsLayout> layout = layoutSafetensors(infos, meta, path);
  if (!layout)
    return layout.takeError();
  for (size_t i = 0; i < entries.size(); ++i)
    if (layout->ranges[i].second - layout->ranges[i].first != entries[i].bytes.size())
      return fileError(path, "tensor '{0}': {1} bytes do not match its shape",
                       entries[i].name, entries[i].bytes.size());
  std::vector<size_t> order(entries.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  llvm::sort(order, [&](size_t a, size_t b) {
    return layout->ranges[a].first < layout->ranges[b].first;
  });
  return writeFileAtomically(path, [&](raw_pwrite_stream &os) {
    os << layout->header;
    for (size_t i : order)
      os.write(reinterpret_cast<const char *>(entries[i].bytes.data()),
               entries[i].bytes.size());
    return Error::success();
  });
}
