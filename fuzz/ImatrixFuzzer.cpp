//===- ImatrixFuzzer.cpp - llama.cpp imatrix (.dat) files -----------------===//
//
// Input: an importance matrix file, read the way --lowbit-gguf-quantize's
// imatrix= option reads it (a llama.cpp .dat, else lowbit statistics).
//
//===----------------------------------------------------------------------===//
#include "FuzzSupport.h"

#include "lowbit/Calibration/Imatrix.h"
#include "lowbit/Formats/HfConfig.h"
#include "lowbit/Support/InputFiles.h"

#include <cmath>

using namespace llvm;
using namespace lowbit;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static fuzz::MemFile file;
  const ModelConfig &config = fuzz::tinyModelConfig();
  const std::string &path = file.write(fuzz::bytesOf(data, size));
  // Each input is unrelated to the last: keep the record of inputs small.
  forgetInputFiles();
  Expected<ImportanceMatrix> m = loadImportance(path, config);
  if (!m) {
    fuzz::expectFileError(m.takeError(), path);
    return 0;
  }
  for (const auto &[name, values] : m->entries) {
    if (values.empty())
      __builtin_trap();
    (void)m->find(name);
    for (float v : values)
      if (!std::isfinite(v) || v < 0)
        __builtin_trap();
  }
  (void)m->find("blk.0.attn_q.weight");
  (void)m->find("model.layers.0.self_attn.q_proj.weight");
  return 0;
}
