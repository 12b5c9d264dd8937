//===- Statistics.cpp - Statistics accumulation and their file ------------===//
#include "lowbit/Calibration/Statistics.h"
#include "lowbit/Support/InputFiles.h"
#include "lowbit/Formats/HfConfig.h"
#include "lowbit/Support/Error.h"
#include "lowbit/Support/OutputFile.h"

#include "calibration.pb.h"

#include "llvm/Support/MemoryBuffer.h"

#include <cblas.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>

using namespace llvm;
using namespace lowbit;
namespace pb = lowbit::calibration;

static constexpr const char *kMagic = "lowbit calibration statistics";
static constexpr uint32_t kVersion = 1;
// Statistics.inputs: field 8, length-delimited.
static constexpr uint8_t kInputsKey = 8 << 3 | 2;

//===----------------------------------------------------------------------===//
// StatisticsAccumulator
//===----------------------------------------------------------------------===//

StatisticsAccumulator::StatisticsAccumulator(int64_t inFeatures,
                                             bool collectHessian)
    : k(inFeatures), collectHessian(collectHessian), sumSquare(k), sumAbs(k),
      absMax(k), gram(collectHessian ? size_t(k * k) : 0) {}

void StatisticsAccumulator::add(const float *x, int64_t rows) {
  if (rows <= 0)
    return;
  for (int64_t r = 0; r < rows; ++r) {
    const float *row = x + r * k;
    for (int64_t c = 0; c < k; ++c) {
      float a = std::fabs(row[c]);
      sumSquare[c] += double(row[c]) * row[c];
      sumAbs[c] += a;
      absMax[c] = std::max(absMax[c], a);
    }
  }
  samples += rows;
  if (!collectHessian)
    return;
  // One scratch per thread rather than one per accumulator: a model holds
  // dozens of accumulators but only one batch is in flight.
  static thread_local std::vector<float> batch;
  if (k <= kWholeGramColumns) {
    batch.resize(size_t(k * k));
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, int(k), int(rows), 1.0f,
                x, int(k), 0.0f, batch.data(), int(k));
    for (int64_t i = 0; i < k; ++i) {
      double *dst = gram.data() + i * k;
      const float *src = batch.data() + i * k;
      for (int64_t j = i; j < k; ++j)
        dst[j] += src[j];
    }
    return;
  }
  // Wide inputs (an MLP's down projection): bands of rows of the upper
  // triangle, so the float scratch stays small beside the double sums.
  constexpr int64_t kBand = 256;
  batch.resize(size_t(kBand * k));
  for (int64_t i0 = 0; i0 < k; i0 += kBand) {
    int64_t m = std::min(kBand, k - i0), n = k - i0;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, int(m), int(n),
                int(rows), 1.0f, x + i0, int(k), x + i0, int(k), 0.0f,
                batch.data(), int(n));
    for (int64_t i = 0; i < m; ++i) {
      double *dst = gram.data() + (i0 + i) * k + i0;
      const float *src = batch.data() + i * n;
      for (int64_t j = i; j < n; ++j)
        dst[j] += src[j];
    }
  }
}

LinearStatistics
StatisticsAccumulator::finish(std::vector<std::string> weights) const {
  LinearStatistics s;
  s.weights = std::move(weights);
  s.inFeatures = k;
  s.samples = samples;
  double inv = samples > 0 ? 1.0 / double(samples) : 0.0;
  s.meanSquare.resize(k);
  s.meanAbs.resize(k);
  for (int64_t c = 0; c < k; ++c) {
    s.meanSquare[c] = float(sumSquare[c] * inv);
    s.meanAbs[c] = float(sumAbs[c] * inv);
  }
  s.absMax = absMax;
  if (collectHessian) {
    s.hessian.resize(size_t(k * k));
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = i; j < k; ++j)
        s.hessian[i * k + j] = s.hessian[j * k + i] =
            float(2.0 * gram[i * k + j] * inv);
  }
  return s;
}

