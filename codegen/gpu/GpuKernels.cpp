//===- GpuKernels.cpp - The gpu.module of the GPU kernels -----------------===//
#include "GpuEmitter.h"

#include "lowbit/Codegen/Kernels.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>
#include <string>

using namespace mlir;

namespace lowbit {

std::optional<GpuTarget> resolveGpuTarget(StringRef name) {
  if (name == "sm_80")
    return GpuTarget{"sm_80", 80};
  if (name == "sm_90")
    return GpuTarget{"sm_90", 90};
  return std::nullopt;
}

StringRef gpuWeightFormatName(GpuWeightFormat format) {
  switch (format) {
  case GpuWeightFormat::Q4G128:
    return "q4g128";
  case GpuWeightFormat::F16:
    return "f16";
  case GpuWeightFormat::Q4G32:
    return "q4g32";
  case GpuWeightFormat::Q4K:
    return "q4k";
  case GpuWeightFormat::Q8G32:
    return "q8g32";
  case GpuWeightFormat::Q6K:
    return "q6k";
  case GpuWeightFormat::Q5G32:
    return "q5g32";
  case GpuWeightFormat::Q5K:
    return "q5k";
  case GpuWeightFormat::Q2K:
    return "q2k";
  case GpuWeightFormat::Q8G128:
    return "q8g128";
  case GpuWeightFormat::Lut4:
    return "lut4";
  }
  llvm_unreachable("every format has a name");
}

StringRef gpuActivationRoundingName(GpuActivationRounding rounding) {
  switch (rounding) {
  case GpuActivationRounding::B32:
    return "b32";
  case GpuActivationRounding::Q8_0:
    return "q80";
  case GpuActivationRounding::Q8_1:
    return "q81";
  case GpuActivationRounding::Q8_K:
    return "q8k";
  }
  llvm_unreachable("every rounding has a name");
}

std::optional<GpuActivationRounding> parseGpuActivationRounding(StringRef name) {
  for (GpuActivationRounding r : kGpuActivationRoundings)
    if (gpuActivationRoundingName(r) == name)
      return r;
  return std::nullopt;
}

std::optional<GpuWeightFormat> parseGpuWeightFormat(StringRef name) {
  for (GpuWeightFormat f : {GpuWeightFormat::Q4G128, GpuWeightFormat::F16, GpuWeightFormat::Q4G32,
                            GpuWeightFormat::Q4K, GpuWeightFormat::Q8G32, GpuWeightFormat::Q6K,
                            GpuWeightFormat::Q5G32, GpuWeightFormat::Q5K, GpuWeightFormat::Q2K,
                            GpuWeightFormat::Q8G128, GpuWeightFormat::Lut4})
    if (gpuWeightFormatName(f) == name)
      return f;
  return std::nullopt;
}

int64_t gpuWeightFormatRowMultiple(GpuWeightFormat format) {
  switch (format) {
  case GpuWeightFormat::Q4G128:
  case GpuWeightFormat::Q8G128:
    return 128;
  case GpuWeightFormat::Q2K:
  case GpuWeightFormat::Q4K:
  case GpuWeightFormat::Q5K:
  case GpuWeightFormat::Q6K:
    return 256;
  default:
    return 32;
  }
}

// The weight format matters to linears and embeddings only.
static bool f16(const GpuKernelSpec &s) { return s.format == GpuWeightFormat::F16; }
static StringRef formatName(const GpuKernelSpec &s) { return gpuWeightFormatName(s.format); }

std::string gpuKernelName(const GpuKernelSpec &s) {
  // The row kernels are named as their CPU counterparts, gpu_ before and
  // the batch after.
  switch (s.op) {
  case GpuKernelOp::Quantize:
    return llvm::formatv("gpu_quantize_{0}_{1}_b{2}", gpuActivationRoundingName(s.rounding), s.k,
                         s.batch)
        .str();
  case GpuKernelOp::RmsNorm:
    return llvm::formatv("gpu_rms_norm_{0}_{1}_b{2}", s.k, kernelNameNumber(s.param), s.batch).str();
  case GpuKernelOp::Swiglu:
    return llvm::formatv("gpu_swiglu_{0}_b{1}", s.k, s.batch).str();
  case GpuKernelOp::Add:
    return llvm::formatv("gpu_add_{0}_b{1}", s.k, s.batch).str();
  case GpuKernelOp::PermuteColumns:
    return llvm::formatv("gpu_permute_columns_{0}_b{1}", s.k, s.batch).str();
  case GpuKernelOp::Embedding:
    return llvm::formatv("gpu_embedding_{0}_{1}x{2}_b{3}", formatName(s), s.n, s.k,
                         s.batch)
        .str();
  case GpuKernelOp::KvStore:
    return llvm::formatv("gpu_kv_store_{0}_c{1}_b{2}", s.k, s.context, s.batch).str();
  case GpuKernelOp::Rope:
    return llvm::formatv("gpu_rope_{0}x{1}_{2}_{3}_b{4}", s.n, s.k, kernelNameNumber(s.param),
                         s.ropeHalves ? "halves" : "pairs", s.batch)
        .str();
  case GpuKernelOp::AttentionSplit:
  case GpuKernelOp::AttentionCombine:
    return llvm::formatv("gpu_attention_{0}_{1}_{2}_{3}_c{4}_b{5}",
                         s.op == GpuKernelOp::AttentionSplit ? "split" : "combine", s.n,
                         s.kvHeads, s.k, s.context, s.batch)
        .str();
  case GpuKernelOp::Linear:
    break;
  }
  if (s.int8Mma)
    return llvm::formatv("gpu_linear_imma_{0}_{1}x{2}{3}_b{4}_r{5}", formatName(s), s.n, s.k,
                         s.bias ? "_bias" : "", s.batch, gpuMmaBlockRows(s))
        .str();
  if (s.batch > kGpuMaxDecodeBatch && s.format == GpuWeightFormat::Q4G128)
    return llvm::formatv("gpu_linear_mma_q4g128_{0}x{1}_b{2}_r{3}", s.n, s.k, s.batch,
                         gpuMmaBlockRows(s))
        .str();
  int rows = s.rowsPerWarp ? s.rowsPerWarp : defaultRowsPerWarp(s.batch);
  return llvm::formatv("gpu_linear_{0}_{1}x{2}{3}_b{4}_r{5}", formatName(s), s.n, s.k,
                       s.bias ? "_bias" : "", s.batch, rows)
      .str();
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
  switch (s.op) {
  case GpuKernelOp::Quantize:
    return llvm::formatv("quantize ({0}) of {1} values × {2} tokens",
                         gpuActivationRoundingName(s.rounding), s.k, s.batch)
        .str();
  case GpuKernelOp::RmsNorm:
    return llvm::formatv("rms_norm of {0} values × {1} tokens", s.k, s.batch).str();
  case GpuKernelOp::Swiglu:
    return llvm::formatv("swiglu of {0} values × {1} tokens", s.k, s.batch).str();
  case GpuKernelOp::Add:
    return llvm::formatv("add of {0} values × {1} tokens", s.k, s.batch).str();
  case GpuKernelOp::PermuteColumns:
    return llvm::formatv("column permutation of {0} values × {1} tokens", s.k, s.batch).str();
  case GpuKernelOp::Embedding:
    return llvm::formatv("{0} embedding of {1}x{2} × {3} tokens", formatName(s), s.n, s.k,
                         s.batch)
        .str();
  case GpuKernelOp::KvStore:
    return llvm::formatv("kv_store of {0} values × {1} tokens, context {2}", s.k, s.batch,
                         s.context)
        .str();
  case GpuKernelOp::Rope:
    return llvm::formatv("rope{0} of {1}x{2} × {3} tokens", s.ropeHalves ? " (halves)" : "", s.n,
                         s.k, s.batch)
        .str();
  case GpuKernelOp::AttentionSplit:
  case GpuKernelOp::AttentionCombine:
    return llvm::formatv("attention of {0} heads over {1} KV heads of {2} values, context {3}, "
                         "× {4} tokens",
                         s.n, s.kvHeads, s.k, s.context, s.batch)
        .str();
  case GpuKernelOp::Linear:
    break;
  }
  return llvm::formatv("{0} linear {1}x{2}{3} × {4} tokens{5}", formatName(s), s.n, s.k,
                       s.bias ? " with a bias" : "", s.batch,
                       s.int8Mma ? " (int8 tensor cores)" : "")
      .str();
}

// Two parameters that print alike would make two kernels of one name, so
// only values the name's six decimals hold exactly are taken.
static std::optional<std::string> inexactInName(StringRef what, float v) {
  std::string decimals = std::to_string(v);
  if (std::strtof(decimals.c_str(), nullptr) == v)
    return std::nullopt;
  std::string text;
  llvm::raw_string_ostream(text) << what << " " << llvm::format("%g", double(v))
                                 << " is not exact in the kernel name's six decimals ("
                                 << decimals << ")";
  return text;
}

static std::optional<std::string> unsupportedRowKernel(const GpuKernelSpec &s) {
  if (s.batch < 1 || s.batch > kGpuMaxRowBatch)
    return llvm::formatv("batches of 1 to {0} tokens only (as the linears)", kGpuMaxRowBatch)
        .str();
  if (s.op == GpuKernelOp::AttentionSplit || s.op == GpuKernelOp::AttentionCombine) {
    if (s.n <= 0 || s.kvHeads <= 0 || s.n % s.kvHeads)
      return std::string("the query heads must be a positive multiple of the KV heads");
    // A lane holds D/32 values, loaded as one 4-, 8- or 16-byte vector of f16.
    if (s.k != 64 && s.k != 128 && s.k != 256)
      return std::string("head sizes 64, 128 or 256 only");
    if (s.context <= 0 || s.context % kGpuAttentionSplit || s.context > kGpuAttentionMaxContext)
      return llvm::formatv("the context must be a multiple of {0} up to {1}", kGpuAttentionSplit,
                           kGpuAttentionMaxContext)
          .str();
    return std::nullopt;
  }
  if (s.op == GpuKernelOp::Rope) {
    if (s.n <= 0)
      return std::string("a rope needs at least one head");
    if (s.k <= 0 || s.k % 2)
      return std::string("the head size must be a positive even number (pairs)");
    if (!(s.param > 0))
      return std::string("theta must be positive");
    return inexactInName("theta", s.param);
  }
  if (s.op == GpuKernelOp::Embedding) {
    if (s.n <= 0 || s.n > INT32_MAX)
      return std::string("the table needs 1 to 2^31 - 1 rows (int32 token ids)");
    if (s.format == GpuWeightFormat::Lut4)
      return std::string("lut4 tables (NF4, FP4) have no embedding kernel: bitsandbytes keeps "
                         "embeddings in float");
    if (f16(s)) {
      // One thread per 8 values; rows of whole chunks of 32 as the others.
      if (s.k <= 0 || s.k % 32)
        return std::string("the width must be a positive multiple of 32");
      return std::nullopt;
    }
    int64_t multiple = gpuWeightFormatRowMultiple(s.format);
    if (s.k <= 0 || s.k % multiple)
      return llvm::formatv("the width must be a positive multiple of {0} ({1} blocks)", multiple,
                           formatName(s))
          .str();
    return std::nullopt;
  }
  if (s.op == GpuKernelOp::KvStore && (s.context <= 0 || s.context > kGpuAttentionMaxContext))
    return llvm::formatv("the context must be 1 to {0} positions", kGpuAttentionMaxContext).str();
  // The CPU kernels read rows in chunks of 32 values.
  if (s.k <= 0 || s.k % 32)
    return std::string("the width must be a positive multiple of 32");
  if (s.op == GpuKernelOp::RmsNorm) {
    if (s.k > kGpuRmsNormMaxWidth)
      return llvm::formatv("rows of at most {0} values (a block holds its row in registers)",
                           kGpuRmsNormMaxWidth)
          .str();
    if (!(s.param >= 0))
      return std::string("epsilon must be at least 0");
    return inexactInName("epsilon", s.param);
  }
  return std::nullopt;
}

static GpuKernelLaunch emitKernel(gpu::GPUModuleOp module, const GpuKernelSpec &s) {
  switch (s.op) {
  case GpuKernelOp::Quantize:
    return s.rounding == GpuActivationRounding::Q8_K ? emitGpuQuantizeQ8K(module, s)
                                                     : emitGpuQuantizeB32(module, s);
  case GpuKernelOp::Linear:
    if (f16(s))
      return emitGpuLinearF16(module, s);
    if (s.int8Mma)
      return emitGpuInt8MmaLinear(module, s);
    return s.batch > kGpuMaxDecodeBatch ? emitGpuMmaLinearQ4G128(module, s)
                                        : emitGpuLinearInt(module, s);
  case GpuKernelOp::RmsNorm:
    return emitGpuRmsNorm(module, s);
  case GpuKernelOp::Swiglu:
    return emitGpuSwiglu(module, s);
  case GpuKernelOp::Add:
    return emitGpuAdd(module, s);
  case GpuKernelOp::PermuteColumns:
    return emitGpuPermuteColumns(module, s);
  case GpuKernelOp::Rope:
    return emitGpuRope(module, s);
  case GpuKernelOp::AttentionSplit:
    return emitGpuAttentionSplit(module, s);
  case GpuKernelOp::AttentionCombine:
    return emitGpuAttentionCombine(module, s);
  case GpuKernelOp::KvStore:
    return emitGpuKvStore(module, s);
  case GpuKernelOp::Embedding:
    return f16(s) ? emitGpuEmbeddingF16(module, s) : emitGpuEmbeddingInt(module, s);
  }
  llvm_unreachable("every GpuKernelOp has an emitter");
}

static std::optional<std::string> unsupportedRowsPerWarp(const GpuKernelSpec &s) {
  int rows = s.rowsPerWarp ? s.rowsPerWarp : defaultRowsPerWarp(s.batch);
  if (rows != 1 && rows != 2 && rows != 4)
    return std::string("rows per warp must be 1, 2 or 4");
  return std::nullopt;
}

// Any N: the rows past it are guarded.
static std::optional<std::string> unsupportedF16Linear(const GpuKernelSpec &s) {
  if (s.batch < 1 || s.batch > kGpuMaxDecodeBatch)
    return llvm::formatv("f16 linears take batches of 1 to {0} tokens", kGpuMaxDecodeBatch).str();
  // Each lane takes chunks of 8 values; activation rows hold chunks of 32.
  if (s.k <= 0 || s.k % 32)
    return std::string("the input width must be a positive multiple of 32");
  if (s.n <= 0 || s.n > INT32_MAX)
    return std::string("the output rows must be 1 to 2^31 - 1");
  return unsupportedRowsPerWarp(s);
}

static std::optional<std::string> unsupportedMmaTiles(const GpuKernelSpec &s) {
  if (s.batch < 8 || s.batch > 64 || s.batch % 8)
    return std::string("tensor-core batches are multiples of 8 up to 64 tokens");
  int64_t rows = gpuMmaBlockRows(s);
  if (rows != 16 && rows != 32 && rows != 64)
    return std::string("tensor-core rows per block must be 16, 32 or 64");
  if (s.n <= 0 || s.n % rows)
    return llvm::formatv("the output rows must be a multiple of {0} (rows per block)", rows)
        .str();
  return std::nullopt;
}

// lut4's codes are nibble i = value i, not the other formats' byte j = (j,
// 16 + j) that the A fragments are cut from, and go through a table.
static std::optional<std::string> unsupportedInt8Mma(const GpuKernelSpec &s) {
  if (s.format == GpuWeightFormat::Lut4)
    return std::string("lut4 (NF4, FP4) has no int8 tensor-core kernel");
  if (std::optional<std::string> why = unsupportedMmaTiles(s))
    return why;
  // Each lane keeps 4 f32 accumulators per 16 rows × 8 tokens: at most 64
  // leave room for the fragments and scales (ptxas spills beyond).
  if (gpuMmaBlockRows(s) * s.batch > 32 * 64)
    return std::string("int8 tensor-core blocks hold at most 2048 rows × tokens (64 rows "
                       "take at most 32 tokens)");
  return std::nullopt;
}

// The shapes the kernels are written for; anything else is refused here
// rather than producing a kernel that reads out of bounds.
static std::optional<std::string> unsupported(const GpuKernelSpec &s) {
  if (s.op != GpuKernelOp::Linear && s.op != GpuKernelOp::Quantize)
    return unsupportedRowKernel(s);
  if (s.op == GpuKernelOp::Linear && f16(s))
    return unsupportedF16Linear(s);
  if (s.k <= 0 || s.k % 128)
    return std::string("the input width must be a positive multiple of 128");
  if (s.op == GpuKernelOp::Linear && s.k % gpuWeightFormatRowMultiple(s.format))
    return llvm::formatv("the input width must be a multiple of {0} ({1} blocks)",
                         gpuWeightFormatRowMultiple(s.format), formatName(s))
        .str();
  if (s.op == GpuKernelOp::Quantize) {
    if (s.batch < 1 || s.batch > kGpuMaxRowBatch)
      return llvm::formatv("batches of 1 to {0} tokens only (as the linears)", kGpuMaxRowBatch)
          .str();
    if (s.rounding == GpuActivationRounding::Q8_K && s.k % 256)
      return std::string("q8k rounds blocks of 256 values: the width must be a multiple of 256");
    return std::nullopt;
  }
  if (s.int8Mma)
    return unsupportedInt8Mma(s);
  if (s.batch > kGpuMaxDecodeBatch && s.format != GpuWeightFormat::Q4G128)
    return llvm::formatv("{0} linears take batches of 1 to {1} tokens (tensor cores: q4g128 only)",
                         formatName(s), kGpuMaxDecodeBatch)
        .str();
  if (s.batch > kGpuMaxDecodeBatch) {
    if (s.bias)
      return std::string("f16 tensor-core linears take no bias (the int8 ones do)");
    return unsupportedMmaTiles(s);
  }
  if (s.batch < 1)
    return std::string("a batch needs at least one token");
  if (std::optional<std::string> why = unsupportedRowsPerWarp(s))
    return why;
  int rows = s.rowsPerWarp ? s.rowsPerWarp : defaultRowsPerWarp(s.batch);
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
    launches.push_back(emitKernel(module, s));
  }
  return launches;
}

