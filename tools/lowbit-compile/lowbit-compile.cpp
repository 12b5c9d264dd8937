//===- lowbit-compile.cpp - Compile a model to a .lbx artifact ------------===//
//
// lowbit-compile MODEL --target=x86-64-v3|x86-64-v4|native|sm_80|sm_90 -o model.lbx
// (or --target=CPU,GPU, e.g. x86-64-v3,sm_90: one artifact for both)
//
// MODEL is anything lowbit-run opens: a Hugging Face directory (also GPTQ,
// AWQ and bitsandbytes checkpoints), a GGUF file or lowbit IR.
//
//===----------------------------------------------------------------------===//
#include "lowbit/Codegen/Compile.h"
#include "lowbit/Import/ModelLoader.h"

#include "llvm/Support/CommandLine.h"
#include "lowbit/Support/ToolSetup.h"
#include "llvm/Support/WithColor.h"

using namespace llvm;
using namespace lowbit;

static cl::OptionCategory category("lowbit-compile options");
static cl::opt<std::string> modelPath(cl::Positional, cl::Required,
                                      cl::desc("<model dir | .gguf | .mlir>"),
                                      cl::cat(category));
static cl::opt<std::string> outputPath("o", cl::desc("Output artifact (.lbx)"),
                                       cl::Required, cl::cat(category));
static cl::opt<std::string> target("target",
                                   cl::desc("x86-64-v3 (AVX2, FMA, F16C), x86-64-v4 "
                                            "(adds AVX-512 and VNNI), native, or an NVIDIA "
                                            "GPU: sm_80, sm_90; or one of each, as "
                                            "x86-64-v3,sm_90, for one artifact that runs "
                                            "on either"),
                                   cl::init("native"), cl::cat(category));
static cl::opt<std::string> assembly("emit-asm",
                                     cl::desc("Also write the generated assembly (GPU: the PTX; both "
                                              "targets: the PTX to FILE.ptx) to FILE"),
                                     cl::value_desc("FILE"), cl::cat(category));
static cl::opt<bool> printIr("mlir-print-ir-after-all",
                             cl::desc("Print the kernels module at every stage"),
                             cl::cat(category));
static cl::opt<bool> noFusion("no-residual-fusion",
                              cl::desc("Keep residual adds as their own dispatch"),
                              cl::cat(category));

int main(int argc, char **argv) {
  setUpTool(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv, "lowbit-compile: a model to a .lbx artifact\n");
  setToolSubject(modelPath);
  auto fail = [](Error e) {
    WithColor::error(errs(), "lowbit-compile") << toString(std::move(e)) << "\n";
    return 1;
  };
  // A target that cannot be compiled for fails before the model loads.
  if (Error e = checkCompileTarget(target))
    return fail(std::move(e));
  Expected<std::unique_ptr<LoadedModel>> model = loadModel(modelPath);
  if (!model)
    return fail(model.takeError());
  CompileOptions options;
  options.target = target;
  options.output = outputPath;
  options.assemblyPath = assembly;
  options.fuseResidual = !noFusion;
  if (printIr)
    options.irDump = &errs();
  if (Error e = compileModel(**model, options))
    return fail(std::move(e));
  return 0;
}
