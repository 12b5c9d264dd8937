//===- Awq.cpp - Activation-aware weight quantization ---------------------===//
//
// The searches score candidates by the error they add to a linear's output,
// Σ_t (x_t · d)² for a weight difference d. When there are at least as many
// tokens as input channels, dᵀ (XᵀX) d with the Gram matrix computed once is
// cheaper (and free of cancellation); otherwise X · dᵀ directly.
//
//===----------------------------------------------------------------------===//
#include "lowbit/Quant/Awq.h"
#include "lowbit/Support/Float16.h"

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/Threading.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>
#include <thread>

#include "lowbit/Quant/Encode.h"

using namespace lowbit;
using llvm::createStringError;

namespace {

/// Runs body(begin, end) over [0, n) split into one contiguous range per
/// thread; small ranges stay on the calling thread.
void parallelFor(int64_t n, int64_t minPerThread,
                 llvm::function_ref<void(int64_t, int64_t)> body) {
  if (n <= 0)
    return;
  int64_t threads = std::min<int64_t>(encodeThreadCount(),
                                      std::max<int64_t>(1, n / minPerThread));
  if (threads <= 1) {
    body(0, n);
    return;
  }
  std::vector<std::thread> pool;
  int64_t chunk = (n + threads - 1) / threads;
  for (int64_t t = 1; t < threads; ++t) {
    int64_t begin = t * chunk, end = std::min(n, begin + chunk);
    if (begin < end)
      pool.emplace_back([=] { body(begin, end); });
  }
  body(0, std::min(n, chunk));
  for (std::thread &t : pool)
    t.join();
}

float roundToFp16(float v) {
  float r = fp16ToFloat(floatToFp16(v));
  // The grid never reaches these, but a scale must stay finite and nonzero.
  if (!(r > 0))
    return 5.9604645e-8f; // smallest fp16 subnormal
  return std::min(r, 65504.0f);
}

/// Scale and zero for a group whose (clamped) values span [lo, hi].
void gridFromRange(float lo, float hi, const AwqGrid &grid, float &scale,
                   float &zero) {
  float maxq = float((1 << grid.bits) - 1);
  if (grid.zeroPoint) {
    scale = roundToFp16(std::max(hi - lo, 1e-5f) / maxq);
    zero = std::clamp(-std::nearbyint(lo / scale), 0.0f, maxq);
  } else {
    float half = float(1 << (grid.bits - 1));
    float absMax = std::max(std::fabs(lo), std::fabs(hi));
    scale = roundToFp16(std::max(absMax, 1e-5f) / (half - 1));
    zero = half;
  }
}

/// Code of w after clamping to [−clip, clip]. For the symmetric grid,
/// clamping q + zero to [0, maxq] is clamping q to the signed range.
inline float codeOf(float w, float clip, float scale, float zero, float maxq) {
  float c = std::clamp(w, -clip, clip);
  return std::clamp(std::nearbyint(c / scale) + zero, 0.0f, maxq);
}

void minMax(const float *w, int64_t n, float &lo, float &hi) {
  lo = w[0];
  hi = w[0];
  for (int64_t i = 1; i < n; ++i) {
    lo = std::min(lo, w[i]);
    hi = std::max(hi, w[i]);
  }
}

/// Σ_t (x_t · d)² for the rows d of a difference matrix; x is [tokens, width]
/// with row stride ld.
class OutputError {
public:
  /// From a precomputed XᵀX [width, width] (only its upper triangle is
  /// read), borrowed rather than copied.
  OutputError(const float *gramMatrix, int64_t width)
      : x(nullptr), tokens(0), width(width), ld(width), gramData(gramMatrix) {}

  OutputError(const float *x, int64_t tokens, int64_t width, int64_t ld)
      : x(x), tokens(tokens), width(width), ld(ld) {
    if (width <= tokens) {
      gram.resize(size_t(width * width));
      cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, int(width),
                  int(tokens), 1.0f, x, int(ld), 0.0f, gram.data(), int(width));
      gramData = gram.data();
    }
  }

