//===- lowbit-gpu-kernels.cpp - Generate the GPU kernels as PTX -----------===//
//
// lowbit-gpu-kernels --target=sm_90 --linear=4096x4096,14336x4096 --batch=1,8
//                    --linear-f16=128256x4096
//                    --rms-norm=4096 --rms-norm-eps=1e-5 --swiglu=14336 --add=4096
//                    --embedding=128256x4096 --embedding-f16=128256x4096
//                    --rope=32x128 --rope-halves=8x128 --rope-theta=500000
//                    --attention=32x8x128 --context=4096
//                    -o DIR              (DIR/kernels.ptx + DIR/kernels.tsv)
//                    --emit=gpu|nvvm|ptx (one stage, to stdout or -o FILE)
//
// Each q4g128 linear shape gets its activation-rounding kernel too, and
// every kernel one variant per batch (the f16 linears: per batch of 1 to 8).
// docs/gpu.md has the kernels' ABI; bench/gpu.sh runs them on a GPU.
//
//===----------------------------------------------------------------------===//
#include "lowbit/Codegen/GpuKernels.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"
#include "lowbit/Support/OutputFile.h"
#include "lowbit/Support/ToolSetup.h"

using namespace llvm;
using namespace lowbit;

static cl::OptionCategory category("lowbit-gpu-kernels options");
static cl::opt<std::string> target("target", cl::desc("sm_80 or sm_90"), cl::Required,
                                   cl::cat(category));
static cl::list<std::string> linears("linear",
                                     cl::desc("NxK shapes of linears in the --format"),
                                     cl::CommaSeparated, cl::cat(category));
static cl::opt<std::string> weightFormat(
    "format",
    cl::desc("The integer format of --linear and --embedding: q4g128 (default), q4g32, q4k, "
             "q8g128, q8g32, q6k, q5g32, q5k, q2k or lut4"),
    cl::init("q4g128"), cl::cat(category));
static cl::list<std::string> f16Linears("linear-f16",
                                        cl::desc("NxK shapes of f16 linears (batches 1-8)"),
                                        cl::CommaSeparated, cl::cat(category));
static cl::opt<std::string> roundingName(
    "rounding",
    cl::desc("How the quantize kernels before the decode --linear round activations: b32 "
             "(default), q80, q81 (blocks of 32, ggml's q8_0 and q8_1) or q8k (blocks of 256)"),
    cl::init("b32"), cl::cat(category));
static cl::list<int64_t> rmsNorms("rms-norm", cl::desc("Widths K of rms_norm kernels"),
                                  cl::CommaSeparated, cl::cat(category));
static cl::opt<float> rmsNormEps("rms-norm-eps",
                                 cl::desc("The model's rms_norm epsilon (needed by --rms-norm)"),
                                 cl::cat(category));
static cl::list<int64_t> swiglus("swiglu", cl::desc("Widths K of swiglu kernels"),
                                 cl::CommaSeparated, cl::cat(category));
static cl::list<int64_t> adds("add", cl::desc("Widths K of add (residual) kernels"),
                              cl::CommaSeparated, cl::cat(category));
static cl::list<int64_t> permutes("permute-columns",
                                  cl::desc("Widths K of column permutations (the input of "
                                           "act-order linears)"),
                                  cl::CommaSeparated, cl::cat(category));
static cl::list<std::string> embeddings("embedding",
                                        cl::desc("VxK shapes of embedding tables in the --format"),
                                        cl::CommaSeparated, cl::cat(category));
static cl::list<std::string> f16Embeddings("embedding-f16",
                                           cl::desc("VxK shapes of f16 embedding tables"),
                                           cl::CommaSeparated, cl::cat(category));
static cl::list<std::string> ropes("rope",
                                   cl::desc("HxD shapes (heads x head size) of rope kernels"),
                                   cl::CommaSeparated, cl::cat(category));
static cl::list<std::string> halvesRopes(
    "rope-halves",
    cl::desc("HxD shapes of rope kernels rotating value i with i + D/2 (rotate_half)"),
    cl::CommaSeparated, cl::cat(category));
