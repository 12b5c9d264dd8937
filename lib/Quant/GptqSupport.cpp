//===- GptqSupport.cpp - What the GPTQ quantizers share --------------------===//
//
// Factorizations run in double: calibration Hessians are often badly
// conditioned, and float loses the small pivots.
//
//===----------------------------------------------------------------------===//
#include "GptqSupport.h"
#include "lowbit/Quant/Encode.h"

#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <thread>

using namespace lowbit;
using llvm::createStringError;

void gptq::parallelFor(int64_t n, int64_t minPerThread,
                       llvm::function_ref<void(int64_t, int64_t, int64_t)> body) {
  int64_t threads = std::min<int64_t>(encodeThreadCount(),
                                      std::max<int64_t>(1, n / minPerThread));
  int64_t chunk = (n + threads - 1) / threads;
  std::vector<std::thread> pool;
  for (int64_t t = 1; t < threads; ++t) {
    int64_t begin = t * chunk, end = std::min(n, begin + chunk);
    if (begin < end)
      pool.emplace_back([=] { body(begin, end, t); });
  }
  body(0, std::min(n, chunk), 0);
  for (std::thread &t : pool)
    t.join();
}

std::string gptq::shortNumber(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%g", v);
  return buffer;
}

llvm::Error gptq::checkFiniteInputs(const float *w, int64_t rows, int64_t cols,
                                    const std::vector<float> &hessian) {
  const int64_t k = cols;
  for (int64_t i = 0; i < k * k; ++i)
    if (!std::isfinite(hessian[size_t(i)]))
      return createStringError("Hessian entry (" + std::to_string(i / k) +
                               ", " + std::to_string(i % k) +
                               ") is not finite");
  for (int64_t i = 0; i < rows * k; ++i)
    if (!std::isfinite(w[i]))
      return createStringError("weight (" + std::to_string(i / k) + ", " +
                               std::to_string(i % k) + ") is not finite");
  return llvm::Error::success();
}

namespace {
/// The upper Cholesky factor U of H⁻¹ (H⁻¹ = UᵀU) as row-major floats, for
/// the permuted and damped Hessian `h` (row-major, symmetric, destroyed).
llvm::Expected<std::vector<float>>
inverseCholeskyUpper(std::vector<double> &h, int64_t k, double damp) {
  auto notPositiveDefinite = [&](lapack_int minor) {
    return createStringError(
        "the Hessian is not positive definite after damping (leading minor " +
        std::to_string(minor) + " of " + std::to_string(k) +
        "); raise the damp fraction (now " + gptq::shortNumber(damp) +
        ") or calibrate on more tokens");
  };
  // h is symmetric, so its row-major storage is also its column-major
  // storage; column-major LAPACK avoids LAPACKE's transposed copies.
  lapack_int n = lapack_int(k);
  lapack_int info = LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'U', n, h.data(), n);
  if (info > 0)
    return notPositiveDefinite(info);
  if (info == 0)
    info = LAPACKE_dpotri(LAPACK_COL_MAJOR, 'U', n, h.data(), n);
  if (info > 0)
    return notPositiveDefinite(info);
  // potri leaves H⁻¹ in the upper triangle, which potrf 'U' reads.
  if (info == 0)
    info = LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'U', n, h.data(), n);
  if (info > 0)
    return notPositiveDefinite(info);
  if (info < 0)
    return createStringError("LAPACK rejected argument " +
                             std::to_string(-info) +
                             " while inverting the Hessian");
  // Column-major U[i][j] lives at j·k + i.
  std::vector<float> u(size_t(k * k), 0.0f);
  for (int64_t j = 0; j < k; ++j)
    for (int64_t i = 0; i <= j; ++i)
      u[size_t(i * k + j)] = float(h[size_t(j * k + i)]);
  return u;
}

} // namespace

llvm::Expected<gptq::PreparedHessian>
gptq::prepareHessian(std::vector<float> hessian, int64_t k, bool actOrder,
                     double dampFraction) {
  PreparedHessian prepared;
  prepared.dead.assign(size_t(k), false);
  for (int64_t i = 0; i < k; ++i)
    if (hessian[size_t(i * k + i)] == 0) {
      hessian[size_t(i * k + i)] = 1;
      prepared.dead[size_t(i)] = true;
      ++prepared.deadColumns;
    }
  std::vector<int64_t> &perm = prepared.perm;
  perm.resize(size_t(k));
  std::iota(perm.begin(), perm.end(), 0);
  if (actOrder)
    std::stable_sort(perm.begin(), perm.end(), [&](int64_t a, int64_t b) {
      return hessian[size_t(a * k + a)] > hessian[size_t(b * k + b)];
    });

  double meanDiag = 0;
  for (int64_t i = 0; i < k; ++i)
    meanDiag += hessian[size_t(i * k + i)];
  meanDiag /= double(k);
  std::vector<double> permuted(size_t(k * k));
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < k; ++j)
      permuted[size_t(i * k + j)] = hessian[size_t(perm[i] * k + perm[j])];
  hessian = {};
  for (int64_t i = 0; i < k; ++i)
    permuted[size_t(i * k + i)] += dampFraction * meanDiag;
  llvm::Expected<std::vector<float>> hinv =
      inverseCholeskyUpper(permuted, k, dampFraction);
  if (!hinv)
    return hinv.takeError();
  prepared.hinv = std::move(*hinv);
  return prepared;
}
