//===- Kernels.h - Generated kernels in upstream MLIR dialects --*- C++ -*-===//
//
// Builds the kernels an artifact runs as func.func ops over scf, arith,
// vector, math and llvm (pointers and target intrinsics), specialised for
// one shape, one weight layout and one target. Every kernel has the artifact
// ABI (ArtifactFormat.h): @name(%args: !llvm.ptr, %tokens: i64, %thread: i64,
// %threads: i64), args[i] being the i-th pointer of the step. Activation
// buffers hold one row per token of roundUp(width, 32) f32 values.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_CODEGEN_KERNELS_H
#define LOWBIT_CODEGEN_KERNELS_H

#include "lowbit/Codegen/WeightPacking.h"

#include "mlir/IR/BuiltinOps.h"

#include <set>
#include <string>

namespace lowbit {

/// What the generated code may use. The GPU backend adds its own.
struct CpuTarget {
  std::string name;   // x86-64-v3, x86-64-v4, native
  std::string cpu;    // LLVM CPU name
  std::string features; // LLVM feature string
  bool avx512 = false;  // 512-bit registers
  bool vnni = false;    // vpdpbusd (AVX512-VNNI)
  /// cpuid names the artifact requires (checked by the runtime at load).
  std::vector<std::string> requiredFeatures;
};

/// Resolves --target (x86-64-v3, x86-64-v4, native); nullopt if unknown.
std::optional<CpuTarget> resolveCpuTarget(llvm::StringRef name);

/// Row bytes of an activation buffer of `width` f32 values.
inline int64_t activationRowBytes(int64_t width) { return (width + 31) / 32 * 128; }
/// Row bytes of int8-quantized activations of `width` (multiple of 32):
/// codes, then an f32 scale per 32, then d·Σq per 16.
inline int64_t quantizedRowBytes(int64_t width) {
  return width + width / 32 * 4 + width / 16 * 4;
}

/// A real parameter (epsilon, theta) as kernel names spell it, on the CPU
/// and the GPU alike: std::to_string's six decimals, anything not
/// alphanumeric as '_' (1e-5 -> 0_000010).
inline std::string kernelNameNumber(float v) {
  std::string s = std::to_string(v);
  for (char &c : s)
    if (!(c >= '0' && c <= '9') && !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z'))
      c = '_';
  return s;
}

/// Creates each kernel once per distinct specialisation inside `module` and
/// returns its symbol name.
class KernelBuilder {
public:
  KernelBuilder(mlir::ModuleOp module, const CpuTarget &target)
      : module(module), target(target) {}

  /// args: x (f32, or quantized when the layout is Integer), W, [bias],
  /// [residual], out. out = x·Wᵀ (+ bias) (+ residual).
  std::string linear(const PackedLayout &layout, bool bias, bool residual);
  /// args: x, xq. Rounds activations to int8 (WeightPacking.h).
  std::string quantizeActivations(int64_t width, ActivationQuant mode);
  /// args: x, order (i32 tensor), out: out[:, j] = x[:, order[j]].
  std::string permuteColumns(int64_t width);
  /// args: tokens, table, out.
  std::string embedding(const PackedLayout &layout);
  /// args: x, weight (f32 tensor), out.
  std::string rmsNorm(int64_t width, float epsilon);
  /// args: x, weight, xq: rms_norm rounded to int8 as `mode`, for linears
  /// that only read it quantized.
  std::string rmsNormQuantize(int64_t width, float epsilon, ActivationQuant mode);
  /// args: gate, up, xq: swiglu rounded to int8 as `mode`.
  std::string swigluQuantize(int64_t width, ActivationQuant mode);
  /// args: x, positions, out.
  std::string rope(int64_t heads, int64_t headDim, float theta, bool interleaved);
  /// args: k, v, positions, key cache, value cache.
  std::string kvStore(int64_t width);
  /// args: q, positions, key cache, value cache, out.
  std::string attention(int64_t heads, int64_t kvHeads, int64_t headDim);
  /// args: gate, up, out.
  std::string swiglu(int64_t width);
  /// args: lhs, rhs, out.
  std::string add(int64_t width);
  /// args: x, columns (i32 tensor), inliers, outliers.
  std::string splitColumns(int64_t width, int64_t columns);

private:
  /// True the first time `name` is asked for: the caller then builds it.
  bool firstUse(const std::string &name) { return built.insert(name).second; }

  mlir::ModuleOp module;
  CpuTarget target;
  std::set<std::string> built;
};

} // namespace lowbit

#endif // LOWBIT_CODEGEN_KERNELS_H
