//===- HfConfigFuzzer.cpp - config.json -----------------------------------===//
//
// Input: a config.json. An accepted configuration must pass validate(): the
// hyper-parameters the importer sizes tensors and loops with.
//
//===----------------------------------------------------------------------===//
#include "FuzzSupport.h"

#include "lowbit/Formats/HfConfig.h"

using namespace llvm;
using namespace lowbit;

static constexpr StringLiteral kName = "config.json";

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  Expected<ModelConfig> config = parseHfConfig(fuzz::bytesOf(data, size), kName);
  if (!config) {
    fuzz::expectFileError(config.takeError(), kName);
    return 0;
  }
  if (Error e = config->validate(kName))
    __builtin_trap();
  return 0;
}