  /// err[i] for the rows of d [m, width].
  void rowErrors(const float *d, int64_t m, double *err) {
    if (gramData) {
      scratch.resize(size_t(m * width));
      cblas_ssymm(CblasRowMajor, CblasRight, CblasUpper, int(m), int(width),
                  1.0f, gramData, int(width), d, int(width), 0.0f,
                  scratch.data(), int(width));
      parallelFor(m, 64, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
          const float *a = d + i * width, *b = scratch.data() + i * width;
          double sum = 0;
          for (int64_t c = 0; c < width; ++c)
            sum += double(a[c]) * b[c];
          err[i] = std::max(sum, 0.0);
        }
      });
      return;
    }
    // Outputs of a block of rows at a time keep the scratch bounded.
    int64_t block = std::max<int64_t>(1, (int64_t(1) << 22) / tokens);
    for (int64_t i0 = 0; i0 < m; i0 += block) {
      int64_t mb = std::min(block, m - i0);
      scratch.resize(size_t(tokens * mb));
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(tokens), int(mb),
                  int(width), 1.0f, x, int(ld), d + i0 * width, int(width),
                  0.0f, scratch.data(), int(mb));
      parallelFor(mb, 16, [&](int64_t begin, int64_t end) {
        for (int64_t j = begin; j < end; ++j) {
          double sum = 0;
          for (int64_t t = 0; t < tokens; ++t) {
            double v = scratch[size_t(t * mb + j)];
            sum += v * v;
          }
          err[i0 + j] = sum;
        }
      });
    }
  }

private:
  const float *x;
  int64_t tokens, width, ld;
  std::vector<float> gram; // upper triangle of XᵀX, when width <= tokens
  const float *gramData = nullptr; // gram's, or the caller's XᵀX
  std::vector<float> scratch;
};

/// Fake-quantizes rows [begin, end) of w into out.
void fakeQuantizeRows(const float *w, int64_t begin, int64_t end, int64_t cols,
                      const AwqGrid &grid, const float *clipMax, float *out) {
  int64_t g = grid.groupWidth(cols), groups = grid.groupsPerRow(cols);
  float maxq = float((1 << grid.bits) - 1);
  constexpr float kNoClip = std::numeric_limits<float>::infinity();
  for (int64_t r = begin; r < end; ++r)
    for (int64_t j = 0; j < groups; ++j) {
      const float *src = w + r * cols + j * g;
      float *dst = out + r * cols + j * g;
      float clip = clipMax ? clipMax[r * groups + j] : kNoClip;
      float scale, zero;
      computeAwqGroupGrid(src, g, clip, grid, scale, zero);
      for (int64_t i = 0; i < g; ++i)
        dst[i] = scale * (codeOf(src[i], clip, scale, zero, maxq) - zero);
    }
}

llvm::Error checkClip(const float *clipMax, int64_t n) {
  if (!clipMax)
    return llvm::Error::success();
  for (int64_t i = 0; i < n; ++i)
    if (!(clipMax[i] >= 0))
      return createStringError("AWQ clip range " + std::to_string(i) + " is " +
                               std::to_string(clipMax[i]) +
                               "; it must be a non-negative number");
  return llvm::Error::success();
}

} // namespace

llvm::Error lowbit::checkAwqGrid(const AwqGrid &grid, int64_t cols) {
  if (grid.bits < 2 || grid.bits > 8)
    return createStringError("AWQ bits must be 2..8, not " +
                             std::to_string(grid.bits));
  if (cols <= 0)
    return createStringError("AWQ input width must be positive, not " +
                             std::to_string(cols));
  if (grid.groupSize == 0 || grid.groupSize < -1 ||
      (grid.groupSize > 0 && cols % grid.groupSize))
    return createStringError("AWQ group size " + std::to_string(grid.groupSize) +
                             " does not divide input width " +
                             std::to_string(cols));
  return llvm::Error::success();
}

