//===- ModelLoader.cpp ----------------------------------------------------===//
#include "lowbit/Import/ModelLoader.h"
#include "lowbit/Support/InputFiles.h"
#include "lowbit/Dialect/Lowbit/LowbitOps.h"
#include "lowbit/Formats/Gguf.h"
#include "lowbit/Import/Import.h"
#include "lowbit/Support/Error.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"

using namespace llvm;
using namespace lowbit;

void lowbit::registerModelDialects(mlir::DialectRegistry &registry) {
  registry.insert<mlir::func::FuncDialect, mlir::lowbit::LowbitDialect>();
}

/// GGUF by magic, or by name so that a damaged .gguf gets the GGUF reader's
/// diagnosis rather than the IR parser's.
static bool isGgufFile(StringRef path) {
  if (sys::path::extension(path).equals_insensitive(".gguf"))
    return true;
  auto head = MemoryBuffer::getFileSlice(path, 4, 0, /*IsVolatile=*/false);
  return head && (*head)->getBuffer() == "GGUF";
}

/// add_bos_token / add_eos_token from tokenizer_config.json beside the
/// tokenizer, when present. A file that is there but damaged, or settings of
/// the wrong type, are errors: ignoring them would silently change how text
/// is tokenized.
static Error readTokenizerConfig(StringRef tokenizerPath, Vocabulary &vocab) {
  SmallString<256> p(sys::path::parent_path(tokenizerPath));
  sys::path::append(p, "tokenizer_config.json");
  if (!sys::fs::exists(p))
    return Error::success();
  auto buf = readInputFile(p, /*IsText=*/true);
  if (!buf)
    return fileError(p, "cannot open: {0}", buf.getError().message());
  Expected<json::Value> root = json::parse((*buf)->getBuffer());
  if (!root)
    return fileError(p, "invalid JSON: {0}", toString(root.takeError()));
  const json::Object *o = root->getAsObject();
  if (!o)
    return fileError(p, "not a JSON object");
  for (StringRef key : {"add_bos_token", "add_eos_token"})
    if (const json::Value *v = o->get(key);
        v && v->kind() != json::Value::Null && !v->getAsBoolean())
      return fileError(p, "key '{0}' must be a boolean, got {1}", key, *v);
  vocab.applyTokenizerConfig((*buf)->getBuffer());
  return Error::success();
}

Expected<Vocabulary> lowbit::loadVocabulary(StringRef tokenizerPath,
                                            const ModelConfig &config) {
  if (isGgufFile(tokenizerPath)) {
    Expected<std::unique_ptr<GgufFile>> file = GgufFile::open(tokenizerPath);
    if (!file)
      return file.takeError();
    Expected<Vocabulary> vocab = Vocabulary::fromGguf(**file);
    if (vocab && int64_t(vocab->pieces.size()) != config.vocabSize)
      return fileError(tokenizerPath, "vocabulary has {0} tokens but the model "
                       "has vocab_size {1}", vocab->pieces.size(),
                       config.vocabSize);
    return vocab;
  }
  Expected<Vocabulary> vocab =
      Vocabulary::fromSentencePieceFile(tokenizerPath, config.vocabSize);
  if (!vocab)
    return vocab.takeError();
  vocab->bosId = config.bosTokenId;
  vocab->eosId = config.eosTokenId;
  if (Error e = readTokenizerConfig(tokenizerPath, *vocab))
    return std::move(e);
  return vocab;
}

Error lowbit::openModuleWeights(mlir::ModuleOp module, WeightStore &weights) {
  mlir::Operation *op = module.getOperation();
  auto files = dyn_cast_or_null<mlir::ArrayAttr>(op->getAttr("lowbit.weight_files"));
  if (!files)
    return createStringError("module has no lowbit.weight_files attribute");
  for (mlir::Attribute f : files)
    if (Error e = weights.addFile(cast<mlir::StringAttr>(f).getValue()))
      return e;
  if (auto side = dyn_cast_or_null<mlir::ArrayAttr>(op->getAttr("lowbit.side_files")))
    for (mlir::Attribute f : side)
      if (Error e = weights.addSideFile(cast<mlir::StringAttr>(f).getValue()))
        return e;
  return Error::success();
}

Error lowbit::attachModelResources(LoadedModel &model, StringRef source) {
  mlir::Operation *op = model.module->getOperation();
  Expected<ModelConfig> config = configFromModule(*model.module);
  if (!config)
    return fileError(source, "{0}", toString(config.takeError()));
  model.config = *config;
  if (model.weights.files().empty())
    if (Error e = openModuleWeights(*model.module, model.weights))
      return fileError(source, "{0}", toString(std::move(e)));
  auto tok = dyn_cast_or_null<mlir::StringAttr>(op->getAttr("lowbit.tokenizer"));
  if (!tok)
    return fileError(source, "module has no lowbit.tokenizer attribute");
  if (Error e = checkEmbeddingRows(model.config, model.weights))
    return e;
  Expected<Vocabulary> vocab = loadVocabulary(tok.getValue(), model.config);
  if (!vocab)
    return vocab.takeError();
  Expected<std::unique_ptr<Tokenizer>> tokenizer =
      Tokenizer::create(*vocab, tok.getValue());
  if (!tokenizer)
    return tokenizer.takeError();
  model.tokenizer = std::move(*tokenizer);
  return Error::success();
}

Expected<std::unique_ptr<LoadedModel>> lowbit::loadModel(StringRef path,
                                                         StringRef sideFile) {
  auto model = std::make_unique<LoadedModel>();
  mlir::DialectRegistry registry;
  registerModelDialects(registry);
  model->context = std::make_unique<mlir::MLIRContext>(registry);
  model->context->loadAllAvailableDialects();

  if (!sys::fs::exists(path))
    return fileError(path, "no such file or directory");
  Expected<ModelSource> src = ModelSource();
  bool isIR = false;
  if (sys::fs::is_directory(path))
    src = readHfDirectory(path, model->weights, HfImportOptions{sideFile.str()});
  else if (isGgufFile(path))
    src = readGgufModel(path, model->weights);
  else
    isIR = true;
  if (!src)
    return src.takeError();

  if (isIR) {
    SourceMgr sourceMgr;
    auto buf = readInputFile(path, /*IsText=*/true);
    if (!buf)
      return fileError(path, "cannot open: {0}", buf.getError().message());
    sourceMgr.AddNewSourceBuffer(std::move(*buf), SMLoc());
    std::string diagText;
    raw_string_ostream diagOS(diagText);
    mlir::SourceMgrDiagnosticHandler handler(sourceMgr, model->context.get(),
                                             diagOS);
    model->module =
        mlir::parseSourceFile<mlir::ModuleOp>(sourceMgr, model->context.get());
    if (!model->module)
      return fileError(path, "not a model (neither a directory, a GGUF file "
                       "nor valid lowbit IR):\n{0}", diagText);
  } else {
    // Check the tokenizer against the configuration before building IR.
    Expected<Vocabulary> vocab = loadVocabulary(src->tokenizer, src->config);
    if (!vocab)
      return vocab.takeError();
    auto module = buildModelModule(model->context.get(), *src, model->weights);
    if (!module)
      return module.takeError();
    model->module = std::move(*module);
  }
  if (Error e = attachModelResources(*model, path))
    return std::move(e);
  return std::move(model);
}