static cl::opt<float> ropeTheta("rope-theta",
                                cl::desc("The model's rope theta (needed by --rope and "
                                         "--rope-halves)"),
                                cl::cat(category));
static cl::list<std::string> attentions(
    "attention",
    cl::desc("HxKVHxD shapes (query heads x KV heads x head size) of decode attention "
             "and its KV cache writer"),
    cl::CommaSeparated, cl::cat(category));
static cl::opt<int64_t> context("context",
                                cl::desc("The positions the KV cache holds (needed by --attention)"),
                                cl::init(0), cl::cat(category));
static cl::list<int64_t> batches("batch",
                                 cl::desc("Token counts (1-8: decode kernels; 16-64, "
                                          "multiples of 8: tensor cores; default 1)"),
                                 cl::CommaSeparated, cl::cat(category));
static cl::list<int> rowsPerWarp("rows-per-warp",
                                 cl::desc("Rows each warp of a decode linear (integer formats, f16) "
                                          "owns: 1, 2 or 4 (one kernel per value; default: "
                                          "chosen from the batch)"),
                                 cl::CommaSeparated, cl::cat(category));
static cl::opt<bool> withBias("bias",
                              cl::desc("The --linear and --linear-f16 kernels add an f32 bias "
                                       "per output row (a fourth argument)"),
                              cl::init(false), cl::cat(category));
static cl::opt<bool> int8Mma("int8-mma",
                             cl::desc("The --linear kernels run on int8 tensor cores over the "
                                      "decode kernels' weights and quantized activations (batches "
                                      "a multiple of 8 up to 64; blocks of --mma-block-rows rows)"),
                             cl::init(false), cl::cat(category));
static cl::list<int> mmaBlockRows("mma-block-rows",
                                  cl::desc("Rows each block of a tensor-core linear owns (its "
                                           "warps split the width): 16, 32 or 64 (one kernel "
                                           "per value; default 32)"),
                                    cl::CommaSeparated, cl::cat(category));
static cl::opt<std::string> emit("emit",
                                 cl::desc("gpu (the kernels), nvvm (lowered), ptx, or dir "
                                          "(kernels.ptx and kernels.tsv in -o DIR)"),
                                 cl::init("dir"), cl::cat(category));
static cl::opt<std::string> output("o", cl::desc("Output directory (--emit=dir) or file"),
                                   cl::cat(category));

static int fail(const Twine &message) {
  WithColor::error(errs(), "lowbit-gpu-kernels") << message << "\n";
  return 1;
}

/// "AxB" as two positive integers.
static bool parseShape(StringRef shape, int64_t &a, int64_t &b) {
  auto [as, bs] = shape.split('x');
  return !as.getAsInteger(10, a) && !bs.getAsInteger(10, b) && a > 0 && b > 0;
}

static Error writeText(StringRef path, StringRef text) {
  return writeFileAtomically(path, [&](raw_pwrite_stream &os) {
    os << text;
    return Error::success();
  });
}

