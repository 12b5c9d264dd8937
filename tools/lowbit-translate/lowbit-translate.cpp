//===- lowbit-translate.cpp - Models in and out of lowbit IR --------------===//
//
//   lowbit-translate --import-hf DIR [-o model.mlir]
//   lowbit-translate --import-gguf FILE [-o model.mlir]
//   lowbit-translate --export-gguf [--outtype f32|f16|bf16|q8_0] MODEL -o out.gguf
//   lowbit-translate --export-gptq DIR [--gptq-format gptq|gptq_v2] MODEL
//   lowbit-translate --export-awq DIR MODEL
//   lowbit-translate --export-bnb DIR MODEL
//
// A GPTQ/AWQ checkpoint imports with its codes unpacked into a side file
// (--side-file, by default beside the -o output).
//
// Imported IR refers to weights by name; the weight files it names stay
// where they are (absolute paths), so the printed module is small.
//
//===----------------------------------------------------------------------===//
#include "lowbit/Export/BnbExport.h"
#include "lowbit/Export/CheckpointExport.h"
#include "lowbit/Export/GgufExport.h"
#include "lowbit/Import/ModelLoader.h"
#include "lowbit/Import/QuantizedCheckpoint.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "lowbit/Support/ToolSetup.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"

#include "lowbit/Support/OutputFile.h"

using namespace llvm;
using namespace lowbit;

static cl::OptionCategory category("lowbit-translate options");
static cl::opt<std::string> importHf("import-hf",
                                     cl::desc("Import a Hugging Face model directory"),
                                     cl::value_desc("dir"), cl::cat(category));
static cl::opt<std::string> importGguf("import-gguf", cl::desc("Import a GGUF file"),
                                       cl::value_desc("file"), cl::cat(category));
static cl::opt<bool> exportGgufFlag(
    "export-gguf",
    cl::desc("Export the input model (dir, .gguf or .mlir) to GGUF"),
    cl::cat(category));
static cl::opt<std::string> exportGptqDir(
    "export-gptq",
    cl::desc("Export the input model, its linears affine-quantized, as a GPTQ "
             "checkpoint directory"),
    cl::value_desc("dir"), cl::cat(category));
static cl::opt<std::string> exportAwqDir(
    "export-awq",
    cl::desc("Export the input model, its linears affine-quantized (4-bit), as "
             "an AWQ GEMM checkpoint directory"),
    cl::value_desc("dir"), cl::cat(category));
static cl::opt<std::string> exportBnbDir(
    "export-bnb",
    cl::desc("Export the input model, its linears quantized by "
             "--lowbit-bnb-4bit or --lowbit-llm-int8, as a bitsandbytes "
             "checkpoint directory"),
    cl::value_desc("dir"), cl::cat(category));
static cl::opt<std::string> gptqFormat(
    "gptq-format",
    cl::desc("GPTQ zero-point layout: gptq (v1, AutoGPTQ; no asymmetric zero "
             "of 0) or gptq_v2 (GPTQModel)"),
    cl::init("gptq"), cl::cat(category));
static cl::opt<std::string> sideFile(
    "side-file",
    cl::desc("Where importing a GPTQ/AWQ checkpoint writes the unpacked codes "
             "(default: the -o file with extension .weights.safetensors)"),
    cl::value_desc("file"), cl::cat(category));
static cl::opt<std::string> outType(
    "outtype",
    cl::desc("GGUF file type: auto (keep quantized weights, float matrices to "
             "f16), f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, "
             "q3_k_s, q3_k_m, q3_k_l, q4_k_s, q4_k_m, q5_k_s, q5_k_m, q6_k"),
    cl::init("auto"), cl::cat(category));
static cl::opt<bool> pure("pure",
                          cl::desc("Give every matrix the file type's default "
                                   "type (no llama-quantize mix)"),
                          cl::cat(category));
static cl::opt<std::string> inputPath(cl::Positional, cl::desc("<input model>"),
                                      cl::cat(category));
static cl::opt<std::string> outputPath("o", cl::desc("Output file ('-' = stdout)"),
                                       cl::init("-"), cl::cat(category));

static int fail(Error e) {
  WithColor::error(errs(), "lowbit-translate") << toString(std::move(e)) << "\n";
  return 1;
}

/// Imported IR names its files absolutely so it can be used from anywhere.
static std::string absolute(StringRef path) {
  SmallString<256> p(path);
  sys::fs::make_absolute(p);
  sys::path::remove_dots(p, /*remove_dot_dot=*/true);
  return std::string(p);
}

static int printModule(LoadedModel &model) {
  auto print = [&](raw_ostream &os) {
    mlir::OpPrintingFlags flags;
    model.module->print(os, flags);
    os << "\n";
  };
  if (outputPath == "-") {
    print(outs());
    return 0;
  }
  if (Error e = writeFileAtomically(outputPath, [&](raw_pwrite_stream &os) {
        print(os);
        return Error::success();
      }))
    return fail(std::move(e));
  return 0;
}