void StatisticsAccumulator::releaseHessian() { std::vector<double>().swap(gram); }

//===----------------------------------------------------------------------===//
// ModelFingerprint
//===----------------------------------------------------------------------===//

ModelFingerprint ModelFingerprint::of(const ModelConfig &c) {
  return {c.arch,      c.vocabSize, c.hiddenSize, c.intermediateSize,
          c.numLayers, c.numHeads,  c.numKvHeads};
}

bool ModelFingerprint::operator==(const ModelFingerprint &o) const {
  return arch == o.arch && vocabSize == o.vocabSize &&
         hiddenSize == o.hiddenSize && intermediateSize == o.intermediateSize &&
         numLayers == o.numLayers && numHeads == o.numHeads &&
         numKvHeads == o.numKvHeads;
}

std::string ModelFingerprint::str() const {
  return formatv("{0}, vocab {1}, hidden {2}, intermediate {3}, {4} layers, "
                 "{5} heads, {6} kv heads",
                 arch, vocabSize, hiddenSize, intermediateSize, numLayers,
                 numHeads, numKvHeads)
      .str();
}

//===----------------------------------------------------------------------===//
// CalibrationStatistics
//===----------------------------------------------------------------------===//

Error CalibrationStatistics::add(LinearStatistics stats) {
  if (stats.weights.empty())
    return createStringError("statistics entry names no weight");
  for (const std::string &w : stats.weights)
    if (byWeight.count(w))
      return createStringError("two statistics entries for weight '" + w + "'");
  for (const std::string &w : stats.weights)
    byWeight[w] = entries.size();
  entries.push_back(std::move(stats));
  return Error::success();
}

const LinearStatistics *CalibrationStatistics::lookup(StringRef weight) const {
  auto it = byWeight.find(weight);
  return it == byWeight.end() ? nullptr : &entries[it->second];
}

Error CalibrationStatistics::checkModel(const ModelConfig &config,
                                        StringRef path) const {
  ModelFingerprint expected = ModelFingerprint::of(config);
  if (model != expected)
    return fileError(path,
                     "statistics of another model ({0}), not of this "
                     "one ({1})",
                     model.str(), expected.str());
  return Error::success();
}

static void writeVarint(raw_ostream &os, uint64_t v) {
  while (v >= 0x80) {
    os << char(uint8_t(v) | 0x80);
    v >>= 7;
  }
  os << char(v);
}

Error CalibrationStatistics::save(StringRef path) const {
  for (const LinearStatistics &s : entries) {
    int64_t k = s.inFeatures;
    if (int64_t(s.meanSquare.size()) != k || int64_t(s.meanAbs.size()) != k ||
        int64_t(s.absMax.size()) != k ||
        (!s.hessian.empty() && int64_t(s.hessian.size()) != k * k))
      return fileError(path,
                       "statistics of '{0}' do not match its {1} input "
                       "features",
                       s.weights.front(), k);
    for (int64_t i = 0; i < int64_t(s.hessian.size()) && i < k; ++i)
      for (int64_t j = i + 1; j < k; ++j)
        if (std::memcmp(&s.hessian[i * k + j], &s.hessian[j * k + i], 4))
          return fileError(path, "the Hessian of '{0}' is not symmetric",
                           s.weights.front());
  }

  pb::Statistics header;
  header.set_magic(kMagic);
  header.set_version(kVersion);
  pb::Model *m = header.mutable_model();
  m->set_arch(model.arch);
  m->set_vocab_size(model.vocabSize);
  m->set_hidden_size(model.hiddenSize);
  m->set_intermediate_size(model.intermediateSize);
  m->set_num_layers(model.numLayers);
  m->set_num_heads(model.numHeads);
  m->set_num_kv_heads(model.numKvHeads);
  header.set_text(text);
  header.set_windows(windows);
  header.set_window_length(windowLength);
  header.set_seed(seed);
  header.set_bos_windows(bosWindows);
  pb::Statistics trailer;
  trailer.set_input_count(int64_t(entries.size()));

  return writeFileAtomically(path, [&](raw_pwrite_stream &os) -> Error {
    os << header.SerializeAsString();
    // One entry at a time, framed as Statistics.inputs (see the .proto).
    for (const LinearStatistics &s : entries) {
      pb::Input in;
      for (const std::string &w : s.weights)
        in.add_weights(w);
      in.set_in_features(s.inFeatures);
      in.set_samples(s.samples);
      in.mutable_mean_square()->Add(s.meanSquare.begin(), s.meanSquare.end());
      in.mutable_mean_abs()->Add(s.meanAbs.begin(), s.meanAbs.end());
      in.mutable_abs_max()->Add(s.absMax.begin(), s.absMax.end());
      if (!s.hessian.empty()) {
        int64_t k = s.inFeatures;
        auto *upper = in.mutable_hessian_upper();
        upper->Reserve(int(k * (k + 1) / 2));
        for (int64_t i = 0; i < k; ++i)
          upper->Add(s.hessian.begin() + i * k + i,
                     s.hessian.begin() + (i + 1) * k);
      }
      size_t bytes = in.ByteSizeLong();
      if (bytes > size_t(INT_MAX))
        return fileError(path,
                         "statistics of '{0}' exceed protobuf's 2 GiB "
                         "message limit",
                         s.weights.front());
      os << char(kInputsKey);
      writeVarint(os, bytes);
      os << in.SerializeAsString();
    }
    os << trailer.SerializeAsString();
    return Error::success();
  });
}

