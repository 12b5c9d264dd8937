//===- GptqGgml.cpp - GPTQ rounding inside ggml blocks ---------------------===//
//
// The column loop of Gptq.cpp with a different quantizer: at a block's first
// column each row's block is encoded by quantizeRowGgml from the columns as
// GPTQ has updated them, its grid is read back (GgmlBlockGrid), and the
// block's values are rounded on it one column at a time. The codes are
// written into the encoded block at the end, which keeps llama.cpp's scales
// and mins byte for byte.
//
//===----------------------------------------------------------------------===//
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "lowbit/Quant/GptqGgml.h"
#include "GgmlBlockDescent.h"
#include "GptqSupport.h"
#include "lowbit/Quant/Encode.h"
#include "lowbit/Quant/GgmlBlockGrid.h"
#include "lowbit/Quant/GgmlQuantize.h"
#include "lowbit/Quant/GgmlQuants.h"

#include <cblas.h>

#include <algorithm>
#include <memory>
#include <string>

using namespace lowbit;
using llvm::createStringError;

namespace {

llvm::Error checkOptions(int64_t rows, int64_t cols, size_t hessianSize,
                         const GgmlGptqOptions &options) {
  const DTypeInfo &info = getDTypeInfo(options.type);
  if (!hasGgmlBlockGrid(options.type) || !canQuantizeGgml(options.type))
    return createStringError("GPTQ cannot round into " + info.name.str() +
                             " blocks (a ggml block type is needed)");
  if (rows <= 0 || cols <= 0)
    return createStringError("GPTQ needs a non-empty matrix, not " +
                             std::to_string(rows) + "x" + std::to_string(cols));
  if (cols % info.blockElems)
    return createStringError("input width " + std::to_string(cols) +
                             " is not a multiple of the " + info.name.str() +
                             " block size " + std::to_string(info.blockElems));
  if (options.blockSize <= 0)
    return createStringError("GPTQ block size must be positive, not " +
                             std::to_string(options.blockSize));
  if (options.descentSweeps < 0)
    return createStringError("descent sweeps must not be negative, not " +
                             std::to_string(options.descentSweeps));
  if (!(options.dampPercent >= 0 && options.dampPercent < 1))
    return createStringError("GPTQ damp fraction must be in [0, 1), not " +
                             gptq::shortNumber(options.dampPercent));
  if (hessianSize != size_t(cols) * size_t(cols))
    return createStringError("the Hessian has " + std::to_string(hessianSize) +
                             " entries; input width " + std::to_string(cols) +
                             " needs " + std::to_string(cols * cols));
  return llvm::Error::success();
}

/// H plus GPTQ's damping, in the original column order.
std::vector<float> dampedHessian(const std::vector<float> &hessian, int64_t k,
                                 double dampFraction) {
  std::vector<float> damped = hessian;
  float damp = float(gptq::dampingOf(hessian, k, dampFraction));
  for (int64_t i = 0; i < k; ++i) {
    float &d = damped[size_t(i * k + i)];
    d = (d == 0 ? 1.0f : d) + damp;
  }
  return damped;
}

/// The block-search weights of columns [c, c + n): the Hessian diagonal, or
/// none where it is all zero (llama.cpp's searches need some weight).
const float *blockImportance(const std::vector<float> &diagonal, int64_t c,
                             int64_t n) {
  for (int64_t i = c; i < c + n; ++i)
    if (diagonal[size_t(i)] > 0)
      return &diagonal[size_t(c)];
  return nullptr;
}

} // namespace

