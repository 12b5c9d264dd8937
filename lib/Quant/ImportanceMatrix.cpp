//===- ImportanceMatrix.cpp - llama.cpp imatrix .dat files ----------------===//
#include "lowbit/Quant/ImportanceMatrix.h"
#include "lowbit/Support/InputFiles.h"
#include "lowbit/Formats/TensorNames.h"
#include "lowbit/Support/Error.h"
#include "lowbit/Support/OutputFile.h"

#include "llvm/Support/MemoryBuffer.h"

#include <cmath>
#include <cstring>

using namespace llvm;
using namespace lowbit;

Expected<ImportanceMatrix> ImportanceMatrix::load(StringRef path) {
  auto buf = readInputFile(path, /*IsText=*/false);
  if (!buf)
    return fileError(path, "cannot open: {0}", buf.getError().message());
  StringRef data = (*buf)->getBuffer();
  size_t pos = 0;
  bool truncated = false;
  auto readI32 = [&]() -> int32_t {
    if (data.size() - pos < 4) {
      truncated = true;
      return 0;
    }
    int32_t v;
    std::memcpy(&v, data.data() + pos, 4);
    pos += 4;
    return v;
  };
  ImportanceMatrix m;
  int32_t n = readI32();
  if (truncated || n < 0 || uint64_t(n) > data.size() / 12)
    return fileError(path, "not an imatrix file (entry count {0})", n);
  for (int32_t i = 0; i < n; ++i) {
    int32_t len = readI32();
    if (truncated || len <= 0 || uint64_t(len) > data.size() - pos)
      return fileError(path, "imatrix entry {0}: bad name length", i);
    std::string name = data.substr(pos, len).str();
    pos += len;
    int32_t ncall = readI32();
    int32_t nval = readI32();
    if (truncated || nval <= 0 || uint64_t(nval) * 4 > data.size() - pos)
      return fileError(path, "imatrix entry '{0}': truncated values", name);
    std::vector<float> values(nval);
    std::memcpy(values.data(), data.data() + pos, size_t(nval) * 4);
    pos += size_t(nval) * 4;
    // llama.cpp's quantize divides the stored sums by ncall.
    if (ncall > 0)
      for (float &v : values)
        v /= float(ncall);
    for (float v : values)
      if (!std::isfinite(v) || v < 0)
        return fileError(path, "imatrix entry '{0}' holds a negative or "
                         "non-finite value", name);
    if (!m.entries.emplace(name, std::move(values)).second)
      return fileError(path, "imatrix entry '{0}' appears twice", name);
  }
  // Optional trailer: chunk count and dataset name.
  if (data.size() - pos >= 8) {
    m.chunks = readI32();
    int32_t len = readI32();
    if (len > 0 && uint64_t(len) <= data.size() - pos)
      m.dataset = data.substr(pos, len).str();
  }
  if (m.entries.empty())
    return fileError(path, "imatrix file has no entries");
  return m;
}

Error ImportanceMatrix::save(StringRef path) const {
  return writeFileAtomically(path, [&](raw_pwrite_stream &os) {
    auto writeI32 = [&](int32_t v) { os.write(reinterpret_cast<const char *>(&v), 4); };
    int32_t ncall = std::max(chunks, 1);
    writeI32(int32_t(entries.size()));
    for (const auto &[name, values] : entries) {
      writeI32(int32_t(name.size()));
      os << name;
      writeI32(ncall);
      writeI32(int32_t(values.size()));
      for (float v : values) {
        float stored = v * float(ncall);
        os.write(reinterpret_cast<const char *>(&stored), 4);
      }
    }
    writeI32(chunks);
    writeI32(int32_t(dataset.size()));
    os << dataset;
    return Error::success();
  });
}

const std::vector<float> *ImportanceMatrix::find(StringRef weightName) const {
  std::string key = weightName.str();
  if (std::optional<ParsedWeightName> p = parseWeightName(weightName))
    key = lowbit::weightName(Naming::Gguf, p->role, p->layer);
  auto it = entries.find(key);
  return it == entries.end() ? nullptr : &it->second;
}
