//===- Gptq.cpp - GPTQ weight quantization --------------------------------===//
//
// With U the upper Cholesky factor of H⁻¹ (H⁻¹ = UᵀU), quantizing column i
// and updating the columns after it by −(w_i − q_i) / U[i,i] · U[i, i:] is
// the optimal brain surgeon update restricted to the columns still free
// (the paper's equation 4 with the Cholesky reformulation of section 3.4).
// Updates inside a block of columns are applied at once per column; the
// columns after the block receive all of the block's errors in one GEMM.
//
// Rows do not interact (H is shared), so row ranges run on separate threads.
//
//===----------------------------------------------------------------------===//
#include "lowbit/Quant/Gptq.h"
#include "GptqSupport.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <string>
#include <thread>

#include "lowbit/Quant/Encode.h"

using namespace lowbit;
using llvm::createStringError;

namespace {

llvm::Error checkOptions(int64_t rows, int64_t cols, size_t hessianSize,
                         const GptqOptions &options) {
  const AffineScheme &scheme = options.scheme;
  if (rows <= 0 || cols <= 0)
    return createStringError("GPTQ needs a non-empty matrix, not " +
                             std::to_string(rows) + "x" + std::to_string(cols));
  if (scheme.bits != 2 && scheme.bits != 3 && scheme.bits != 4 &&
      scheme.bits != 8)
    return createStringError("GPTQ bits must be 2, 3, 4 or 8, not " +
                             std::to_string(scheme.bits));
  if (scheme.groupSize == 0 || scheme.groupSize < -1)
    return createStringError("group size must be positive or -1, not " +
                             std::to_string(scheme.groupSize));
  if (scheme.groupSize > 0 && cols % scheme.groupSize)
    return createStringError("group size " + std::to_string(scheme.groupSize) +
                             " does not divide input width " +
                             std::to_string(cols));
  if (options.blockSize <= 0)
    return createStringError("GPTQ block size must be positive, not " +
                             std::to_string(options.blockSize));
  if (!(options.dampPercent >= 0 && std::isfinite(options.dampPercent)))
    return createStringError("GPTQ damp fraction must be finite and >= 0, not " +
                             gptq::shortNumber(options.dampPercent));
  if (hessianSize != size_t(cols) * size_t(cols))
    return createStringError(
        "the Hessian has " + std::to_string(hessianSize) + " entries; input width " +
        std::to_string(cols) + " needs " + std::to_string(cols) + "x" +
        std::to_string(cols) + " = " + std::to_string(cols * cols));
  return llvm::Error::success();
}

} // namespace

