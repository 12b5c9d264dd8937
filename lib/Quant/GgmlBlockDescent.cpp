//===- GgmlBlockDescent.cpp - Exact descent inside ggml blocks -------------===//
//
// With g = H (ŵ − w)ᵀ for a row, a change δ of the values on columns S
// changes the objective by δ·g_S + ½ δᵀ H_SS δ. Each grid is linear in each
// parameter (scale = d · sc, offset = −dmin · m), so a parameter's best value
// given the codes is a one-dimensional quadratic minimum, rounded to what
// the block can hold; a code's best value is the grid point nearest
// q − g[j] / (scale · H[j, j]). After a move g changes by H[S, :]ᵀ δ: inside
// the current batch of columns at once, outside it by one matrix product per
// batch (the lazy update GPTQ itself uses). g is recomputed exactly at the
// start of each sweep so float drift cannot build up.
//
//===----------------------------------------------------------------------===//
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "GgmlBlockDescent.h"
#include "lowbit/Quant/GgmlBlockGrid.h"
#include "lowbit/Support/Float16.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

using namespace lowbit;

double gptq::descendGgmlBlocks(const BlockDescentRows &rows,
                               const std::vector<float> &hessian,
                               const std::vector<bool> &dead, int sweeps,
                               double &before) {
  const DType type = rows.type;
  const DTypeInfo &info = getDTypeInfo(type);
  const int64_t width = info.blockElems, blockBytes = info.blockBytes;
  const int64_t n = rows.end - rows.begin, k = rows.k;
  const int64_t rowBytes = k / width * blockBytes;
  const float *h = hessian.data();
  auto blockOf = [&](int64_t r, int64_t c) {
    return &rows.bytes[size_t((rows.begin + r) * rowBytes +
                              (c / width) * blockBytes)];
  };

  // Every value's grid, and diff = ŵ − w (dead columns held at 0).
  auto grid = std::make_unique<GgmlBlockGrid>();
  auto trialGrid = std::make_unique<GgmlBlockGrid>();
  std::vector<float> scale(size_t(n * k)), offset(size_t(n * k));
  std::vector<float> diff(size_t(n * k)), gradient(size_t(n * k));
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < k; c += width) {
      decodeGgmlBlockGrid(type, blockOf(r, c), *grid);
      std::copy(grid->scale, grid->scale + width, &scale[size_t(r * k + c)]);
      std::copy(grid->offset, grid->offset + width, &offset[size_t(r * k + c)]);
    }
  const int qmin = grid->qmin, qmax = grid->qmax;
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < k; ++c) {
      size_t at = size_t(r * k + c), whole = size_t((rows.begin + r) * k + c);
      diff[at] = dead[size_t(c)] ? 0.0f
                                 : scale[at] * float(rows.codes[whole]) +
                                       offset[at] - rows.weights[whole];
    }
  auto objective = [&] {
    double sum = 0;
    for (size_t i = 0; i < diff.size(); ++i)
      sum += double(diff[i]) * double(gradient[i]);
    return 0.5 * sum;
  };

  const int parameters = rows.parameters ? ggmlBlockParameterCount(type) : 0;
  const int64_t batch = std::max<int64_t>(width, 256);
  std::vector<float> moved(static_cast<size_t>(n * batch));
  std::vector<uint8_t> trial(static_cast<size_t>(blockBytes));
  std::vector<float> direction(static_cast<size_t>(width)),
      delta(static_cast<size_t>(width));

  for (int sweep = 0; sweep <= sweeps; ++sweep) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(n), int(k),
                int(k), 1.0f, diff.data(), int(k), h, int(k), 0.0f,
                gradient.data(), int(k));
    if (sweep == 0)
      before = objective();
    if (sweep == sweeps)
      break;
    for (int64_t j0 = 0; j0 < k; j0 += batch) {
      const int64_t j1 = std::min(k, j0 + batch), count = j1 - j0;
      std::fill(moved.begin(), moved.end(), 0.0f);
      for (int64_t r = 0; r < n; ++r) {
        float *g = &gradient[size_t(r * k)];
        float *d = &diff[size_t(r * k)];
        const size_t row = size_t(r * k);
        const size_t whole = size_t((rows.begin + r) * k);
        // Takes the change `change` of the values on [c, c + m).
        auto apply = [&](int64_t c, int64_t m, const float *change) {
          for (int64_t i = 0; i < m; ++i) {
            float dl = change[i];
            if (dl == 0)
              continue;
            d[c + i] += dl;
            moved[size_t(r * batch + (c + i - j0))] += dl;
            const float *hj = &h[size_t((c + i) * k)];
            for (int64_t t = j0; t < j1; ++t)
              g[t] += dl * hj[t];
          }
        };

        for (int64_t c0 = j0; c0 < j1 && parameters; c0 += width) {
          uint8_t *block = blockOf(r, c0);
          for (int p = 0; p < parameters; ++p) {
            GgmlBlockParameter param = ggmlBlockParameter(type, p);
            const int64_t first = c0 + param.first, m = param.count;
            float value = readGgmlBlockParameter(type, block, p);
            if (param.half && !(value != 0 && std::isfinite(value)))
              continue;
            // The change of each value per unit of the parameter, from the
            // grid at another setting.
            float other = param.half || value != 0 ? 0.0f
                                                   : (param.hi >= 1 ? 1.0f : -1.0f);
            std::memcpy(trial.data(), block, size_t(blockBytes));
            writeGgmlBlockParameter(type, trial.data(), p, other);
            decodeGgmlBlockGrid(type, trial.data(), *trialGrid);
            double slope = 0, curvature = 0;
            for (int64_t i = 0; i < m; ++i) {
              int64_t c = first + i;
              if (dead[size_t(c)]) {
                direction[size_t(i)] = 0;
                continue;
              }
              float q = float(rows.codes[whole + size_t(c)]);
              float now = scale[row + size_t(c)] * q + offset[row + size_t(c)];
              int64_t e = c - c0;
              float then = trialGrid->scale[e] * q + trialGrid->offset[e];
              direction[size_t(i)] = (now - then) / (value - other);
              slope += double(direction[size_t(i)]) * double(g[c]);
            }
            for (int64_t i = 0; i < m; ++i) {
              if (direction[size_t(i)] == 0)
                continue;
              const float *hi = &h[size_t((first + i) * k + first)];
              double sum = 0;
              for (int64_t t = 0; t < m; ++t)
                sum += double(hi[t]) * double(direction[size_t(t)]);
              curvature += double(direction[size_t(i)]) * sum;
            }
            if (!(curvature > 0))
              continue;
            double target = double(value) - slope / curvature;
            if (!std::isfinite(target))
              continue;
            float next;
            if (param.half) {
              if (!(std::fabs(target) <= 65504.0))
                continue;
              next = fp16ToFloat(floatToFp16(float(target)));
            } else {
              next = float(std::nearbyint(
                  std::clamp(target, double(param.lo), double(param.hi))));
            }
            double step = double(next) - double(value);
            if (step == 0 || !(step * slope + 0.5 * step * step * curvature < 0))
              continue;
            std::memcpy(trial.data(), block, size_t(blockBytes));
            writeGgmlBlockParameter(type, trial.data(), p, next);
            decodeGgmlBlockGrid(type, trial.data(), *trialGrid);
            std::memcpy(block, trial.data(), size_t(blockBytes));
            for (int64_t i = 0; i < m; ++i) {
              int64_t c = first + i, e = c - c0;
              scale[row + size_t(c)] = trialGrid->scale[e];
              offset[row + size_t(c)] = trialGrid->offset[e];
              delta[size_t(i)] = 0;
              if (dead[size_t(c)])
                continue;
              float q = float(rows.codes[whole + size_t(c)]);
              float updated = trialGrid->scale[e] * q + trialGrid->offset[e] -
                              rows.weights[whole + size_t(c)];
              delta[size_t(i)] = updated - d[c];
            }
            apply(first, m, delta.data());
          }
        }

        for (int64_t j = j0; j < j1; ++j) {
          const float s = scale[row + size_t(j)];
          const float hjj = h[size_t(j * k + j)];
          if (dead[size_t(j)] || s == 0 || !(hjj > 0))
            continue;
          int8_t &code = rows.codes[whole + size_t(j)];
          float target = float(code) - g[j] / (s * hjj);
          if (!std::isfinite(target))
            continue;
          int next = int(std::nearbyint(
              std::clamp(target, float(qmin), float(qmax))));
          if (next == code)
            continue;
          float updated = s * float(next) + offset[row + size_t(j)] -
                          rows.weights[whole + size_t(j)];
          float change = updated - d[j];
          // Exact in real arithmetic; the float check keeps ties and
          // rounding noise from moving a code for nothing.
          if (!(change * g[j] + 0.5f * change * change * hjj < 0))
            continue;
          code = int8_t(next);
          apply(j, 1, &change);
        }
      }
      // The columns outside the batch see the batch's moves at once.
      if (j0 > 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(n),
                    int(j0), int(count), 1.0f, moved.data(), int(batch),
                    &h[size_t(j0 * k)], int(k), 1.0f, gradient.data(), int(k));
      if (j1 < k)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(n),
                    int(k - j1), int(count), 1.0f, moved.data(), int(batch),
                    &h[size_t(j0 * k + j1)], int(k), 1.0f,
                    &gradient[size_t(j1)], int(k));
    }
  }
  return objective();
}