// kernels.tsv's op and format columns.
static std::pair<const char *, const char *> manifestOp(const GpuKernelSpec &s) {
  switch (s.op) {
  case GpuKernelOp::Quantize:
    return {"quantize", gpuActivationRoundingName(s.rounding).data()};
  case GpuKernelOp::RmsNorm:
    return {"rms_norm", "f32"};
  case GpuKernelOp::Swiglu:
    return {"swiglu", "f32"};
  case GpuKernelOp::Add:
    return {"add", "f32"};
  case GpuKernelOp::PermuteColumns:
    return {"permute_columns", "f32"};
  case GpuKernelOp::Embedding:
    return {"embedding", formatName(s).data()};
  case GpuKernelOp::KvStore:
    return {"kv_store", "f16kv"};
  case GpuKernelOp::Rope:
    return {"rope", s.ropeHalves ? "halves" : "pairs"};
  case GpuKernelOp::AttentionSplit:
    return {"attention_split", "f16kv"};
  case GpuKernelOp::AttentionCombine:
    return {"attention_combine", "f16kv"};
  case GpuKernelOp::Linear:
    break;
  }
  if (s.int8Mma)
    return {"linear_imma", formatName(s).data()};
  if (s.batch > kGpuMaxDecodeBatch && s.format == GpuWeightFormat::Q4G128)
    return {"linear", "q4g128_mma"};
  return {"linear", formatName(s).data()};
}

