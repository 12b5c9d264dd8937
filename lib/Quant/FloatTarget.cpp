//===- FloatTarget.cpp - Aim a layer at the float model's output ----------===//
#include "lowbit/Quant/FloatTarget.h"

#include <cblas.h>
#include <lapacke.h>

#include <string>

using namespace lowbit;

llvm::Expected<FloatTarget> FloatTarget::create(const std::vector<float> &hessian,
                                                std::vector<float> shift,
                                                int64_t k, double dampFraction) {
  if (hessian.size() != size_t(k * k) || shift.size() != size_t(k * k))
    return llvm::createStringError("float target: the Hessian and the shift "
                                   "must both be " + std::to_string(k) + "x" +
                                   std::to_string(k));
  FloatTarget target;
  target.k = k;
  target.shift = std::move(shift);
  double meanDiag = 0;
  for (int64_t i = 0; i < k; ++i)
    meanDiag += hessian[size_t(i * k + i)];
  meanDiag /= double(k);
  // A dead input (H[i, i] = 0) still gets the damping.
  double damp = dampFraction * (meanDiag > 0 ? meanDiag : 1.0);
  target.factor.assign(hessian.begin(), hessian.end());
  for (int64_t i = 0; i < k; ++i)
    target.factor[size_t(i * k + i)] += damp;
  // Symmetric: row-major storage is column-major storage.
  lapack_int info = LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'U', lapack_int(k),
                                   target.factor.data(), lapack_int(k));
  if (info != 0)
    return llvm::createStringError(
        "float target: the damped Hessian is not positive definite (LAPACK "
        "info " + std::to_string(info) + ")");
  return target;
}

void FloatTarget::apply(std::vector<float> &w, int64_t rows) const {
  // B = W S, [rows, k] row-major = Bᵀ column-major; solve (H + λI) Zᵀ = Bᵀ.
  std::vector<float> product(size_t(rows * k));
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(rows), int(k),
              int(k), 1.0f, w.data(), int(k), shift.data(), int(k), 0.0f,
              product.data(), int(k));
  std::vector<double> solution(product.begin(), product.end());
  product = {};
  LAPACKE_dpotrs(LAPACK_COL_MAJOR, 'U', lapack_int(k), lapack_int(rows),
                 factor.data(), lapack_int(k), solution.data(), lapack_int(k));
  for (size_t i = 0; i < w.size(); ++i)
    w[i] = float(double(w[i]) + solution[i]);
}
