//===- ModelLoader.h - Open any model lowbit can run ------------*- C++ -*-===//
#ifndef LOWBIT_IMPORT_MODELLOADER_H
#define LOWBIT_IMPORT_MODELLOADER_H

#include "lowbit/Formats/HfConfig.h"
#include "lowbit/Formats/Vocabulary.h"
#include "lowbit/Formats/WeightStore.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"

#include <memory>

namespace lowbit {

/// A model ready to run: its IR, the weights it names and its tokenizer.
struct LoadedModel {
  std::unique_ptr<mlir::MLIRContext> context;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  WeightStore weights;
  ModelConfig config;
  std::unique_ptr<Tokenizer> tokenizer;
};

/// Registers the dialects a lowbit model module uses.
void registerModelDialects(mlir::DialectRegistry &registry);

/// Opens a Hugging Face directory, a GGUF file, or a .mlir module produced by
/// lowbit-translate / lowbit-opt. The unpacked codes of a GPTQ or AWQ
/// directory go to `sideFile`, which the IR then names (empty: a temporary
/// file, removed once mapped).
llvm::Expected<std::unique_ptr<LoadedModel>>
loadModel(llvm::StringRef path, llvm::StringRef sideFile = {});

/// Opens the weight files and side files a module's attributes name.
llvm::Error openModuleWeights(mlir::ModuleOp module, WeightStore &weights);

/// Opens the weights and tokenizer named by an existing module's attributes.
llvm::Error attachModelResources(LoadedModel &model, llvm::StringRef source);

/// The vocabulary named by a module's `lowbit.tokenizer` attribute.
llvm::Expected<Vocabulary> loadVocabulary(llvm::StringRef tokenizerPath,
                                          const ModelConfig &config);

} // namespace lowbit

#endif // LOWBIT_IMPORT_MODELLOADER_H
