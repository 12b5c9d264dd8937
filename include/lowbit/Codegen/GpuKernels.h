//===- GpuKernels.h - Kernels for NVIDIA GPUs, as PTX -----------*- C++ -*-===//
//
// The GPU side of the kernel level: kernels written in the upstream gpu,
// arith, scf and llvm dialects (NVVM intrinsics through llvm.call_intrinsic)
// inside a `gpu.module`, lowered to NVVM and serialized to PTX by
// gpu-module-to-binary. The kernel ABI (arguments, layouts, launch shapes)
// is docs/gpu.md's.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_CODEGEN_GPUKERNELS_H
#define LOWBIT_CODEGEN_GPUKERNELS_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/Error.h"

#include <array>
#include <optional>
#include <string>
#include <vector>

namespace lowbit {

/// An NVIDIA GPU generation: its PTX chip name ("sm_90") and number (90).
struct GpuTarget {
  std::string chip;
  int sm = 0;
};
/// sm_80 or sm_90; nullopt for anything else.
std::optional<GpuTarget> resolveGpuTarget(llvm::StringRef name);

enum class GpuKernelOp {
  Quantize,
  Linear,
  RmsNorm,
  Swiglu,
  Add,
  Rope,
  AttentionSplit,
  AttentionCombine,
  KvStore,
  Embedding,
  PermuteColumns,
};

/// The weight layout a linear or an embedding reads (docs/gpu.md):
/// - Q4G128: affine int4, (d, m) f16 per 128 values (GPTQ, AWQ, RTN w4g128);
/// - F16: IEEE half values;
/// - Q4G32: affine int4, (d, m) f16 per 32 values (ggml's q4_0 and q4_1);
/// - Q4K: int4 with u8 (scale, min) per 32 values and f16 (d, dmin) per 256
///   (ggml's q4_k, exactly);
/// - Q8G32: int8 with an f16 scale per 32 values (ggml's q8_0);
/// - Q6K: int8 codes with int8 scales per 16 values and f16 d per 256
///   (ggml's q6_k and q3_k, their codes less the offset widened to bytes);
/// - Q5G32: unsigned byte codes, (d, m) f16 per 32 values (q5_0, q5_1);
/// - Q5K: unsigned byte codes, Q4K's parameters (q5_k);
/// - Q2K: 4-bit codes (0..3), u8 (scale, min) per 16 values, f16 (d, dmin)
///   per 256 (q2_k);
/// - Q8G128: affine int8, signed codes (q − 128) with (d, m) f32 per 128
///   values (GPTQ, RTN w8g128);
/// - Lut4: 4-bit codes into a 16-entry int8 table the weight carries, an f32
///   scale per 32 values (bitsandbytes' NF4 and FP4, through the int8
///   codebook the CPU kernels use).
enum class GpuWeightFormat { Q4G128, F16, Q4G32, Q4K, Q8G32, Q6K, Q5G32, Q5K, Q2K, Q8G128, Lut4 };

/// How a quantize kernel rounds activations to int8 for the integer linears
/// (docs/gpu.md), as the CPU artifact's kernels do for the same weights:
/// - B32: blocks of 32, f32 d = absmax/127 (affine int4, GPTQ/AWQ);
/// - Q8_0: the same with d rounded to f16 (ggml's q8_0: q4_0, q8_0 weights);
/// - Q8_1: Q8_0 whose block sum is rounded to f16 (q4_1 weights);
/// - Q8_K: blocks of 256, the value of largest magnitude at −127 (k-quants).
enum class GpuActivationRounding { B32, Q8_0, Q8_1, Q8_K };

inline constexpr GpuActivationRounding kGpuActivationRoundings[] = {
    GpuActivationRounding::B32, GpuActivationRounding::Q8_0, GpuActivationRounding::Q8_1,
    GpuActivationRounding::Q8_K};

/// The rounding's name in kernel names ("b32", "q80", "q81", "q8k").
llvm::StringRef gpuActivationRoundingName(GpuActivationRounding rounding);
/// The rounding of a name; nullopt for an unknown one.
std::optional<GpuActivationRounding> parseGpuActivationRounding(llvm::StringRef name);

/// The format's name in kernel names and kernels.tsv ("q4g128", "f16", ...).
llvm::StringRef gpuWeightFormatName(GpuWeightFormat format);
/// The format of a name; nullopt for an unknown one.
std::optional<GpuWeightFormat> parseGpuWeightFormat(llvm::StringRef name);
/// The multiple of values every row of the format holds (32, 128 or 256).
int64_t gpuWeightFormatRowMultiple(GpuWeightFormat format);

/// One kernel to generate. Linear: `n`×`k` weights over `batch` tokens, in
/// `format`: an integer format (q4g128, q8g128 and the ggml ones) over the
/// int8 activations of a quantize kernel, each warp owning `rowsPerWarp`
/// rows (0: the default for the batch), and for q4g128 above 8 tokens the
/// tensor-core kernel, whose blocks own `rowsPerWarp` rows (16, 32 or 64;
/// 0: 32), or with `int8Mma` the int8 tensor-core kernel; or f16 (1 to 8 tokens of f32 activations, no quantize kernel),
/// `rowsPerWarp` as q4g128's. Quantize: `batch` rows of `k` f32 activations
/// to int8 blocks of 32, as `rounding` says. RmsNorm: `batch` rows of `k` values, epsilon
/// `param`. Swiglu: `batch` rows of `k` gate and up values. Add: `batch`
/// rows of `k` values, summed. PermuteColumns: `batch` rows of `k` values
/// gathered through an i32 order (act-order linears). Embedding: `batch` token ids looked up in an
/// `n`×`k` table in `format` (any). Rope: `batch` rows of `n`
/// heads × `k` values rotated in adjacent pairs, or with `ropeHalves` each
/// value i of the first half of a head with value i + k/2, theta `param`.
/// AttentionSplit and AttentionCombine: the two kernels of decode attention
/// for `batch` tokens of `n` query heads of size `k` over `kvHeads` f16 key
/// and value heads, `context` positions. KvStore: `batch` rows of `k` key
/// and value values into an f16 cache of `context` positions.
struct GpuKernelSpec {
  GpuKernelOp op = GpuKernelOp::Linear;
  int64_t n = 0, k = 0, batch = 1;
  int rowsPerWarp = 0;
  float param = 0;
  int64_t kvHeads = 0, context = 0;
  /// Linear and Embedding: the weight's layout.
  GpuWeightFormat format = GpuWeightFormat::Q4G128;
  /// Rope: rotate element i with i + D/2 (Hugging Face's rotate_half)
  /// instead of adjacent pairs.
  bool ropeHalves = false;
  /// Quantize: how it rounds.
  GpuActivationRounding rounding = GpuActivationRounding::B32;
  /// Decode linears: add an f32 bias per output row (a fourth argument),
  /// as Qwen2's q/k/v projections have.
  bool bias = false;
  /// Integer linears of 8 to 64 tokens (a multiple of 8) on int8 tensor
  /// cores: the decode kernels' weights and quantized activations, blocks
  /// of `rowsPerWarp` rows as the q4g128 tensor-core kernel's (any integer
  /// format but lut4; a bias allowed).
  bool int8Mma = false;
};

/// The most tokens the decode kernels (integer and f16 linears) take; more
/// run on tensor cores.
inline constexpr int64_t kGpuMaxDecodeBatch = 8;

/// The symbol of the kernel a spec asks for: two specs of one name are one
/// kernel.
std::string gpuKernelName(const GpuKernelSpec &spec);

/// A generated kernel and how to launch it.
struct GpuKernelLaunch {
  std::string name;
  GpuKernelSpec spec;
  std::array<int64_t, 3> grid{1, 1, 1}, block{1, 1, 1};
  int64_t sharedBytes = 0;
};

/// The rows a warp owns when the spec leaves it to the generator.
int defaultRowsPerWarp(int64_t batch);

/// Adds `gpu.module @gpu_kernels` to `container` (marking it a
/// gpu.container_module) with one gpu.func per spec. Fails, naming the spec,
/// on a shape the kernels do not cover.
llvm::Expected<std::vector<GpuKernelLaunch>>
buildGpuKernels(mlir::ModuleOp container, llvm::ArrayRef<GpuKernelSpec> specs);

/// The conversions of the gpu.module's kernels to the NVVM and llvm
/// dialects, then the #nvvm.target of `target` attached to it.
void buildGpuKernelLoweringPipeline(mlir::OpPassManager &pm, const GpuTarget &target);

/// Lowers `container`'s gpu.module and serializes it to PTX.
llvm::Expected<std::string> emitPtx(mlir::ModuleOp container, const GpuTarget &target);

/// Registers the dialects and translations the GPU kernels need.
void registerGpuCodegenDialects(mlir::DialectRegistry &registry);

/// kernels.tsv (docs/gpu.md): one line per kernel.
std::string gpuKernelManifest(const GpuTarget &target,
                              llvm::ArrayRef<GpuKernelLaunch> kernels);

} // namespace lowbit

#endif // LOWBIT_CODEGEN_GPUKERNELS_H