namespace {
/// Walks the top-level fields of a Statistics message.
struct FieldCursor {
  const uint8_t *p, *end;

  bool varint(uint64_t &v) {
    v = 0;
    for (unsigned shift = 0; shift < 64 && p < end; shift += 7) {
      uint8_t b = *p++;
      v |= uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80))
        return true;
    }
    return false;
  }
  /// Skips the payload of a field of wire type `wire`.
  bool skip(unsigned wire) {
    uint64_t n;
    switch (wire) {
    case 0:
      return varint(n);
    case 1:
      n = 8;
      break;
    case 2:
      if (!varint(n))
        return false;
      break;
    case 5:
      n = 4;
      break;
    default:
      return false;
    }
    if (n > uint64_t(end - p))
      return false;
    p += n;
    return true;
  }
};
} // namespace

static Expected<LinearStatistics> fromProto(const pb::Input &in, size_t index,
                                            StringRef path) {
  LinearStatistics s;
  s.weights.assign(in.weights().begin(), in.weights().end());
  s.inFeatures = in.in_features();
  s.samples = in.samples();
  int64_t k = s.inFeatures;
  std::string what = s.weights.empty() ? formatv("entry {0}", index).str()
                                       : "'" + s.weights.front() + "'";
  if (s.weights.empty() || k <= 0 || s.samples < 0)
    return fileError(path, "statistics entry {0} is malformed", index);
  auto check = [&](int64_t size, const char *field, int64_t want) -> Error {
    if (size == want)
      return Error::success();
    return fileError(path,
                     "statistics of {0}: {1} has {2} values, expected "
                     "{3}",
                     what, field, size, want);
  };
  if (Error e = check(in.mean_square_size(), "mean_square", k))
    return std::move(e);
  if (Error e = check(in.mean_abs_size(), "mean_abs", k))
    return std::move(e);
  if (Error e = check(in.abs_max_size(), "abs_max", k))
    return std::move(e);
  if (in.hessian_upper_size() != 0)
    if (Error e =
            check(in.hessian_upper_size(), "hessian_upper", k * (k + 1) / 2))
      return std::move(e);
  // Means and maxima of x² and |x| are finite and non-negative; the
  // quantizers weight errors by them (an imatrix .dat is held to the same).
  for (auto [values, field] :
       {std::pair{&in.mean_square(), "mean_square"},
        {&in.mean_abs(), "mean_abs"},
        {&in.abs_max(), "abs_max"}})
    for (float v : *values)
      if (!std::isfinite(v) || v < 0)
        return fileError(path, "statistics of {0}: {1} holds a negative or "
                         "non-finite value ({2})", what, field, v);
  for (float v : in.hessian_upper())
    if (!std::isfinite(v))
      return fileError(path, "statistics of {0}: hessian_upper holds a "
                       "non-finite value ({1})", what, v);
  s.meanSquare.assign(in.mean_square().begin(), in.mean_square().end());
  s.meanAbs.assign(in.mean_abs().begin(), in.mean_abs().end());
  s.absMax.assign(in.abs_max().begin(), in.abs_max().end());
  if (in.hessian_upper_size() != 0) {
    s.hessian.resize(size_t(k * k));
    const float *upper = in.hessian_upper().data();
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = i; j < k; ++j)
        s.hessian[i * k + j] = s.hessian[j * k + i] = *upper++;
  }
  return s;
}