int main(int argc, char **argv) {
  setUpTool(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv, "lowbit-gpu-kernels: GPU kernels as PTX\n");
  std::optional<GpuTarget> gpu = resolveGpuTarget(target);
  if (!gpu)
    return fail("unknown --target '" + target + "' (sm_80 or sm_90)");
  if (emit != "gpu" && emit != "nvvm" && emit != "ptx" && emit != "dir")
    return fail("unknown --emit '" + emit + "' (gpu, nvvm, ptx or dir)");
  if (emit == "dir" && output.empty())
    return fail("--emit=dir needs -o DIR");

  std::optional<GpuWeightFormat> intFormat = parseGpuWeightFormat(weightFormat);
  if (!intFormat || *intFormat == GpuWeightFormat::F16)
    return fail("unknown --format '" + weightFormat +
                "' (q4g128, q8g128, q4g32, q4k, q8g32, q6k, q5g32, q5k, q2k or lut4)");

  std::optional<GpuActivationRounding> rounding = parseGpuActivationRounding(roundingName);
  if (!rounding)
    return fail("unknown --rounding '" + roundingName + "' (b32, q80, q81 or q8k)");

  std::vector<int64_t> tokenCounts(batches.begin(), batches.end());
  if (tokenCounts.empty())
    tokenCounts.push_back(1);
  std::vector<int> variants(rowsPerWarp.begin(), rowsPerWarp.end());
  if (variants.empty())
    variants.push_back(0);
  std::vector<int> mmaVariants(mmaBlockRows.begin(), mmaBlockRows.end());
  if (mmaVariants.empty())
    mmaVariants.push_back(0);
  std::vector<GpuKernelSpec> specs;
  if (!rmsNorms.empty() && !rmsNormEps.getNumOccurrences())
    return fail("--rms-norm needs --rms-norm-eps (the model's epsilon, e.g. 1e-5)");
  for (int64_t k : rmsNorms)
    for (int64_t batch : tokenCounts)
      specs.push_back({GpuKernelOp::RmsNorm, 0, k, batch, 0, rmsNormEps});
  for (int64_t k : swiglus)
    for (int64_t batch : tokenCounts)
      specs.push_back({GpuKernelOp::Swiglu, 0, k, batch, 0});
  for (int64_t k : adds)
    for (int64_t batch : tokenCounts)
      specs.push_back({GpuKernelOp::Add, 0, k, batch, 0});
  for (int64_t k : permutes)
    for (int64_t batch : tokenCounts)
      specs.push_back({GpuKernelOp::PermuteColumns, 0, k, batch, 0});
  for (GpuWeightFormat format : {*intFormat, GpuWeightFormat::F16}) {
    bool f16 = format == GpuWeightFormat::F16;
    for (const std::string &shape : f16 ? f16Embeddings : embeddings) {
      int64_t rows = 0, k = 0;
      if (!parseShape(shape, rows, k))
        return fail(Twine(f16 ? "--embedding-f16 '" : "--embedding '") + shape +
                    "' is not VxK (e.g. 128256x4096)");
      for (int64_t batch : tokenCounts) {
        GpuKernelSpec spec{GpuKernelOp::Embedding, rows, k, batch, 0};
        spec.format = format;
        specs.push_back(spec);
      }
    }
  }
  if ((!ropes.empty() || !halvesRopes.empty()) && !ropeTheta.getNumOccurrences())
    return fail(Twine(ropes.empty() ? "--rope-halves" : "--rope") +
                " needs --rope-theta (the model's theta, e.g. 10000)");
  for (bool halves : {false, true}) {
    for (const std::string &shape : halves ? halvesRopes : ropes) {
      int64_t heads = 0, headDim = 0;
      if (!parseShape(shape, heads, headDim))
        return fail(Twine(halves ? "--rope-halves '" : "--rope '") + shape +
                    "' is not HxD (e.g. 32x128)");
      for (int64_t batch : tokenCounts) {
        GpuKernelSpec spec{GpuKernelOp::Rope, heads, headDim, batch, 0, ropeTheta};
        spec.ropeHalves = halves;
        specs.push_back(spec);
      }
    }
  }
  if (!attentions.empty() && !context.getNumOccurrences())
    return fail("--attention needs --context (the positions of the KV cache, e.g. 4096)");
  for (const std::string &shape : attentions) {
    SmallVector<StringRef, 3> parts;
    StringRef(shape).split(parts, 'x');
    int64_t dims[3] = {0, 0, 0};
    if (parts.size() != 3 || parts[0].getAsInteger(10, dims[0]) ||
        parts[1].getAsInteger(10, dims[1]) || parts[2].getAsInteger(10, dims[2]))
      return fail("--attention '" + shape + "' is not HxKVHxD (e.g. 32x8x128)");
    const int64_t heads = dims[0], kvHeads = dims[1], headDim = dims[2];
    for (int64_t batch : tokenCounts) {
      for (GpuKernelOp op : {GpuKernelOp::AttentionSplit, GpuKernelOp::AttentionCombine}) {
        GpuKernelSpec spec{op, heads, headDim, batch};
        spec.kvHeads = kvHeads;
        spec.context = context;
        specs.push_back(spec);
      }
      // The cache's writer: rows of KV heads × head size.
      GpuKernelSpec store{GpuKernelOp::KvStore, 0, kvHeads * headDim, batch};
      store.context = context;
      specs.push_back(store);
    }
  }
  for (const std::string &shape : linears) {
    int64_t n = 0, k = 0;
    if (!parseShape(shape, n, k))
      return fail("--linear '" + shape + "' is not NxK (e.g. 4096x14336)");
    for (int64_t batch : tokenCounts) {
      // Above 8 tokens the tensor-core kernels; the f16 one reads f32
      // activations, the others int8 from a quantize kernel.
      const bool tensorCores = int8Mma || batch > 8;
      if (int8Mma || !tensorCores) {
        GpuKernelSpec quantize{GpuKernelOp::Quantize, 0, k, batch, 0};
        quantize.rounding = *rounding;
        specs.push_back(quantize);
      }
      for (int rows : tensorCores ? mmaVariants : variants) {
        GpuKernelSpec spec{GpuKernelOp::Linear, n, k, batch, rows};
        spec.format = *intFormat;
        spec.bias = withBias;
        spec.int8Mma = int8Mma;
        specs.push_back(spec);
      }
    }
  }

  // The f16 linears are decode kernels: they take the batches of 1 to 8
  // tokens among --batch (none reads int8 activations: no quantize kernel).
  if (!f16Linears.empty() && llvm::none_of(tokenCounts, [](int64_t b) { return b <= 8; }))
    return fail("--linear-f16 needs a --batch of 1 to 8 tokens");
  for (const std::string &shape : f16Linears) {
    int64_t n = 0, k = 0;
    if (!parseShape(shape, n, k))
      return fail("--linear-f16 '" + shape + "' is not NxK (e.g. 128256x4096)");
    for (int64_t batch : tokenCounts) {
      if (batch > 8)
        continue;
      for (int rows : variants) {
        GpuKernelSpec spec{GpuKernelOp::Linear, n, k, batch, rows};
        spec.format = GpuWeightFormat::F16;
        spec.bias = withBias;
        specs.push_back(spec);
      }
    }
  }

  if (specs.empty())
    return fail("no kernels asked for (--linear, --linear-f16, --rms-norm, --swiglu, --add, "
                "--permute-columns, "
                "--rope, --rope-halves, --attention, --embedding, --embedding-f16)");

  mlir::DialectRegistry registry;
  registerGpuCodegenDialects(registry);
  mlir::MLIRContext context(registry);
  context.loadAllAvailableDialects();
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::ModuleOp::create(mlir::UnknownLoc::get(&context));
  Expected<std::vector<GpuKernelLaunch>> kernels = buildGpuKernels(*module, specs);
  if (!kernels)
    return fail(toString(kernels.takeError()));

  std::string text;
  if (emit == "gpu" || emit == "nvvm") {
    if (emit == "nvvm") {
      mlir::PassManager pm(&context);
      buildGpuKernelLoweringPipeline(pm, *gpu);
      if (mlir::failed(pm.run(*module)))
        return fail("lowering the GPU kernels to NVVM failed");
    }
    raw_string_ostream os(text);
    module->print(os);
  } else {
    Expected<std::string> ptx = emitPtx(*module, *gpu);
    if (!ptx)
      return fail(toString(ptx.takeError()));
    text = std::move(*ptx);
  }
  if (emit != "dir") {
    if (output.empty() || output == "-") {
      outs() << text;
      return 0;
    }
    if (Error e = writeText(output, text))
      return fail(toString(std::move(e)));
    return 0;
  }
  if (std::error_code ec = sys::fs::create_directories(output))
    return fail("cannot create directory '" + output + "': " + ec.message());
  SmallString<256> ptxPath(output), tsvPath(output);
  sys::path::append(ptxPath, "kernels.ptx");
  sys::path::append(tsvPath, "kernels.tsv");
  if (Error e = writeText(ptxPath, text))
    return fail(toString(std::move(e)));
  if (Error e = writeText(tsvPath, gpuKernelManifest(*gpu, *kernels)))
    return fail(toString(std::move(e)));
  errs() << "lowbit-gpu-kernels: " << kernels->size() << " kernels for " << gpu->chip
         << " in " << output << "\n";
  return 0;
}
