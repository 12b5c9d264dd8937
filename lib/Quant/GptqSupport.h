//===- GptqSupport.h - What the GPTQ quantizers share -----------*- C++ -*-===//
//
// Internal to lib/Quant: the Hessian preparation (dead columns, act-order
// permutation, damping, upper Cholesky factor of the inverse) and the row
// splitting that the affine GPTQ (Gptq.cpp) and the ggml-block GPTQ
// (GptqGgml.cpp) both run.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_LIB_QUANT_GPTQSUPPORT_H
#define LOWBIT_LIB_QUANT_GPTQSUPPORT_H

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace lowbit::gptq {

/// Runs body(begin, end, slot) over [0, n) split into one contiguous range
/// per thread (at most encodeThreadCount()); `slot` numbers the ranges.
void parallelFor(int64_t n, int64_t minPerThread,
                 llvm::function_ref<void(int64_t, int64_t, int64_t)> body);

/// `v` printed with %g.
std::string shortNumber(double v);

/// Fails on a non-finite Hessian entry or weight, naming its position.
llvm::Error checkFiniteInputs(const float *w, int64_t rows, int64_t cols,
                              const std::vector<float> &hessian);

/// GPTQ's damping of `hessian` (k × k): dampFraction · mean(diag H), a
/// dead column's zero diagonal counted as 1.
double dampingOf(const std::vector<float> &hessian, int64_t k,
                 double dampFraction);

struct PreparedHessian {
  /// perm[p] is the original column processed at position p.
  std::vector<int64_t> perm;
  /// Columns whose H[k, k] was 0: the input never reached them.
  std::vector<bool> dead;
  int64_t deadColumns = 0;
  /// Upper Cholesky factor U of the damped, permuted H⁻¹ (row-major k × k).
  std::vector<float> hinv;
};

/// Prepares `hessian` (k × k, row-major; consumed) for GPTQ: pins dead
/// columns' diagonals to 1, orders columns by decreasing H[k, k] when
/// `actOrder`, adds dampFraction · mean(diag H) to the diagonal and factors
/// the inverse, in double or, with `singlePrecision`, in float. Fails when
/// H is not positive definite after damping.
llvm::Expected<PreparedHessian> prepareHessian(std::vector<float> hessian,
                                               int64_t k, bool actOrder,
                                               double dampFraction,
                                               bool singlePrecision = false);

} // namespace lowbit::gptq

#endif // LOWBIT_LIB_QUANT_GPTQSUPPORT_H
