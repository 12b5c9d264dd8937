//===- CheckpointDirectory.h - Shared Hugging Face export steps -*- C++ -*-===//
//
// The steps the Hugging Face checkpoint exporters (GPTQ / AWQ and
// bitsandbytes) take the same way: checking the model and finding its
// tokenizer, listing its weights under their Hugging Face names, reordering
// q/k rows into Hugging Face's rope layout, writing config.json's model keys,
// and building the directory under a temporary name with the tokenizer
// files copied in.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_EXPORT_CHECKPOINTDIRECTORY_H
#define LOWBIT_EXPORT_CHECKPOINTDIRECTORY_H

#include "lowbit/Dialect/Lowbit/LowbitAttrs.h"
#include "lowbit/Formats/TensorNames.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <cstring>
#include <string>
#include <vector>

namespace mlir {
class ModuleOp;
} // namespace mlir

namespace lowbit {

struct LoadedModel;
struct ModelConfig;

/// Checks that `model` is a Llama-family model a Hugging Face checkpoint
/// can express and returns its SentencePiece tokenizer.model path.
/// `checkpointName` ("GPTQ", "bitsandbytes", ...) appears in the messages.
llvm::Expected<std::string> checkpointTokenizer(const LoadedModel &model,
                                                llvm::StringRef dir,
                                                llvm::StringRef checkpointName);

/// A lowbit.weight of the module under its Hugging Face name.
struct CheckpointWeight {
  std::string irName, hfName;
  WeightRole role;
  std::vector<int64_t> shape;
  mlir::lowbit::QuantSchemeAttr scheme; // null: a float tensor
};

/// Calls `visit` once for each distinct lowbit.weight of `module`, in walk
/// order, until it fails. A weight whose name is not a Llama-family tensor
/// is an error, unless `ignore` accepts the name.
llvm::Error
forEachCheckpointWeight(mlir::ModuleOp module, llvm::StringRef dir,
                        llvm::function_ref<llvm::Error(CheckpointWeight)> visit,
                        llvm::function_ref<bool(llvm::StringRef)> ignore = {});

/// Whether the module's rope is llama.cpp's adjacent-pair form (a GGUF
/// import), whose q/k rows a Hugging Face checkpoint stores reordered.
bool hasInterleavedRope(mlir::ModuleOp module);

/// For a weight of `rows` rows with `role`, the IR row each Hugging Face row
/// comes from: q/k weights and biases of an interleaved-rope IR move to
/// rotate-half order; empty when the rows stay as they are.
std::vector<int64_t> huggingFaceRowSource(const ModelConfig &cfg,
                                          WeightRole role, int64_t rows,
                                          bool irInterleaved);

/// Reorders the rows of a row-major buffer of `rowSource.size()` rows; an
/// empty `rowSource` leaves it as it is.
template <typename T>
void permuteRows(std::vector<T> &v, llvm::ArrayRef<int64_t> rowSource) {
  if (rowSource.empty())
    return;
  size_t width = v.size() / rowSource.size();
  std::vector<T> out(v.size());
  for (size_t r = 0; r < rowSource.size(); ++r)
    std::memcpy(out.data() + r * width, v.data() + rowSource[r] * width,
                sizeof(T) * width);
  v = std::move(out);
}

/// The bytes of `v`, for SafetensorsWriter::addTensor.
template <typename T> std::vector<uint8_t> bytesOf(const std::vector<T> &v) {
  std::vector<uint8_t> out(v.size() * sizeof(T));
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

/// Writes `text`, already JSON, as the value of `key`.
void writeRawAttribute(llvm::json::OStream &j, llvm::StringRef key,
                       llvm::StringRef text);

/// Writes config.json's model keys, architectures to vocab_size, into the
/// open object of `j`; the caller adds quantization_config. Floats are
/// spelled by `formatFloat`, as the exporters' readers expect them.
void writeModelConfigKeys(llvm::json::OStream &j, const ModelConfig &cfg,
                          bool tieWordEmbeddings, llvm::StringRef torchDtype,
                          llvm::function_ref<std::string(double)> formatFloat);

/// Writes `dir`/`name` as the JSON `body` writes, indented by 2, with a
/// final newline.
llvm::Error
writeJsonFile(llvm::StringRef dir, llvm::StringRef name,
              llvm::function_ref<void(llvm::json::OStream &)> body);

/// Writes the checkpoint directory `dir`: model.safetensors by
/// `writeWeights` (given its path), the JSON files by `writeConfigs` (given
/// the directory), and `tokenizer` as tokenizer.model with the files
/// transformers reads beside it. The directory is built under a temporary
/// name and renamed at the end; on error nothing is left behind. An existing
/// `dir` must be empty.
llvm::Error writeCheckpointDirectory(
    llvm::StringRef dir, llvm::StringRef tokenizer,
    llvm::function_ref<llvm::Error(llvm::StringRef)> writeWeights,
    llvm::function_ref<llvm::Error(llvm::StringRef)> writeConfigs);

} // namespace lowbit

#endif // LOWBIT_EXPORT_CHECKPOINTDIRECTORY_H
