//===- GgufBudget.h - Size-budgeted GGUF mixes ------------------*- C++ -*-===//
//
// llama-quantize's mixes give each tensor a type by its role and layer. A
// budgeted mix instead picks, for every weight matrix, the ggml type that
// minimises the model's predicted loss increase subject to the matrices
// fitting in a byte budget: a multiple-choice knapsack, solved exactly on a
// byte grid fine enough that rounding costs under 0.05% of the budget.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_QUANT_GGUFBUDGET_H
#define LOWBIT_QUANT_GGUFBUDGET_H

#include "lowbit/Formats/DType.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace lowbit {

/// A size budget as the user writes it: `4.85` (bits per weight over the
/// quantized matrices), `17104192B` (bytes of those matrices) or a file type
/// (`q4_k_m`: the bytes its fixed mix gives them).
struct GgufBudget {
  enum class Kind { BitsPerWeight, Bytes, FileType } kind = Kind::Bytes;
  double bitsPerWeight = 0;
  uint64_t bytes = 0;
  std::string fileType;
};

llvm::Expected<GgufBudget> parseGgufBudget(llvm::StringRef text);

/// Bytes a tensor of `type` and `shape` takes in a GGUF file, with the
/// padding to the file's 32-byte tensor alignment.
uint64_t paddedGgufTensorBytes(DType type, llvm::ArrayRef<int64_t> shape);

/// The types a budgeted mix chooses from, smallest first: Q2_K, Q3_K, Q4_K,
/// Q5_K, Q6_K, Q8_0 (those whose blocks fit rows of `rowLength`).
std::vector<DType> budgetCandidateTypes(int64_t rowLength);

/// One tensor's options: candidate types with their padded bytes and
/// predicted loss increase.
struct BudgetTensor {
  std::string name;
  std::vector<DType> types;
  std::vector<uint64_t> bytes;
  std::vector<double> loss;
};

/// For every tensor the index of the chosen type, minimising the summed loss
/// with the summed bytes no larger than `budgetBytes`. Errors, naming the
/// smallest reachable size, when even the smallest types do not fit.
llvm::Expected<std::vector<size_t>>
chooseTypesWithinBudget(llvm::ArrayRef<BudgetTensor> tensors,
                        uint64_t budgetBytes);

/// Σ_r rowWeight[r] Σ_c columnWeight[c] (w − Q(w))² of `w` [rows, cols]
/// encoded as `type` (with `columnWeight` as llama.cpp's importance for the
/// block search when `useImportance`). Null weight vectors count as ones.
llvm::Expected<double> weightedQuantizationError(const float *w, int64_t rows,
                                                 int64_t cols, DType type,
                                                 const float *columnWeight,
                                                 const float *rowWeight,
                                                 bool useImportance);

/// Rows [begin, end) of `w` [*, cols] encoded as `type` (with `importance`
/// weighting the block search, or null) and decoded again into the same rows
/// of `out`, on the calling thread.
llvm::Error fakeQuantizeGgmlRows(DType type, const float *w, int64_t begin,
                                 int64_t end, int64_t cols,
                                 const float *importance, float *out);

/// `w` [rows, cols] encoded as `type` and decoded again into `out`.
llvm::Error fakeQuantizeGgml(const float *w, int64_t rows, int64_t cols,
                             DType type, const float *importance, float *out);

} // namespace lowbit

#endif // LOWBIT_QUANT_GGUFBUDGET_H