void lowbit::computeAwqGroupGrid(const float *w, int64_t n, float clip,
                                 const AwqGrid &grid, float &scale,
                                 float &zero) {
  float lo, hi;
  minMax(w, n, lo, hi);
  // Clamping is monotone: the clamped group spans the clamped extremes.
  gridFromRange(std::clamp(lo, -clip, clip), std::clamp(hi, -clip, clip), grid,
                scale, zero);
}

llvm::Expected<AffineTensor> lowbit::quantizeAwq(const float *w, int64_t rows,
                                                 int64_t cols,
                                                 const AwqGrid &grid,
                                                 const float *clipMax) {
  if (llvm::Error e = checkAwqGrid(grid, cols))
    return std::move(e);
  int64_t g = grid.groupWidth(cols), groups = grid.groupsPerRow(cols);
  if (llvm::Error e = checkClip(clipMax, rows * groups))
    return std::move(e);
  float maxq = float((1 << grid.bits) - 1);
  constexpr float kNoClip = std::numeric_limits<float>::infinity();
  AffineTensor t;
  t.codes.resize(size_t(rows * cols));
  t.scales.resize(size_t(rows * groups));
  t.zeros.resize(size_t(rows * groups));
  parallelFor(rows, 16, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      for (int64_t j = 0; j < groups; ++j) {
        const float *src = w + r * cols + j * g;
        float clip = clipMax ? clipMax[r * groups + j] : kNoClip;
        float scale, zero;
        computeAwqGroupGrid(src, g, clip, grid, scale, zero);
        t.scales[size_t(r * groups + j)] = scale;
        t.zeros[size_t(r * groups + j)] = zero;
        uint8_t *dst = t.codes.data() + r * cols + j * g;
        for (int64_t i = 0; i < g; ++i)
          dst[i] = uint8_t(codeOf(src[i], clip, scale, zero, maxq));
      }
  });
  return t;
}

llvm::Error lowbit::fakeQuantizeAwq(const float *w, int64_t rows, int64_t cols,
                                    const AwqGrid &grid, const float *clipMax,
                                    float *out) {
  if (llvm::Error e = checkAwqGrid(grid, cols))
    return e;
  if (llvm::Error e = checkClip(clipMax, rows * grid.groupsPerRow(cols)))
    return e;
  parallelFor(rows, 16, [&](int64_t begin, int64_t end) {
    fakeQuantizeRows(w, begin, end, cols, grid, clipMax, out);
  });
  return llvm::Error::success();
}