std::string gpuKernelManifest(const GpuTarget &target, ArrayRef<GpuKernelLaunch> kernels) {
  std::string text = "# target " + target.chip + "\n";
  for (const GpuKernelLaunch &l : kernels) {
    auto [op, format] = manifestOp(l.spec);
    bool hasN = l.spec.op != GpuKernelOp::Quantize && l.spec.op != GpuKernelOp::RmsNorm &&
                l.spec.op != GpuKernelOp::Swiglu && l.spec.op != GpuKernelOp::Add &&
                l.spec.op != GpuKernelOp::KvStore && l.spec.op != GpuKernelOp::PermuteColumns;
    // The parameter as the name spells it, which reads back as the same float.
    text += llvm::formatv("{0}\t{1}\t{2}\t{3}\t{4}\t{5}\t{6}\t{7}\t{8}\t{9}\t{10}\t{11}\t{12}"
                          "\t{13}\t{14}\t{15}\n",
                          l.name, op, format, hasN ? l.spec.n : 0, l.spec.k, l.spec.batch,
                          l.grid[0], l.grid[1], l.grid[2], l.block[0], l.block[1], l.block[2],
                          l.sharedBytes, std::to_string(l.spec.param), l.spec.kvHeads,
                          l.spec.context)
                .str();
  }
  return text;
}

} // namespace lowbit