int main(int argc, char **argv) {
  setUpTool(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv,
                              "lowbit-translate: import and export models\n");
  setToolSubject(!importHf.empty()     ? StringRef(importHf)
                 : !importGguf.empty() ? StringRef(importGguf)
                                       : StringRef(inputPath));
  int modes = !importHf.empty() + !importGguf.empty() + exportGgufFlag +
              !exportGptqDir.empty() + !exportAwqDir.empty() +
              !exportBnbDir.empty();
  if (modes != 1) {
    errs() << "lowbit-translate: give exactly one of --import-hf, "
              "--import-gguf, --export-gguf, --export-gptq, --export-awq, "
              "--export-bnb\n";
    return 1;
  }
  if (!importHf.empty() || !importGguf.empty()) {
    std::string source = absolute(!importHf.empty() ? importHf : importGguf);
    if (!importHf.empty() && !sys::fs::is_directory(source))
      return fail(createStringError(importHf + ": not a model directory"));
    if (!importGguf.empty() && sys::fs::is_directory(source))
      return fail(createStringError(importGguf + ": is a directory, not a GGUF file"));
    // The unpacked codes of a GPTQ/AWQ checkpoint need a file the printed
    // IR can name.
    std::string side;
    if (!importHf.empty()) {
      Expected<std::optional<CheckpointQuantization>> quant =
          readCheckpointQuantization(source);
      if (!quant)
        return fail(quant.takeError());
      if (*quant) {
        if (!sideFile.empty()) {
          side = sideFile;
        } else if (outputPath != "-") {
          SmallString<256> p(outputPath);
          sys::path::replace_extension(p, ".weights.safetensors");
          side = std::string(p);
        } else {
          return fail(createStringError(
              importHf + ": is a quantized checkpoint; its unpacked codes go "
              "to a side file: give -o FILE or --side-file FILE"));
        }
        side = absolute(side);
      }
    } else if (!sideFile.empty()) {
      return fail(createStringError("--side-file applies to --import-hf of a "
                                    "GPTQ/AWQ checkpoint"));
    }
    bool existed = !side.empty() && sys::fs::exists(side);
    Expected<std::unique_ptr<LoadedModel>> model = loadModel(source, side);
    int rc = model ? printModule(**model) : fail(model.takeError());
    if (rc && !side.empty() && !existed)
      sys::fs::remove(side);
    return rc;
  }

  if (!exportBnbDir.empty()) {
    if (inputPath.empty())
      return fail(createStringError("--export-bnb needs an input model"));
    if (outputPath != "-")
      return fail(createStringError("--export-bnb takes the output directory "
                                    "as its value; -o does not apply"));
    Expected<std::unique_ptr<LoadedModel>> model = loadModel(inputPath);
    if (!model)
      return fail(model.takeError());
    if (Error e = exportBnbCheckpoint(**model, exportBnbDir, BnbExportOptions()))
      return fail(std::move(e));
    return 0;
  }

  if (!exportGptqDir.empty() || !exportAwqDir.empty()) {
    CheckpointExportOptions options;
    options.kind = exportGptqDir.empty() ? CheckpointKind::Awq : CheckpointKind::Gptq;
    StringRef flag = exportGptqDir.empty() ? "--export-awq" : "--export-gptq";
    if (gptqFormat == "gptq")
      options.gptqFormat = GptqZeroFormat::V1;
    else if (gptqFormat == "gptq_v2")
      options.gptqFormat = GptqZeroFormat::V2;
    else
      return fail(createStringError("--gptq-format must be gptq or gptq_v2, not '" +
                                    gptqFormat + "'"));
    if (inputPath.empty())
      return fail(createStringError(flag + " needs an input model"));
    if (outputPath != "-")
      return fail(createStringError(flag + " takes the output directory as its "
                                    "value; -o does not apply"));
    Expected<std::unique_ptr<LoadedModel>> model = loadModel(inputPath);
    if (!model)
      return fail(model.takeError());
    if (Error e = exportQuantizedCheckpoint(
            **model, exportGptqDir.empty() ? exportAwqDir : exportGptqDir, options))
      return fail(std::move(e));
    return 0;
  }

  if (inputPath.empty())
    return fail(createStringError("--export-gguf needs an input model"));
  if (outputPath == "-")
    return fail(createStringError("--export-gguf needs -o FILE"));
  GgufExportOptions options;
  if (outType != "auto") {
    Expected<GgufFileType> type = parseGgufFileType(outType);
    if (!type)
      return fail(createStringError("--outtype: " + toString(type.takeError())));
    options.fileType = *type;
  }
  options.pure = pure;
  options.name = sys::path::stem(sys::path::filename(
                                     StringRef(inputPath).rtrim('/')))
                     .str();
  Expected<std::unique_ptr<LoadedModel>> model = loadModel(inputPath);
  if (!model)
    return fail(model.takeError());
  if (Error e = exportGguf(**model, outputPath, options))
    return fail(std::move(e));
  return 0;
}