llvm::Expected<AwqScaleResult>
lowbit::searchAwqScales(const float *x, int64_t samples, int64_t k,
                        llvm::ArrayRef<const float *> weights,
                        llvm::ArrayRef<int64_t> rowsPerWeight,
                        const float *meanAbsX, const AwqGrid &grid,
                        int gridSize, AwqLossCallback lossCallback,
                        const float *gram, AwqFakeQuantizer fakeQuantizer) {
  if (llvm::Error e = checkAwqGrid(grid, k))
    return std::move(e);
  if (gridSize < 1)
    return createStringError("AWQ scale grid size must be positive, not " +
                             std::to_string(gridSize));
  if (weights.empty() || weights.size() != rowsPerWeight.size())
    return createStringError(
        "AWQ scale search needs one row count per weight (" +
        std::to_string(weights.size()) + " weights, " +
        std::to_string(rowsPerWeight.size()) + " row counts)");
  int64_t totalRows = 0;
  for (size_t j = 0; j < weights.size(); ++j) {
    if (!weights[j] || rowsPerWeight[j] <= 0)
      return createStringError("AWQ scale search: weight " + std::to_string(j) +
                               " is empty");
    totalRows += rowsPerWeight[j];
  }
  if (!lossCallback && !gram && (!x || samples <= 0))
    return createStringError("AWQ scale search needs calibration inputs");
  if (!meanAbsX)
    return createStringError("AWQ scale search needs the mean |x| per channel");
  for (int64_t c = 0; c < k; ++c)
    if (!(meanAbsX[c] >= 0) || std::isinf(meanAbsX[c]))
      return createStringError("AWQ mean |x| of channel " + std::to_string(c) +
                               " is " + std::to_string(meanAbsX[c]));

  std::optional<OutputError> outputError;
  if (lossCallback)
    ;
  else if (gram)
    outputError.emplace(gram, k);
  else
    outputError.emplace(x, samples, k, k);
  // With the Gram matrix the loss is per weight row, not per output value.
  double lossCount = gram ? double(totalRows) : double(samples) * double(totalRows);

  AwqScaleResult result;
  result.losses.resize(size_t(gridSize));
  std::vector<std::vector<float>> fakes(weights.size());
  std::vector<float> s(static_cast<size_t>(k)), scaled, diff;
  std::vector<double> rowErr;
  double bestLoss = std::numeric_limits<double>::infinity();
  for (int i = 0; i < gridSize; ++i) {
    double alpha = double(i) / gridSize;
    // s = mean|x|^alpha, normalized so that max(s) · min(s) = 1.
    std::vector<double> raw(static_cast<size_t>(k));
    double hi = 0, lo = std::numeric_limits<double>::infinity();
    for (int64_t c = 0; c < k; ++c) {
      raw[c] = std::max(std::pow(double(meanAbsX[c]), alpha), 1e-4);
      hi = std::max(hi, raw[c]);
      lo = std::min(lo, raw[c]);
    }
    double norm = std::sqrt(hi * lo);
    for (int64_t c = 0; c < k; ++c) {
      float v = float(raw[c] / norm);
      s[c] = std::isfinite(v) && v > 0 ? v : 1.0f;
    }

    double sum = 0;
    for (size_t j = 0; j < weights.size(); ++j) {
      int64_t rows = rowsPerWeight[j];
      const float *w = weights[j];
      scaled.resize(size_t(rows * k));
      std::vector<float> &fake = fakes[j];
      fake.resize(size_t(rows * k));
      // Q(W · diag(s)) · diag(s)⁻¹: the weight as seen by the unscaled x.
      parallelFor(rows, 16, [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r)
          for (int64_t c = 0; c < k; ++c)
            scaled[size_t(r * k + c)] = w[r * k + c] * s[c];
        if (fakeQuantizer)
          fakeQuantizer(j, scaled.data(), begin, end, k, s, fake.data());
        else
          fakeQuantizeRows(scaled.data(), begin, end, k, grid, nullptr,
                           fake.data());
        for (int64_t r = begin; r < end; ++r)
          for (int64_t c = 0; c < k; ++c)
            fake[size_t(r * k + c)] /= s[c];
      });
      if (lossCallback)
        continue;
      diff.resize(size_t(rows * k));
      for (int64_t e = 0; e < rows * k; ++e)
        diff[size_t(e)] = w[e] - fake[size_t(e)];
      rowErr.resize(size_t(rows));
      outputError->rowErrors(diff.data(), rows, rowErr.data());
      for (double v : rowErr)
        sum += v;
    }
    double loss = lossCallback ? lossCallback(fakes)
                               : sum / lossCount;
    if (std::isnan(loss))
      return createStringError("AWQ scale search: the loss at alpha " +
                               std::to_string(alpha) + " is NaN");
    result.losses[size_t(i)] = loss;
    if (i == 0)
      result.baseLoss = loss;
    if (loss < bestLoss || i == 0) {
      bestLoss = loss;
      result.alpha = float(alpha);
      result.scales = s;
    }
  }
  result.bestLoss = bestLoss;
  return result;
}

