//===- GptqSupport.cpp - What the GPTQ quantizers share --------------------===//
//
// Factorizations run in double by default: calibration Hessians are often
// badly conditioned. Single precision halves their memory for wide layers.
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
lapack_int potrf(std::vector<double> &h, lapack_int n) {
  return LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'U', n, h.data(), n);
}
lapack_int potrf(std::vector<float> &h, lapack_int n) {
  return LAPACKE_spotrf(LAPACK_COL_MAJOR, 'U', n, h.data(), n);
}
lapack_int potri(std::vector<double> &h, lapack_int n) {
  return LAPACKE_dpotri(LAPACK_COL_MAJOR, 'U', n, h.data(), n);
}
lapack_int potri(std::vector<float> &h, lapack_int n) {
  return LAPACKE_spotri(LAPACK_COL_MAJOR, 'U', n, h.data(), n);
}

/// Factors the permuted and damped Hessian `h` (row-major, symmetric) in
/// place into the upper Cholesky factor U of H⁻¹ (H⁻¹ = UᵀU), left in
/// column-major order in the upper triangle.
template <typename T>
llvm::Error inverseCholeskyUpper(std::vector<T> &h, int64_t k, double damp) {
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
  lapack_int info = potrf(h, n);
  if (info > 0)
    return notPositiveDefinite(info);
  if (info == 0)
    info = potri(h, n);
  if (info > 0)
    return notPositiveDefinite(info);
  // potri leaves H⁻¹ in the upper triangle, which potrf 'U' reads.
  if (info == 0)
    info = potrf(h, n);
  if (info > 0)
    return notPositiveDefinite(info);
  if (info < 0)
    return createStringError("LAPACK rejected argument " +
                             std::to_string(-info) +
                             " while inverting the Hessian");
  return llvm::Error::success();
}

/// Row-major floats of H (permuted, damped) in the precision T.
template <typename T>
std::vector<T> permutedDamped(const std::vector<float> &hessian, int64_t k,
                              const std::vector<int64_t> &perm, double damp) {
  std::vector<T> permuted(size_t(k * k));
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < k; ++j)
      permuted[size_t(i * k + j)] = hessian[size_t(perm[i] * k + perm[j])];
  for (int64_t i = 0; i < k; ++i)
    permuted[size_t(i * k + i)] += T(damp);
  return permuted;
}

} // namespace

double gptq::dampingOf(const std::vector<float> &hessian, int64_t k,
                       double dampFraction) {
  double meanDiag = 0;
  for (int64_t i = 0; i < k; ++i) {
    float d = hessian[size_t(i * k + i)];
    meanDiag += d == 0 ? 1.0 : double(d);
  }
  meanDiag /= double(k);
  return dampFraction * meanDiag;
}

llvm::Expected<gptq::PreparedHessian>
gptq::prepareHessian(std::vector<float> hessian, int64_t k, bool actOrder,
                     double dampFraction, bool singlePrecision) {
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

  double damp = dampingOf(hessian, k, dampFraction);
  // Column-major U[i][j] lives at j·k + i; hinv is row-major.
  if (singlePrecision) {
    std::vector<float> h = permutedDamped<float>(hessian, k, perm, damp);
    hessian = {};
    if (llvm::Error e = inverseCholeskyUpper(h, k, dampFraction))
      return std::move(e);
    // Transposed in place: one k × k buffer in all.
    for (int64_t j = 0; j < k; ++j)
      for (int64_t i = 0; i < j; ++i) {
        h[size_t(i * k + j)] = h[size_t(j * k + i)];
        h[size_t(j * k + i)] = 0.0f;
      }
    prepared.hinv = std::move(h);
    return prepared;
  }
  std::vector<double> h = permutedDamped<double>(hessian, k, perm, damp);
  hessian = {};
  if (llvm::Error e = inverseCholeskyUpper(h, k, dampFraction))
    return std::move(e);
  prepared.hinv.assign(size_t(k * k), 0.0f);
  for (int64_t j = 0; j < k; ++j)
    for (int64_t i = 0; i <= j; ++i)
      prepared.hinv[size_t(i * k + j)] = float(h[size_t(j * k + i)]);
  return prepared;
}
