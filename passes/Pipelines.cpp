//===- Pipelines.cpp - Named quantization recipes --------------------------===//
//
// `--lowbit-pipeline="name=gptq-w4g128 file=calib.txt side-file=out.safetensors"`
// expands to the pass with the recipe's settings, so the usual recipes need
// no option list. The expansion is an ordinary textual pass pipeline, shown
// by `lowbit-opt --lowbit-pipeline=... --dump-pass-pipeline`.
//
//===----------------------------------------------------------------------===//
#include "lowbit/Passes/Passes.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/ADT/StringExtras.h"

using namespace mlir;

namespace {
struct Recipe {
  const char *name;
  const char *pass;     // pass argument
  const char *settings; // its options
  const char *summary;
  // A pass run before `pass` (AWQ's fold), its side file next to the
  // recipe's, with these settings.
  const char *prelude = nullptr;
  const char *preludeSettings = nullptr;
};

// Calibrated recipes take the calibration text; the others ignore it.
constexpr Recipe kRecipes[] = {
    {"rtn-w8g128", "lowbit-rtn", "bits=8 group-size=128", "round to nearest, 8 bits, groups of 128"},
    {"rtn-w8", "lowbit-rtn", "bits=8 group-size=-1", "round to nearest, 8 bits, per output channel"},
    {"rtn-w4g128", "lowbit-rtn", "bits=4 group-size=128", "round to nearest, 4 bits, groups of 128"},
    {"rtn-w3g128", "lowbit-rtn", "bits=3 group-size=128", "round to nearest, 3 bits, groups of 128"},
    {"gptq-w8g128", "lowbit-gptq", "bits=8 group-size=128", "GPTQ, 8 bits, groups of 128"},
    {"gptq-w4g128", "lowbit-gptq", "bits=4 group-size=128", "GPTQ, 4 bits, groups of 128"},
    {"gptq-w4g128-act-order", "lowbit-gptq", "bits=4 group-size=128 act-order=true",
     "GPTQ with act-order (desc_act), 4 bits, groups of 128"},
    {"gptq-w3g128", "lowbit-gptq", "bits=3 group-size=128", "GPTQ, 3 bits, groups of 128"},
    {"gptq-w2g64", "lowbit-gptq", "bits=2 group-size=64", "GPTQ, 2 bits, groups of 64"},
    {"awq-w4g128", "lowbit-awq", "bits=4 group-size=128", "AWQ, 4 bits, groups of 128"},
    {"awq-w3g128", "lowbit-awq", "bits=3 group-size=128", "AWQ, 3 bits, groups of 128"},
    {"awq-gptq-w4g128", "lowbit-awq", "bits=4 group-size=128 gptq=true",
     "AWQ scales and clipping, then GPTQ rounding, 4 bits, groups of 128"},
    {"awq-gptq-w3g128", "lowbit-awq", "bits=3 group-size=128 gptq=true",
     "AWQ scales and clipping, then GPTQ rounding, 3 bits, groups of 128"},
    // GGUF files: llama-quantize's per-tensor mix, GPTQ choosing the codes
    // inside each ggml block, aimed at the float model's outputs, then
    // coordinate descent (--export-gguf writes the file).
    {"gptq-q2_k", "lowbit-gguf-quantize", "ftype=q2_k gptq=true float-targets=true",
     "GPTQ rounding inside Q2_K's mix of ggml blocks"},
    {"gptq-q3_k_m", "lowbit-gguf-quantize", "ftype=q3_k_m gptq=true float-targets=true",
     "GPTQ rounding inside Q3_K_M's mix of ggml blocks"},
    {"gptq-q4_0", "lowbit-gguf-quantize", "ftype=q4_0 gptq=true float-targets=true",
     "GPTQ rounding inside Q4_0 blocks"},
    {"gptq-q4_k_m", "lowbit-gguf-quantize", "ftype=q4_k_m gptq=true float-targets=true",
     "GPTQ rounding inside Q4_K_M's mix of ggml blocks"},
    {"gptq-q5_k_m", "lowbit-gguf-quantize", "ftype=q5_k_m gptq=true float-targets=true",
     "GPTQ rounding inside Q5_K_M's mix of ggml blocks"},
    {"gptq-q6_k", "lowbit-gguf-quantize", "ftype=q6_k gptq=true float-targets=true",
     "GPTQ rounding inside Q6_K blocks"},
    // AWQ's scales folded into the float model first (searched for the
    // mix's ggml types), then GPTQ inside the blocks.
    {"awq-gptq-q2_k", "lowbit-gguf-quantize", "ftype=q2_k gptq=true float-targets=true",
     "AWQ scales for Q2_K's mix folded in, then GPTQ inside its blocks",
     "lowbit-awq", "ftype=q2_k"},
    {"awq-gptq-q3_k_m", "lowbit-gguf-quantize", "ftype=q3_k_m gptq=true float-targets=true",
     "AWQ scales for Q3_K_M's mix folded in, then GPTQ inside its blocks",
     "lowbit-awq", "ftype=q3_k_m"},
    {"awq-gptq-q4_k_m", "lowbit-gguf-quantize", "ftype=q4_k_m gptq=true float-targets=true",
     "AWQ scales for Q4_K_M's mix folded in, then GPTQ inside its blocks",
     "lowbit-awq", "ftype=q4_k_m"},
    // Size-budgeted mixes: the bytes of a llama-quantize mix, each matrix's
    // type chosen from its measured sensitivity, GPTQ inside the blocks.
    {"budget-gptq-q2_k", "lowbit-gguf-quantize", "ftype=q2_k budget=q2_k gptq=true float-targets=true",
     "Q2_K's bytes, per-tensor types from measured sensitivity, GPTQ rounding"},
    {"budget-gptq-q3_k_m", "lowbit-gguf-quantize", "ftype=q3_k_m budget=q3_k_m gptq=true float-targets=true",
     "Q3_K_M's bytes, per-tensor types from measured sensitivity, GPTQ rounding"},
    {"budget-gptq-q4_k_m", "lowbit-gguf-quantize", "ftype=q4_k_m budget=q4_k_m gptq=true float-targets=true",
     "Q4_K_M's bytes, per-tensor types from measured sensitivity, GPTQ rounding"},
};

struct PipelineOptions : public PassPipelineOptions<PipelineOptions> {
  Option<std::string> name{*this, "name", llvm::cl::desc("Recipe name")};
  Option<std::string> file{*this, "file",
                           llvm::cl::desc("Calibration text (calibrated recipes)")};
  Option<std::string> sideFile{*this, "side-file",
                               llvm::cl::desc("File receiving the quantized weights")};
};
} // namespace