llvm::Expected<GptqResult> lowbit::gptqQuantize(const float *w, int64_t rows,
                                                int64_t cols,
                                                std::vector<float> hessian,
                                                const GptqOptions &options) {
  if (llvm::Error e = checkOptions(rows, cols, hessian.size(), options))
    return std::move(e);
  const AffineScheme &scheme = options.scheme;
  const int64_t k = cols;
  if (llvm::Error e = gptq::checkFiniteInputs(w, rows, k, hessian))
    return std::move(e);

  GptqResult result;
  // An input channel that was always 0 carries no information: its diagonal
  // is pinned so H stays invertible and its weights are quantized as 0.
  llvm::Expected<gptq::PreparedHessian> prepared = gptq::prepareHessian(
      std::move(hessian), k, options.actOrder, options.dampPercent,
      options.singlePrecision);
  if (!prepared)
    return prepared.takeError();
  result.deadColumns = prepared->deadColumns;
  const std::vector<int64_t> &perm = prepared->perm;
  const std::vector<bool> &dead = prepared->dead;
  const std::vector<float> &hinv = prepared->hinv;

  // Dynamic groups get their grid when quantization reaches them, so they
  // follow the processing order: group j holds positions [j·G, (j+1)·G)
  // (with act-order, not the columns j·G..). Static groups are the original
  // contiguous columns.
  const int64_t groupSize = scheme.groupWidth(k);
  const int64_t groups = scheme.groupsPerRow(k);
  const bool wholeRow = scheme.groupSize < 0;
  const bool dynamicGroups = !wholeRow && !options.staticGroups;
  std::vector<int32_t> groupAt(static_cast<size_t>(k)); // group of processing position p
  for (int64_t p = 0; p < k; ++p)
    groupAt[size_t(p)] =
        int32_t(wholeRow ? 0 : (dynamicGroups ? p : perm[p]) / groupSize);
  result.gIdx.resize(size_t(k));
  for (int64_t p = 0; p < k; ++p)
    result.gIdx[size_t(perm[p])] = groupAt[size_t(p)];

  // Blocks start on group starts, so a dynamic group's grid always comes
  // from columns that have received every earlier column's update.
  int64_t blockSize = options.blockSize;
  if (dynamicGroups)
    blockSize = groupSize <= blockSize ? blockSize / groupSize * groupSize
                                       : groupSize;

  // Working copy: permuted columns, dead ones zeroed.
  std::vector<float> work(size_t(rows * k));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t p = 0; p < k; ++p)
      work[size_t(r * k + p)] =
          dead[size_t(perm[p])] ? 0.0f : w[r * k + perm[p]];

  AffineTensor &t = result.tensor;
  t.codes.resize(size_t(rows * k));
  t.scales.resize(size_t(rows * groups));
  t.zeros.resize(size_t(rows * groups));
  result.dequantized.resize(size_t(rows * k));

  int64_t threads = std::max<int64_t>(1, encodeThreadCount());
  std::vector<double> losses(size_t(threads), 0.0);
  gptq::parallelFor(rows, 16, [&](int64_t begin, int64_t end, int64_t slot) {
    int64_t n = end - begin;
    // Grids fixed before any update: one per row, or the original
    // contiguous groups of the (dead-zeroed) weights.
    std::vector<float> group(static_cast<size_t>(groupSize));
    for (int64_t r = begin; r < end && !dynamicGroups; ++r) {
      if (wholeRow) {
        computeAffineGrid(&work[size_t(r * k)], k, scheme,
                          t.scales[size_t(r * groups)],
                          t.zeros[size_t(r * groups)]);
        continue;
      }
      for (int64_t j = 0; j < groups; ++j) {
        for (int64_t i = 0; i < groupSize; ++i) {
          int64_t c = j * groupSize + i;
          group[size_t(i)] = dead[size_t(c)] ? 0.0f : w[r * k + c];
        }
        computeAffineGrid(group.data(), groupSize, scheme,
                          t.scales[size_t(r * groups + j)],
                          t.zeros[size_t(r * groups + j)]);
      }
    }

    double loss = 0;
    std::vector<float> errors(size_t(n * blockSize));
    for (int64_t i1 = 0; i1 < k; i1 += blockSize) {
      int64_t i2 = std::min(k, i1 + blockSize), count = i2 - i1;
      for (int64_t r = begin; r < end; ++r) {
        float *row = &work[size_t(r * k)];
        float *err = &errors[size_t((r - begin) * count)];
        for (int64_t p = i1; p < i2; ++p) {
          int64_t g = r * groups + groupAt[size_t(p)];
          if (dynamicGroups && p % groupSize == 0)
            computeAffineGrid(row + p, groupSize, scheme, t.scales[size_t(g)],
                              t.zeros[size_t(g)]);
          float scale = t.scales[size_t(g)], zero = t.zeros[size_t(g)];
          uint8_t code = affineCode(row[p], scale, zero, scheme.bits);
          float q = scale * (float(code) - zero);
          const float *u = &hinv[size_t(p * k)];
          float e = (row[p] - q) / u[p];
          loss += 0.5 * double(e) * double(e);
          for (int64_t j = p + 1; j < i2; ++j)
            row[j] -= e * u[j];
          err[p - i1] = e;
          t.codes[size_t(r * k + perm[p])] = code;
          result.dequantized[size_t(r * k + perm[p])] = q;
        }
      }
      if (i2 < k)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(n),
                    int(k - i2), int(count), -1.0f, errors.data(), int(count),
                    &hinv[size_t(i1 * k + i2)], int(k), 1.0f,
                    &work[size_t(begin * k + i2)], int(k));
    }
    losses[size_t(slot)] = loss;
  });
  for (double l : losses)
    result.loss += l;
  return result;
}
