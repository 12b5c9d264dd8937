//===- GpuPackWeights.h - Weights in the GPU kernels' layouts ---*- C++ -*-===//
//
// The weight section of a GPU artifact holds each matrix in the layout its
// kernels read (docs/gpu.md, "Integer weight formats"). The ggml block
// types keep their values exactly: the codes are re-laid out (5-, 6- and
// 3-bit codes widened to bytes) and the scales copied. NF4 and FP4 take the
// int8 codebook the CPU kernels read them through.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_CODEGEN_GPUPACKWEIGHTS_H
#define LOWBIT_CODEGEN_GPUPACKWEIGHTS_H

#include "lowbit/Codegen/GpuKernels.h"
#include "lowbit/Codegen/WeightPacking.h"
#include "lowbit/Formats/TensorRef.h"
#include "lowbit/Formats/WeightStore.h"

#include <optional>
#include <vector>

namespace lowbit {

/// The GPU layout of a weight the IR types as `encoding`; nullopt where the
/// GPU kernels have none.
std::optional<GpuWeightFormat> gpuWeightFormatOf(const WeightEncoding &encoding);

/// How the quantize kernel before a linear of such a weight rounds its
/// activations: as the CPU artifact's kernels do (ggml's rules for ggml
/// types), so both compute the same products.
GpuActivationRounding gpuActivationRoundingOf(const WeightEncoding &encoding);

/// Packs the ggml blocks of `t` ([rows, cols], type Q3_K, Q4_0, Q4_1, Q4_K,
/// Q5_0, Q5_1, Q5_K, Q6_K or Q8_0) as `format` (the gpuWeightFormatOf of their encoding) into `out`.
/// `file` names the tensor's file in errors.
llvm::Error packGgmlForGpu(GpuWeightFormat format, const TensorRef &t, int64_t rows,
                           int64_t cols, llvm::StringRef file, std::vector<uint8_t> &out);

/// Packs the bitsandbytes 4-bit weight `name` ([rows, cols], NF4 or FP4 as
/// `encoding` says) as lut4: its codes in nibble order, d = absmax/scale per
/// 32 values and the int8 codebook (int8Codebook), so that the GPU computes
/// the products the CPU artifact's integer kernels compute.
llvm::Error packBnb4BitForGpu(const WeightStore &weights, llvm::StringRef name,
                              const WeightEncoding &encoding, int64_t rows, int64_t cols,
                              std::vector<uint8_t> &out);

} // namespace lowbit

#endif // LOWBIT_CODEGEN_GPUPACKWEIGHTS_H