llvm::Expected<GgmlGptqResult>
lowbit::gptqQuantizeGgml(const float *w, int64_t rows, int64_t cols,
                         std::vector<float> hessian,
                         const GgmlGptqOptions &options) {
  if (llvm::Error e = checkOptions(rows, cols, hessian.size(), options))
    return std::move(e);
  const int64_t k = cols;
  if (llvm::Error e = gptq::checkFiniteInputs(w, rows, k, hessian))
    return std::move(e);
  const DType type = options.type;
  const DTypeInfo &info = getDTypeInfo(type);
  const int64_t width = info.blockElems, blockBytes = info.blockBytes;
  const int64_t blocksPerRow = k / width, rowBytes = blocksPerRow * blockBytes;

  std::vector<float> diagonal(static_cast<size_t>(k));
  for (int64_t i = 0; i < k; ++i)
    diagonal[size_t(i)] = hessian[size_t(i * k + i)];
  // The descent minimises the objective GPTQ does: the damped Hessian.
  std::vector<float> objective;
  if (options.descentSweeps > 0)
    objective = dampedHessian(hessian, k, options.dampPercent);
  llvm::Expected<gptq::PreparedHessian> prepared = gptq::prepareHessian(
      std::move(hessian), k, options.actOrder, options.dampPercent);
  if (!prepared)
    return prepared.takeError();
  const std::vector<int64_t> &perm = prepared->perm;
  const std::vector<bool> &dead = prepared->dead;
  const std::vector<float> &hinv = prepared->hinv;
  // Dynamic grids (no act-order) are fitted when a block's first column is
  // reached, so lazy batches must start on block starts.
  const bool staticGrids = options.actOrder;
  int64_t blockSize = options.blockSize;
  if (!staticGrids)
    blockSize = std::max(width, blockSize / width * width);

  GgmlGptqResult result;
  result.deadColumns = prepared->deadColumns;
  result.bytes.assign(size_t(rows * rowBytes), 0);
  result.dequantized.resize(size_t(rows * k));
  std::vector<int8_t> codes(size_t(rows * k));
  std::vector<float> work(size_t(rows * k));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t p = 0; p < k; ++p)
      work[size_t(r * k + p)] =
          dead[size_t(perm[p])] ? 0.0f : w[r * k + perm[p]];

  int64_t threads = std::max<int64_t>(1, encodeThreadCount());
  std::vector<double> losses(size_t(threads), 0.0),
      gptqLosses(size_t(threads), 0.0);
  gptq::parallelFor(rows, 16, [&](int64_t begin, int64_t end, int64_t slot) {
    int64_t n = end - begin;
    auto grid = std::make_unique<GgmlBlockGrid>();
    // Static grids: every block's scale and offset per column, per row of
    // this range, fitted on the original (dead-zeroed) weights.
    std::vector<float> gridScale, gridOffset;
    if (staticGrids) {
      gridScale.resize(size_t(n * k));
      gridOffset.resize(size_t(n * k));
      std::vector<float> original(static_cast<size_t>(width));
      for (int64_t r = begin; r < end; ++r)
        for (int64_t b = 0; b < blocksPerRow; ++b) {
          for (int64_t i = 0; i < width; ++i) {
            int64_t c = b * width + i;
            original[size_t(i)] = dead[size_t(c)] ? 0.0f : w[r * k + c];
          }
          uint8_t *block = &result.bytes[size_t(r * rowBytes + b * blockBytes)];
          llvm::cantFail(quantizeRowGgml(
              type, original.data(), block, width,
              blockImportance(diagonal, b * width, width)));
          decodeGgmlBlockGrid(type, block, *grid);
          size_t at = size_t((r - begin) * k + b * width);
          std::copy(grid->scale, grid->scale + width, &gridScale[at]);
          std::copy(grid->offset, grid->offset + width, &gridOffset[at]);
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
          int64_t c = perm[p];
          float scale, offset;
          int code;
          if (staticGrids) {
            size_t at = size_t((r - begin) * k + c);
            scale = gridScale[at];
            offset = gridOffset[at];
            GgmlBlockGrid &g = *grid;
            g.scale[0] = scale;
            g.offset[0] = offset;
            code = nearestGgmlCode(g, 0, row[p]);
          } else {
            if (p % width == 0) {
              uint8_t *block =
                  &result.bytes[size_t(r * rowBytes + (p / width) * blockBytes)];
              llvm::cantFail(quantizeRowGgml(type, row + p, block, width,
                                             blockImportance(diagonal, p, width)));
              decodeGgmlBlockGrid(type, block, *grid);
            }
            scale = grid->scale[p % width];
            offset = grid->offset[p % width];
            code = nearestGgmlCode(*grid, int(p % width), row[p]);
          }
          float q = scale * float(code) + offset;
          const float *u = &hinv[size_t(p * k)];
          float e = (row[p] - q) / u[p];
          loss += 0.5 * double(e) * double(e);
          for (int64_t j = p + 1; j < i2; ++j)
            row[j] -= e * u[j];
          err[p - i1] = e;
          codes[size_t(r * k + c)] = int8_t(code);
        }
      }
      if (i2 < k)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(n),
                    int(k - i2), int(count), -1.0f, errors.data(), int(count),
                    &hinv[size_t(i1 * k + i2)], int(k), 1.0f,
                    &work[size_t(begin * k + i2)], int(k));
    }
    gptqLosses[size_t(slot)] = loss;
    if (options.descentSweeps > 0) {
      gptq::BlockDescentRows range;
      range.type = type;
      range.begin = begin;
      range.end = end;
      range.k = k;
      range.weights = w;
      range.codes = codes.data();
      range.bytes = result.bytes.data();
      range.parameters = options.descendParameters;
      double gptqObjective = 0;
      loss = gptq::descendGgmlBlocks(range, objective, dead,
                                     int(options.descentSweeps), gptqObjective);
      gptqLosses[size_t(slot)] = gptqObjective;
    }
    for (int64_t r = begin; r < end; ++r) {
      uint8_t *rowBlocks = &result.bytes[size_t(r * rowBytes)];
      for (int64_t b = 0; b < blocksPerRow; ++b)
        setGgmlBlockCodes(type, rowBlocks + b * blockBytes,
                          &codes[size_t(r * k + b * width)]);
      dequantizeRow(type, rowBlocks, &result.dequantized[size_t(r * k)], k);
    }
    losses[size_t(slot)] = loss;
  });
  for (double l : losses)
    result.loss += l;
  for (double l : gptqLosses)
    result.gptqLoss += l;
  return result;
}