llvm::Expected<std::vector<float>>
lowbit::searchAwqClip(const float *x, int64_t samples, int64_t k,
                      const float *w, int64_t rows, const AwqGrid &grid,
                      int gridSize, double maxShrink, int64_t maxTokens) {
  if (llvm::Error e = checkAwqGrid(grid, k))
    return std::move(e);
  if (gridSize < 1)
    return createStringError("AWQ clip grid size must be positive, not " +
                             std::to_string(gridSize));
  if (!(maxShrink >= 0 && maxShrink < 1))
    return createStringError("AWQ clip max shrink must be in [0, 1), not " +
                             std::to_string(maxShrink));
  if (maxTokens < 1)
    return createStringError("AWQ clip search needs at least one token, not " +
                             std::to_string(maxTokens));
  if (!x || samples <= 0)
    return createStringError("AWQ clip search needs calibration inputs");
  if (!w || rows <= 0)
    return createStringError("AWQ clip search needs a weight");

  // Evenly spaced tokens, as the reference's x[::samples / maxTokens].
  int64_t step = std::max<int64_t>(1, samples / maxTokens);
  int64_t tokens = (samples + step - 1) / step;
  std::vector<float> xs(size_t(tokens * k));
  for (int64_t t = 0; t < tokens; ++t)
    std::copy(x + t * step * k, x + (t * step + 1) * k, xs.begin() + t * k);

  int64_t g = grid.groupWidth(k), groups = grid.groupsPerRow(k);
  int64_t shrinks = std::max<int64_t>(1, int64_t(maxShrink * gridSize));
  std::vector<float> factor(static_cast<size_t>(shrinks));
  for (int64_t i = 0; i < shrinks; ++i)
    factor[size_t(i)] = float(1.0 - double(i) / gridSize);
  float maxq = float((1 << grid.bits) - 1);

  std::vector<float> clipMax(size_t(rows * groups));
  // Candidates of a block of rows at a time: [row, shrink] × group width.
  int64_t block = std::max<int64_t>(1, std::min<int64_t>(
                                           rows, (int64_t(1) << 21) / (shrinks * g)));
  std::vector<float> diff;
  std::vector<double> err;
  for (int64_t j = 0; j < groups; ++j) {
    OutputError outputError(xs.data() + j * g, tokens, g, k);
    for (int64_t r0 = 0; r0 < rows; r0 += block) {
      int64_t rb = std::min(block, rows - r0);
      diff.resize(size_t(rb * shrinks * g));
      err.resize(size_t(rb * shrinks));
      parallelFor(rb, 8, [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
          const float *src = w + (r0 + r) * k + j * g;
          float lo, hi;
          minMax(src, g, lo, hi);
          float absMax = std::max(std::fabs(lo), std::fabs(hi));
          for (int64_t i = 0; i < shrinks; ++i) {
            float clip = absMax * factor[size_t(i)];
            float scale, zero;
            gridFromRange(std::clamp(lo, -clip, clip),
                          std::clamp(hi, -clip, clip), grid, scale, zero);
            float *d = diff.data() + (r * shrinks + i) * g;
            for (int64_t c = 0; c < g; ++c)
              d[c] = src[c] -
                     scale * (codeOf(src[c], clip, scale, zero, maxq) - zero);
          }
        }
      });
      outputError.rowErrors(diff.data(), rb * shrinks, err.data());
      for (int64_t r = 0; r < rb; ++r) {
        const float *src = w + (r0 + r) * k + j * g;
        float absMax = 0;
        for (int64_t c = 0; c < g; ++c)
          absMax = std::max(absMax, std::fabs(src[c]));
        int64_t best = 0;
        for (int64_t i = 1; i < shrinks; ++i)
          if (err[size_t(r * shrinks + i)] < err[size_t(r * shrinks + best)])
            best = i;
        clipMax[size_t((r0 + r) * groups + j)] = absMax * factor[size_t(best)];
      }
    }
  }
  return clipMax;
}
