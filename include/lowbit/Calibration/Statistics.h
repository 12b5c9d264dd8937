//===- Statistics.h - Per-linear activation statistics ----------*- C++ -*-===//
//
// What calibration records for the quantization passes: for each linear
// input activation X [samples, K], the per-channel mean square (llama.cpp's
// importance matrix), mean |x| (AWQ's activation scale), max |x| (LLM.int8
// outliers) and GPTQ's Hessian H = 2/samples · XᵀX. Statistics are saved as
// protobuf (lib/Calibration/calibration.proto). No MLIR here.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_CALIBRATION_STATISTICS_H
#define LOWBIT_CALIBRATION_STATISTICS_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace lowbit {

struct ModelConfig;

/// Statistics of one linear input. Linears reading the same activation
/// (q/k/v, gate/up) share one entry that lists all their weights.
struct LinearStatistics {
  std::vector<std::string> weights;
  int64_t inFeatures = 0;
  int64_t samples = 0; // activation rows (tokens) observed
  std::vector<float> meanSquare;
  std::vector<float> meanAbs;
  std::vector<float> absMax;
  /// K×K row-major, symmetric; empty when not collected. GPTQ's reference
  /// divides XᵀX by the number of sequences rather than tokens; the factor
  /// (window length) cancels in GPTQ's relative damping and solve.
  std::vector<float> hessian;
};

/// Accumulates the statistics of one activation stream: x² and |x| sums in
/// double, XᵀX per batch with cblas_ssyrk in float, summed across batches in
/// double (a batch is one calibration window, a few hundred rows).
class StatisticsAccumulator {
public:
  StatisticsAccumulator(int64_t inFeatures, bool collectHessian);
  /// Adds `rows` row-major rows of inFeatures values.
  void add(const float *x, int64_t rows);
  LinearStatistics finish(std::vector<std::string> weights) const;
  /// Frees the XᵀX sums (after finish), the largest part by far.
  void releaseHessian();
  int64_t inFeatures() const { return k; }

private:
  /// Inputs up to this wide get XᵀX of a batch in one k×k float scratch;
  /// wider ones in bands of rows.
  static constexpr int64_t kWholeGramColumns = 4096;
  int64_t k;
  bool collectHessian;
  int64_t samples = 0;
  std::vector<double> sumSquare, sumAbs;
  std::vector<float> absMax;
  std::vector<double> gram; // upper triangle of XᵀX, K×K row-major
};

/// Identifies the model statistics belong to.
struct ModelFingerprint {
  std::string arch;
  int64_t vocabSize = 0, hiddenSize = 0, intermediateSize = 0, numLayers = 0,
          numHeads = 0, numKvHeads = 0;

  static ModelFingerprint of(const ModelConfig &config);
  bool operator==(const ModelFingerprint &o) const;
  bool operator!=(const ModelFingerprint &o) const { return !(*this == o); }
  /// "llama, vocab 4096, hidden 256, intermediate 768, 4 layers, ..."
  std::string str() const;
};

/// The statistics of every linear of one model, keyed by weight name.
class CalibrationStatistics {
public:
  ModelFingerprint model;
  /// Provenance: the calibration text and how windows were drawn from it.
  std::string text;
  int64_t windows = 0, windowLength = 0;
  uint64_t seed = 0;
  bool bosWindows = false;

  /// Adds an entry; fails if one of its weights already has statistics.
  llvm::Error add(LinearStatistics stats);
  /// The statistics of the linear whose weight is `weight`, or null.
  const LinearStatistics *lookup(llvm::StringRef weight) const;
  llvm::ArrayRef<LinearStatistics> inputs() const { return entries; }

  /// Writes the statistics atomically. Hessians must be symmetric: only the
  /// upper triangle is stored.
  llvm::Error save(llvm::StringRef path) const;
  /// Reads statistics saved by save(); errors name the file (missing,
  /// truncated, not a statistics file, inconsistent sizes).
  static llvm::Expected<CalibrationStatistics> load(llvm::StringRef path);
  /// load() that also rejects statistics of a different model.
  static llvm::Expected<CalibrationStatistics>
  load(llvm::StringRef path, const ModelConfig &expected);
  /// Fails, naming `path`, unless these statistics are of `config`'s model.
  llvm::Error checkModel(const ModelConfig &config, llvm::StringRef path) const;

private:
  std::vector<LinearStatistics> entries;
  llvm::StringMap<size_t> byWeight;
};

} // namespace lowbit

#endif // LOWBIT_CALIBRATION_STATISTICS_H
