//===- GgufBudgetChoice.cpp - Types of a size-budgeted GGUF mix -----------===//
#include "GgufBudgetChoice.h"

#include "PassSupport.h"
#include "lowbit/Calibration/Sensitivity.h"
#include "lowbit/Formats/Vocabulary.h"
#include "lowbit/Formats/WeightStore.h"
#include "lowbit/Quant/GgmlQuants.h"
#include "lowbit/Quant/GgufBudget.h"
#include "lowbit/Support/Progress.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <map>

using namespace mlir;
using ::lowbit::DType;

namespace {
/// The type a tensor is probed at: Q3_K where its rows fit, whose error is
/// large enough to show through the model yet typical of the choices.
DType probeTypeOf(llvm::ArrayRef<DType> candidates) {
  for (DType t : candidates)
    if (t == DType::Q3_K)
      return t;
  return candidates.front();
}

const float *orNull(const std::vector<float> &v) {
  return v.empty() ? nullptr : v.data();
}
} // namespace

llvm::Expected<llvm::StringMap<DType>> mlir::lowbit::chooseBudgetedGgufTypes(
    ModuleOp module, const ::lowbit::WeightStore &weights,
    llvm::ArrayRef<std::string> names, const GgufBudgetRequest &request,
    FixedMixTypeFn fixedMixType) {
  llvm::Expected<::lowbit::GgufBudget> budget =
      ::lowbit::parseGgufBudget(request.budget);
  if (!budget)
    return budget.takeError();

  // Candidates and the budget in bytes.
  std::vector<::lowbit::BudgetTensor> tensors(names.size());
  std::vector<const ::lowbit::TensorRef *> refs(names.size());
  uint64_t elements = 0, fixedBytes = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    refs[i] = weights.find(names[i]);
    if (!refs[i] || refs[i]->shape.size() != 2)
      return llvm::createStringError("no weight matrix '" + names[i] + "'");
    int64_t cols = refs[i]->shape[1];
    tensors[i].name = names[i];
    tensors[i].types = ::lowbit::budgetCandidateTypes(cols);
    if (tensors[i].types.empty())
      return llvm::createStringError(llvm::formatv(
          "'{0}' has rows of {1} values, which no budget type's blocks fit",
          names[i], cols));
    for (DType t : tensors[i].types)
      tensors[i].bytes.push_back(::lowbit::paddedGgufTensorBytes(t, refs[i]->shape));
    elements += uint64_t(refs[i]->shape[0] * cols);
    if (budget->kind == ::lowbit::GgufBudget::Kind::FileType) {
      llvm::Expected<DType> t = fixedMixType(budget->fileType, names[i], cols);
      if (!t)
        return t.takeError();
      fixedBytes += ::lowbit::paddedGgufTensorBytes(*t, refs[i]->shape);
    }
  }
  uint64_t budgetBytes = 0;
  switch (budget->kind) {
  case ::lowbit::GgufBudget::Kind::Bytes:
    budgetBytes = budget->bytes;
    break;
  case ::lowbit::GgufBudget::Kind::BitsPerWeight:
    budgetBytes = uint64_t(budget->bitsPerWeight * double(elements) / 8.0);
    break;
  case ::lowbit::GgufBudget::Kind::FileType:
    budgetBytes = fixedBytes;
    break;
  }

  // A budget no mix fits fails now, not after the measurements.
  {
    std::vector<::lowbit::BudgetTensor> sizesOnly = tensors;
    for (::lowbit::BudgetTensor &t : sizesOnly)
      t.loss.assign(t.types.size(), 0.0);
    if (auto fits = ::lowbit::chooseTypesWithinBudget(sizesOnly, budgetBytes);
        !fits)
      return fits.takeError();
  }

  // Sensitivity of the model's output to each tensor at its probe type.
  std::string text;
  ::lowbit::CalibrationOptions calibration;
  if (llvm::Error e = resolveCalibrationText(module, request.file, request.windows,
                                             request.windowLength, request.seed,
                                             request.bosWindows, text,
                                             calibration))
    return std::move(e);
  calibration.windows = request.windows;
  auto tokenizer = moduleTokenizer(module);
  if (!tokenizer)
    return tokenizer.takeError();
  std::vector<std::string> nameList(names.begin(), names.end());
  llvm::Expected<::lowbit::SensitivityResult> sensitivity =
      ::lowbit::measureSensitivity(
          module, weights, **tokenizer, text, calibration, nameList,
          [&](const ::lowbit::TensorUsage &u,
              std::vector<float> &values) -> llvm::Error {
            size_t i = size_t(llvm::find(nameList, u.name) - nameList.begin());
            std::vector<float> fake(values.size());
            if (llvm::Error e = ::lowbit::fakeQuantizeGgml(
                    values.data(), u.rows, u.cols, probeTypeOf(tensors[i].types),
                    orNull(u.columnWeight), fake.data()))
              return e;
            values = std::move(fake);
            return llvm::Error::success();
          });
  if (!sensitivity)
    return sensitivity.takeError();

  // Predicted loss of every candidate: gain × weighted error.
  ::lowbit::Progress progress("budget errors", int64_t(names.size()));
  for (size_t i = 0; i < names.size(); ++i) {
    const ::lowbit::TensorUsage &u = sensitivity->usage[i];
    std::vector<float> w;
    if (llvm::Error e = ::lowbit::dequantize(*refs[i], w))
      return std::move(e);
    if (llvm::Error e = ::lowbit::checkFinite(names[i], w.data(),
                                              int64_t(w.size()), u.cols))
      return std::move(e);
    std::vector<double> errors;
    for (DType t : tensors[i].types) {
      llvm::Expected<double> err = ::lowbit::weightedQuantizationError(
          w.data(), u.rows, u.cols, t, orNull(u.columnWeight),
          orNull(u.rowWeight), !u.columnWeight.empty());
      if (!err)
        return err.takeError();
      errors.push_back(*err);
    }
    size_t probe = size_t(llvm::find(tensors[i].types,
                                     probeTypeOf(tensors[i].types)) -
                          tensors[i].types.begin());
    double gain = errors[probe] > 0 ? sensitivity->divergence[i] / errors[probe] : 0;
    for (double e : errors)
      tensors[i].loss.push_back(gain * e);
    progress.update(int64_t(i) + 1, names[i]);
  }
  progress.finish();

  llvm::Expected<std::vector<size_t>> picked =
      ::lowbit::chooseTypesWithinBudget(tensors, budgetBytes);
  if (!picked)
    return picked.takeError();
  llvm::StringMap<DType> chosen;
  uint64_t used = 0;
  double predicted = 0;
  std::map<std::string, int> counts;
  for (size_t i = 0; i < names.size(); ++i) {
    size_t k = (*picked)[i];
    chosen[names[i]] = tensors[i].types[k];
    used += tensors[i].bytes[k];
    predicted += tensors[i].loss[k];
    ++counts[::lowbit::getDTypeInfo(tensors[i].types[k]).name.str()];
  }
  std::string summary;
  for (auto &[type, n] : counts)
    summary += llvm::formatv(" {0}×{1}", type, n).str();
  llvm::errs() << llvm::formatv(
      "budget: {0} bytes for {1} matrices ({2:f3} bits per weight); chosen "
      "{3} bytes ({4:f3} bpw):{5}; predicted KL {6:e3} per token\n",
      budgetBytes, names.size(), 8.0 * double(budgetBytes) / double(elements),
      used, 8.0 * double(used) / double(elements), summary, predicted);
  return std::move(chosen);
}
