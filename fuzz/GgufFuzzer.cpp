//===- GgufFuzzer.cpp - GGUF header, metadata, tensor infos, model config -===//
//
// Input: a .gguf file. Beyond parsing, the typed getters run on every key,
// every accepted tensor is touched and dequantized, and the metadata is read
// as a model would be (hyper-parameters, vocabulary, tokenizer).
//
//===----------------------------------------------------------------------===//
#include "FuzzSupport.h"

#include "lowbit/Formats/Gguf.h"
#include "lowbit/Formats/Vocabulary.h"
#include "lowbit/Import/Import.h"
#include "lowbit/Quant/GgmlQuants.h"

using namespace llvm;
using namespace lowbit;

static constexpr StringLiteral kName = "fuzz.gguf";
// Tokenizers are rebuilt only for small vocabularies: SentencePiece's own
// loading dominates the time otherwise. The seeds include small ones.
static constexpr size_t kMaxTokenizerPieces = 1024;
// Dequantizing is linear in the tensor's bytes, which the file holds.
static constexpr uint64_t kMaxDequantizeBytes = 1 << 20;

/// A getter's failure must name the file.
template <typename T> static void check(Expected<T> value) {
  if (!value)
    fuzz::expectFileError(value.takeError(), kName);
}

static void readModel(const GgufFile &file) {
  if (Expected<ModelConfig> config = configFromGguf(file)) {
    if (Error e = config->validate(kName))
      __builtin_trap();
  } else {
    fuzz::expectFileError(config.takeError(), kName);
  }
  Expected<Vocabulary> vocab = Vocabulary::fromGguf(file);
  if (!vocab) {
    fuzz::expectFileError(vocab.takeError(), kName);
    return;
  }
  if (vocab->pieces.size() > kMaxTokenizerPieces)
    return;
  Expected<std::unique_ptr<Tokenizer>> tok = Tokenizer::create(*vocab, kName);
  if (!tok) {
    fuzz::expectFileError(tok.takeError(), kName);
    return;
  }
  std::vector<int> ids = (*tok)->encode("Once upon a time, 42 \xE2\x9C\x93 <s>");
  (void)(*tok)->decode(ids);
  for (int id : ids)
    (void)(*tok)->pieceText(id);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  Expected<std::unique_ptr<GgufFile>> opened = GgufFile::open(
      MemoryBuffer::getMemBufferCopy(fuzz::bytesOf(data, size), kName));
  if (!opened) {
    fuzz::expectFileError(opened.takeError(), kName);
    return 0;
  }
  const GgufFile &file = **opened;
  for (const auto &[key, value] : file.metadata()) {
    if (file.find(key) != &value)
      __builtin_trap();
    (void)value.str();
    // The getters a reader of this type would call, and one that refuses it.
    check(file.getBool(key));
    if (value.isInteger()) {
      check(file.getU32(key));
      check(file.getU64(key));
      check(file.getI64(key));
    } else if (value.isFloat()) {
      check(file.getF32(key));
    } else if (value.type == GgufValueType::String) {
      check(file.getString(key));
    } else if (value.isArray()) {
      check(file.getStringArray(key));
      check(file.getF32Array(key));
      check(file.getI32Array(key));
    }
  }
  for (const TensorRef &t : file.tensors()) {
    if (file.findTensor(t.name) != &t || !file.ggmlType(t.name))
      __builtin_trap();
    if (file.fileOffset(t) % file.alignment())
      __builtin_trap();
    fuzz::touch(t.data, t.bytes);
    if (!canDequantize(t.dtype) || t.bytes > kMaxDequantizeBytes)
      continue;
    std::vector<float> values;
    if (Error e = dequantize(t, values))
      __builtin_trap(); // the reader checked the size against the shape
  }
  readModel(file);
  return 0;
}