Expected<CalibrationStatistics> CalibrationStatistics::load(StringRef path) {
  auto buffer = readInputFile(path, /*IsText=*/false,
                                      /*RequiresNullTerminator=*/false);
  if (!buffer)
    return fileError(path, "cannot open: {0}", buffer.getError().message());
  StringRef data = (*buffer)->getBuffer();

  pb::Statistics magicOnly;
  magicOnly.set_magic(kMagic);
  if (!data.starts_with(magicOnly.SerializeAsString()))
    return fileError(path, "not a calibration statistics file");

  // Entries are parsed one by one; everything else is gathered and parsed
  // as a Statistics message (small: the header and the trailer).
  CalibrationStatistics stats;
  std::string rest;
  FieldCursor cursor{data.bytes_begin(), data.bytes_end()};
  auto truncated = [&]() {
    return fileError(path,
                     "truncated or corrupt calibration statistics file "
                     "(damaged after {0} complete entries)",
                     stats.entries.size());
  };
  while (cursor.p < cursor.end) {
    const uint8_t *start = cursor.p;
    uint64_t key;
    if (!cursor.varint(key))
      return truncated();
    if (key == kInputsKey) {
      uint64_t n;
      if (!cursor.varint(n) || n > uint64_t(cursor.end - cursor.p))
        return truncated();
      if (n > uint64_t(INT_MAX))
        return fileError(path, "statistics entry {0} is larger than 2 GiB",
                         stats.entries.size());
      pb::Input in;
      if (!in.ParseFromArray(cursor.p, int(n)))
        return truncated();
      cursor.p += n;
      Expected<LinearStatistics> s = fromProto(in, stats.entries.size(), path);
      if (!s)
        return s.takeError();
      if (Error e = stats.add(std::move(*s)))
        return fileError(path, "{0}", toString(std::move(e)));
      continue;
    }
    if (!cursor.skip(unsigned(key & 7)))
      return truncated();
    rest.append(reinterpret_cast<const char *>(start), cursor.p - start);
  }
  pb::Statistics header;
  if (!header.ParseFromString(rest))
    return truncated();
  if (header.version() != kVersion)
    return fileError(path,
                     "calibration statistics version {0}; this build "
                     "reads version {1}",
                     header.version(), kVersion);
  if (!header.has_input_count() ||
      header.input_count() != int64_t(stats.entries.size()))
    return truncated();

  const pb::Model &m = header.model();
  stats.model = {
      m.arch(),       m.vocab_size(), m.hidden_size(), m.intermediate_size(),
      m.num_layers(), m.num_heads(),  m.num_kv_heads()};
  stats.text = header.text();
  stats.windows = header.windows();
  stats.windowLength = header.window_length();
  stats.seed = header.seed();
  stats.bosWindows = header.bos_windows();
  return std::move(stats);
}

Expected<CalibrationStatistics>
CalibrationStatistics::load(StringRef path, const ModelConfig &expected) {
  Expected<CalibrationStatistics> stats = load(path);
  if (!stats)
    return stats.takeError();
  if (Error e = stats->checkModel(expected, path))
    return std::move(e);
  return stats;
}
