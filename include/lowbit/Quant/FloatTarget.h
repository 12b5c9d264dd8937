//===- FloatTarget.h - Aim a layer at the float model's output --*- C++ -*-===//
//
// GPTQ calibrates each layer on the inputs X the already quantized layers
// produce and minimises ‖(W − Ŵ) X‖: it reproduces what the float weights
// would do on those inputs, and lets the error of the layers before pass
// through. Aiming at the float model's output W X_f instead, the objective
// ‖Ŵ X − W X_f‖² equals ‖(Ŵ − W*) X‖² plus a constant, with
//   W* = W + W S (H + λI)⁻¹,  S = 2 (X_f − X)ᵀ X / n,  H = 2 XᵀX / n,
// so any Hessian-based quantizer reaches it by quantizing W* instead of W.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_QUANT_FLOATTARGET_H
#define LOWBIT_QUANT_FLOATTARGET_H

#include "llvm/Support/Error.h"

#include <cstdint>
#include <vector>

namespace lowbit {

class FloatTarget {
public:
  /// Factors H + λI, λ = dampFraction · mean(diag H), for `shift` = S (both
  /// k × k, row-major). Fails when it is not positive definite.
  static llvm::Expected<FloatTarget> create(const std::vector<float> &hessian,
                                            std::vector<float> shift, int64_t k,
                                            double dampFraction);

  /// Replaces the row-major [rows, k] weights `w` by W*.
  void apply(std::vector<float> &w, int64_t rows) const;

private:
  int64_t k = 0;
  std::vector<float> shift;
  std::vector<double> factor; // Cholesky factor of H + λI, column-major
};

} // namespace lowbit

#endif // LOWBIT_QUANT_FLOATTARGET_H
