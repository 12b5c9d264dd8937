//===- GpuKernels.cpp - The gpu.module of the GPU kernels -----------------===//
#include "GpuEmitter.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;

namespace lowbit {

std::optional<GpuTarget> resolveGpuTarget(StringRef name) {
  if (name == "sm_80")
    return GpuTarget{"sm_80", 80};
  if (name == "sm_90")
    return GpuTarget{"sm_90", 90};
  return std::nullopt;
}

std::string gpuKernelName(const GpuKernelSpec &s) {
  if (s.op == GpuKernelOp::Quantize)
    return llvm::formatv("gpu_quantize_b32_{0}_b{1}", s.k, s.batch).str();
  if (s.batch > kGpuMaxDecodeBatch)
    return llvm::formatv("gpu_linear_mma_q4g128_{0}x{1}_b{2}_r{3}", s.n, s.k, s.batch,
                         gpuMmaBlockRows(s))
        .str();
  int rows = s.rowsPerWarp ? s.rowsPerWarp : defaultRowsPerWarp(s.batch);
  return llvm::formatv("gpu_linear_q4g128_{0}x{1}_b{2}_r{3}", s.n, s.k, s.batch, rows).str();
}

int64_t gpuMmaBlockRows(const GpuKernelSpec &s) {
  return s.rowsPerWarp ? s.rowsPerWarp : 32;
}

int64_t gpuMmaWarpsPerBlock(const GpuKernelSpec &s) {
  // Up to eight warps share a tile's width, as many as split it evenly and
  // whose partial tiles fit in 48 KiB of shared memory.
  int64_t blocks = s.k / 32;
  int64_t fit = 48 * 1024 / (4 * gpuMmaBlockRows(s) * s.batch);
  for (int64_t warps = 8; warps > 1; warps /= 2)
    if (warps <= fit && blocks % warps == 0)
      return warps;
  return 1;
}

static std::string describe(const GpuKernelSpec &s) {
  if (s.op == GpuKernelOp::Quantize)
    return llvm::formatv("quantize of {0} values × {1} tokens", s.k, s.batch).str();
  return llvm::formatv("linear {0}x{1} × {2} tokens", s.n, s.k, s.batch).str();
}

// The shapes the kernels are written for; anything else is refused here
// rather than producing a kernel that reads out of bounds.
static std::optional<std::string> unsupported(const GpuKernelSpec &s) {
  if (s.k <= 0 || s.k % 128)
    return std::string("the input width must be a positive multiple of 128");
  if (s.op == GpuKernelOp::Quantize) {
    if (s.batch < 1 || s.batch > kGpuMaxDecodeBatch)
      return std::string("batches of 1 to 8 tokens only (the decode kernels)");
    return std::nullopt;
  }
  if (s.batch > kGpuMaxDecodeBatch) {
    if (s.batch > 64 || s.batch % 8)
      return std::string("tensor-core batches are multiples of 8 up to 64 tokens");
    int64_t rows = gpuMmaBlockRows(s);
    if (rows != 16 && rows != 32 && rows != 64)
      return std::string("tensor-core rows per block must be 16, 32 or 64");
    if (s.n <= 0 || s.n % rows)
      return llvm::formatv("the output rows must be a multiple of {0} (rows per block)", rows)
          .str();
    return std::nullopt;
  }
  if (s.batch < 1)
    return std::string("a batch needs at least one token");
  int rows = s.rowsPerWarp ? s.rowsPerWarp : defaultRowsPerWarp(s.batch);
  if (rows != 1 && rows != 2 && rows != 4)
    return std::string("rows per warp must be 1, 2 or 4");
  if (s.n <= 0 || s.n % (kGpuDecodeWarpsPerBlock * rows))
    return llvm::formatv("the output rows must be a multiple of {0} ({1} warps × {2} rows)",
                         kGpuDecodeWarpsPerBlock * rows, kGpuDecodeWarpsPerBlock, rows)
        .str();
  return std::nullopt;
}

llvm::Expected<std::vector<GpuKernelLaunch>>
buildGpuKernels(ModuleOp container, ArrayRef<GpuKernelSpec> specs) {
  for (const GpuKernelSpec &s : specs)
    if (std::optional<std::string> why = unsupported(s))
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     "no GPU kernel for the " + describe(s) + ": " + *why);
  MLIRContext *ctx = container.getContext();
  container->setAttr(gpu::GPUDialect::getContainerModuleAttrName(), UnitAttr::get(ctx));
  OpBuilder b(ctx);
  b.setInsertionPointToEnd(container.getBody());
  auto module = gpu::GPUModuleOp::create(b, container.getLoc(), "gpu_kernels");
  std::vector<GpuKernelLaunch> launches;
  llvm::StringSet<> names;
  for (const GpuKernelSpec &s : specs) {
    // A kernel asked for twice is generated once.
    if (!names.insert(gpuKernelName(s)).second)
      continue;
    if (s.op == GpuKernelOp::Quantize)
      launches.push_back(emitGpuQuantizeB32(module, s));
    else if (s.batch > kGpuMaxDecodeBatch)
      launches.push_back(emitGpuMmaLinearQ4G128(module, s));
    else
      launches.push_back(emitGpuLinearQ4G128(module, s));
  }
  return launches;
}

std::string gpuKernelManifest(const GpuTarget &target,
                                      ArrayRef<GpuKernelLaunch> kernels) {
  std::string text = "# target " + target.chip + "\n";
  for (const GpuKernelLaunch &l : kernels) {
    bool linear = l.spec.op == GpuKernelOp::Linear;
    text += llvm::formatv("{0}\t{1}\t{2}\t{3}\t{4}\t{5}\t{6}\t{7}\t{8}\t{9}\t{10}\t{11}\t{12}\n",
                          l.name, linear ? "linear" : "quantize",
                          !linear                                 ? "b32"
                          : l.spec.batch > kGpuMaxDecodeBatch ? "q4g128_mma"
                                                                : "q4g128",
                          linear ? l.spec.n : 0, l.spec.k, l.spec.batch, l.grid[0], l.grid[1],
                          l.grid[2], l.block[0], l.block[1], l.block[2], l.sharedBytes)
                .str();
  }
  return text;
}

} // namespace lowbit