static std::string recipeList() {
  std::string list;
  for (const Recipe &r : kRecipes)
    list += std::string("\n  ") + r.name + ": " + r.summary;
  return list;
}

void mlir::lowbit::registerLowbitPipelines() {
  std::string description =
      "Named quantization recipe: name=NAME file=CALIBRATION-TEXT "
      "side-file=PATH. Recipes:" +
      recipeList();
  registerPassPipeline(
      "lowbit-pipeline", description,
      [](OpPassManager &pm, StringRef optionsText,
         function_ref<LogicalResult(const Twine &)> errorHandler) -> LogicalResult {
        PipelineOptions options;
        if (failed(options.parseFromString(optionsText)))
          return errorHandler("--lowbit-pipeline: cannot parse options '" +
                              optionsText + "'");
        const Recipe *recipe = nullptr;
        for (const Recipe &r : kRecipes)
          if (options.name == r.name)
            recipe = &r;
        if (!recipe)
          return errorHandler("--lowbit-pipeline: unknown recipe '" +
                              options.name + "'; known recipes:" + recipeList());
        if (options.sideFile.empty())
          return errorHandler("--lowbit-pipeline: needs side-file=PATH");
        std::string fileOption;
        if (!options.file.empty() && StringRef(recipe->pass) != "lowbit-rtn")
          fileOption = " file=" + options.file.getValue();
        std::string settings = recipe->settings;
        settings += " side-file=" + options.sideFile.getValue() + fileOption;
        std::string text =
            std::string(recipe->pass) + "{" + settings + "}";
        if (recipe->prelude)
          text = std::string(recipe->prelude) + "{" + recipe->preludeSettings +
                 " side-file=" + options.sideFile.getValue() +
                 ".awq.safetensors" + fileOption + "}," + text;
        return parsePassPipeline(text, pm, llvm::errs());
      },
      [](function_ref<void(const detail::PassOptions &)> optHandler) {
        optHandler(PipelineOptions());
      });
}
