//===- GgufBudget.cpp - Size-budgeted GGUF mixes --------------------------===//
#include "lowbit/Quant/GgufBudget.h"

#include "GptqSupport.h"
#include "lowbit/Quant/GgmlQuantize.h"
#include "lowbit/Quant/GgmlQuants.h"
#include "lowbit/Quant/GgufMixes.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>

using namespace llvm;
using namespace lowbit;

Expected<GgufBudget> lowbit::parseGgufBudget(StringRef text) {
  GgufBudget budget;
  StringRef t = text.trim();
  auto bad = [&](const Twine &why) {
    return createStringError("budget '" + text.str() + "': " + why.str() +
                             " (expected bits per weight such as 4.85, bytes "
                             "such as 17104192B, or a file type such as "
                             "q4_k_m)");
  };
  if (t.empty())
    return bad("empty");
  if (t.ends_with_insensitive("b")) {
    uint64_t bytes = 0;
    if (t.drop_back().getAsInteger(10, bytes) || bytes == 0)
      return bad("not a positive whole number of bytes");
    budget.kind = GgufBudget::Kind::Bytes;
    budget.bytes = bytes;
    return budget;
  }
  if (isDigit(t.front()) || t.front() == '.') {
    double bpw = 0;
    if (t.getAsDouble(bpw) || !std::isfinite(bpw))
      return bad("not a number");
    // Q2_K is the fewest bits a candidate type has; Q8_0 the most.
    if (bpw < 2.625 || bpw > 8.5)
      return bad("bits per weight must lie in [2.625, 8.5], Q2_K's to Q8_0's");
    budget.kind = GgufBudget::Kind::BitsPerWeight;
    budget.bitsPerWeight = bpw;
    return budget;
  }
  Expected<GgufFileType> ftype = parseGgufFileType(t);
  if (!ftype) {
    consumeError(ftype.takeError());
    return bad("neither a number nor a file type");
  }
  budget.kind = GgufBudget::Kind::FileType;
  budget.fileType = ftype->name.str();
  return budget;
}

uint64_t lowbit::paddedGgufTensorBytes(DType type, ArrayRef<int64_t> shape) {
  std::optional<uint64_t> bytes = tensorBytes(type, shape);
  if (!bytes)
    return 0;
  return (*bytes + 31) / 32 * 32;
}

std::vector<DType> lowbit::budgetCandidateTypes(int64_t rowLength) {
  std::vector<DType> types;
  for (DType t : {DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K,
                  DType::Q6_K, DType::Q8_0})
    if (rowLength > 0 && rowLength % getDTypeInfo(t).blockElems == 0)
      types.push_back(t);
  return types;
}

Expected<std::vector<size_t>>
lowbit::chooseTypesWithinBudget(ArrayRef<BudgetTensor> tensors,
                                uint64_t budgetBytes) {
  uint64_t smallest = 0;
  for (const BudgetTensor &t : tensors) {
    if (t.types.empty() || t.types.size() != t.bytes.size() ||
        t.types.size() != t.loss.size())
      return createStringError("tensor '" + t.name + "' has no candidate types");
    smallest += *std::min_element(t.bytes.begin(), t.bytes.end());
  }
  if (smallest > budgetBytes)
    return createStringError(
        formatv("a budget of {0} bytes is below the smallest mix these types "
                "reach ({1} bytes)",
                budgetBytes, smallest)
            .str());

  // Bytes in units of `unit`, each candidate rounded up and the budget down,
  // so any solution of the grid problem fits the real budget.
  constexpr uint64_t kMaxUnits = 200000;
  uint64_t unit = std::max<uint64_t>(1, budgetBytes / kMaxUnits);
  size_t capacity = size_t(budgetBytes / unit);
  auto units = [&](uint64_t bytes) { return size_t((bytes + unit - 1) / unit); };

  // best[c]: the least loss of the tensors so far within c units.
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> best(capacity + 1, 0.0), next(capacity + 1);
  std::vector<std::vector<uint8_t>> choice(tensors.size(),
                                           std::vector<uint8_t>(capacity + 1));
  for (size_t i = 0; i < tensors.size(); ++i) {
    const BudgetTensor &t = tensors[i];
    std::fill(next.begin(), next.end(), inf);
    for (size_t k = 0; k < t.types.size(); ++k) {
      size_t u = units(t.bytes[k]);
      for (size_t c = u; c <= capacity; ++c) {
        double v = best[c - u] + t.loss[k];
        if (v < next[c]) {
          next[c] = v;
          choice[i][c] = uint8_t(k);
        }
      }
    }
    std::swap(best, next);
  }
  if (!std::isfinite(best[capacity]))
    return createStringError(
        formatv("a budget of {0} bytes leaves no room for the smallest types "
                "once rounded to {1}-byte units; raise it slightly",
                budgetBytes, unit)
            .str());
  std::vector<size_t> picked(tensors.size());
  size_t c = capacity;
  for (size_t i = tensors.size(); i-- > 0;) {
    size_t k = choice[i][c];
    picked[i] = k;
    c -= units(tensors[i].bytes[k]);
  }
  return picked;
}

static Error cannotEncode(DType type, int64_t cols) {
  return createStringError(formatv("cannot encode rows of {0} values as {1}",
                                   cols, getDTypeInfo(type).name)
                               .str());
}

Error lowbit::fakeQuantizeGgmlRows(DType type, const float *w, int64_t begin,
                                   int64_t end, int64_t cols,
                                   const float *importance, float *out) {
  std::optional<uint64_t> rowBytes = tensorBytes(type, {cols});
  if (!rowBytes || !canQuantizeGgml(type))
    return cannotEncode(type, cols);
  std::vector<uint8_t> block(*rowBytes);
  for (int64_t r = begin; r < end; ++r) {
    if (Error e = quantizeRowGgml(type, w + r * cols, block.data(), cols,
                                  importance))
      return e;
    dequantizeRow(type, block.data(), out + r * cols, cols);
  }
  return Error::success();
}

Error lowbit::fakeQuantizeGgml(const float *w, int64_t rows, int64_t cols,
                               DType type, const float *importance, float *out) {
  if (!tensorBytes(type, {cols}) || !canQuantizeGgml(type))
    return cannotEncode(type, cols);
  std::mutex mutex;
  Error failure = Error::success();
  gptq::parallelFor(rows, 16, [&](int64_t begin, int64_t end, int64_t) {
    if (Error e = fakeQuantizeGgmlRows(type, w, begin, end, cols, importance, out)) {
      std::lock_guard<std::mutex> lock(mutex);
      failure = joinErrors(std::move(failure), std::move(e));
    }
  });
  return failure;
}

Expected<double> lowbit::weightedQuantizationError(
    const float *w, int64_t rows, int64_t cols, DType type,
    const float *columnWeight, const float *rowWeight, bool useImportance) {
  std::vector<float> q(size_t(rows * cols));
  if (Error e = fakeQuantizeGgml(w, rows, cols, type,
                                 useImportance ? columnWeight : nullptr,
                                 q.data()))
    return std::move(e);
  double total = 0;
  for (int64_t r = 0; r < rows; ++r) {
    double row = 0;
    for (int64_t c = 0; c < cols; ++c) {
      double d = double(w[r * cols + c]) - q[size_t(r * cols + c)];
      row += (columnWeight ? columnWeight[c] : 1.0) * d * d;
    }
    total += (rowWeight ? rowWeight[r] : 1.0) * row;
  }
  return total;
}
