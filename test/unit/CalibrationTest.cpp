//===- CalibrationTest.cpp - Calibration statistics and their file --------===//
#include "lowbit/Calibration/Calibrate.h"
#include "lowbit/Calibration/Sensitivity.h"
#include "lowbit/Calibration/Statistics.h"
#include "lowbit/Formats/HfConfig.h"
#include "lowbit/Import/ModelLoader.h"
#include "lowbit/Interpreter/Interpreter.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

using namespace lowbit;

namespace {

/// Values on a 1/4 grid with |x| <= 8: every product and every partial sum
/// below is exact in float, so the statistics have one right answer.
std::vector<float> gridActivations(int64_t rows, int64_t k, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<float> x(size_t(rows * k));
  for (float &v : x)
    v = float(int(rng() % 65) - 32) / 4.0f;
  return x;
}

ModelConfig tinyConfig() {
  ModelConfig c;
  c.arch = "llama";
  c.vocabSize = 4096;
  c.hiddenSize = 256;
  c.intermediateSize = 768;
  c.numLayers = 4;
  c.numHeads = 4;
  c.numKvHeads = 2;
  c.headDim = 64;
  return c;
}

class TempDir {
public:
  TempDir() {
    std::error_code ec =
        llvm::sys::fs::createUniqueDirectory("lowbit-calibration", dir);
    EXPECT_FALSE(ec) << ec.message();
  }
  ~TempDir() { llvm::sys::fs::remove_directories(dir); }
  std::string path(llvm::StringRef name) const {
    llvm::SmallString<256> p(dir);
    llvm::sys::path::append(p, name);
    return std::string(p);
  }

private:
  llvm::SmallString<256> dir;
};

void writeBytes(const std::string &path, llvm::StringRef bytes) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  ASSERT_FALSE(ec) << ec.message();
  os << bytes;
}

std::string readBytes(const std::string &path) {
  auto buffer = llvm::MemoryBuffer::getFile(path);
  EXPECT_TRUE(bool(buffer));
  return buffer ? (*buffer)->getBuffer().str() : std::string();
}

template <typename T> std::string errorOf(llvm::Expected<T> value) {
  if (value)
    return "";
  return llvm::toString(value.takeError());
}

bool bitEqual(const std::vector<float> &a, const std::vector<float> &b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * 4) == 0);
}

/// Statistics of two linear inputs with arbitrary float values.
CalibrationStatistics sampleStatistics() {
  CalibrationStatistics stats;
  stats.model = ModelFingerprint::of(tinyConfig());
  stats.text = "calib.txt";
  stats.windows = 3;
  stats.windowLength = 7;
  stats.seed = 42;
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  for (int64_t k : {5, 3}) {
    StatisticsAccumulator acc(k, /*collectHessian=*/k == 5);
    std::vector<float> x(size_t(21 * k));
    for (float &v : x)
      v = normal(rng);
    acc.add(x.data(), 21);
    std::vector<std::string> names;
    if (k == 5)
      names = {"layers.0.q.weight", "layers.0.k.weight", "layers.0.v.weight"};
    else
      names = {"layers.0.down.weight"};
    EXPECT_FALSE(bool(stats.add(acc.finish(names))));
  }
  return stats;
}

TEST(StatisticsAccumulator, MatchesNaiveSums) {
  const int64_t k = 6;
  const std::vector<int64_t> batches = {4, 1, 9};
  StatisticsAccumulator acc(k, /*collectHessian=*/true);
  std::vector<float> all;
  for (size_t b = 0; b < batches.size(); ++b) {
    std::vector<float> x = gridActivations(batches[b], k, unsigned(b));
    acc.add(x.data(), batches[b]);
    all.insert(all.end(), x.begin(), x.end());
  }
  int64_t n = int64_t(all.size()) / k;
  LinearStatistics s = acc.finish({"w"});
  ASSERT_EQ(s.samples, n);
  ASSERT_EQ(s.inFeatures, k);
  ASSERT_EQ(s.hessian.size(), size_t(k * k));
  for (int64_t c = 0; c < k; ++c) {
    double sq = 0, abs = 0, max = 0;
    for (int64_t r = 0; r < n; ++r) {
      double v = all[r * k + c];
      sq += v * v;
      abs += std::fabs(v);
      max = std::max(max, std::fabs(v));
    }
    EXPECT_EQ(s.meanSquare[c], float(sq / double(n))) << c;
    EXPECT_EQ(s.meanAbs[c], float(abs / double(n))) << c;
    EXPECT_EQ(s.absMax[c], float(max)) << c;
  }
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < k; ++j) {
      double dot = 0;
      for (int64_t r = 0; r < n; ++r)
        dot += double(all[r * k + i]) * all[r * k + j];
      EXPECT_EQ(s.hessian[i * k + j], float(2.0 * dot / double(n)))
          << i << "," << j;
    }
}

// Inputs wider than kWholeGramColumns sum XᵀX in bands of rows: the same
// exact values as the whole-matrix path.
TEST(StatisticsAccumulator, WideInputsSumInBands) {
  const int64_t k = 4100, n = 3;
  StatisticsAccumulator acc(k, /*collectHessian=*/true);
  std::vector<float> x = gridActivations(n, k, 7);
  acc.add(x.data(), n);
  LinearStatistics s = acc.finish({"w"});
  ASSERT_EQ(s.hessian.size(), size_t(k * k));
  for (int64_t i = 0; i < k; i += 37)
    for (int64_t j = 0; j < k; j += 13) {
      double dot = 0;
      for (int64_t r = 0; r < n; ++r)
        dot += double(x[r * k + i]) * x[r * k + j];
      ASSERT_EQ(s.hessian[i * k + j], float(2.0 * dot / double(n)))
          << i << "," << j;
    }
}

TEST(StatisticsAccumulator, HessianIsOptional) {
  StatisticsAccumulator acc(4, /*collectHessian=*/false);
  std::vector<float> x = gridActivations(3, 4, 1);
  acc.add(x.data(), 3);
  LinearStatistics s = acc.finish({"w"});
  EXPECT_TRUE(s.hessian.empty());
  EXPECT_EQ(s.meanSquare.size(), 4u);
}

TEST(CalibrationStatistics, LookupSharesAnEntryPerInput) {
  CalibrationStatistics stats = sampleStatistics();
  ASSERT_EQ(stats.inputs().size(), 2u);
  EXPECT_EQ(stats.lookup("layers.0.q.weight"),
            stats.lookup("layers.0.v.weight"));
  EXPECT_NE(stats.lookup("layers.0.q.weight"),
            stats.lookup("layers.0.down.weight"));
  EXPECT_EQ(stats.lookup("layers.1.q.weight"), nullptr);
  StatisticsAccumulator acc(5, false);
  llvm::Error e = stats.add(acc.finish({"layers.0.k.weight"}));
  EXPECT_EQ(llvm::toString(std::move(e)),
            "two statistics entries for weight 'layers.0.k.weight'");
}

TEST(CalibrationStatistics, SaveLoadRoundTripIsBitExact) {
  TempDir dir;
  CalibrationStatistics stats = sampleStatistics();
  std::string path = dir.path("stats.pb");
  ASSERT_FALSE(bool(stats.save(path)));
  llvm::Expected<CalibrationStatistics> back =
      CalibrationStatistics::load(path, tinyConfig());
  ASSERT_TRUE(bool(back)) << llvm::toString(back.takeError());
  EXPECT_TRUE(back->model == stats.model);
  EXPECT_EQ(back->text, "calib.txt");
  EXPECT_EQ(back->windows, 3);
  EXPECT_EQ(back->windowLength, 7);
  EXPECT_EQ(back->seed, 42u);
  ASSERT_EQ(back->inputs().size(), stats.inputs().size());
  for (size_t i = 0; i < stats.inputs().size(); ++i) {
    const LinearStatistics &a = stats.inputs()[i], &b = back->inputs()[i];
    EXPECT_EQ(a.weights, b.weights);
    EXPECT_EQ(a.inFeatures, b.inFeatures);
    EXPECT_EQ(a.samples, b.samples);
    EXPECT_TRUE(bitEqual(a.meanSquare, b.meanSquare));
    EXPECT_TRUE(bitEqual(a.meanAbs, b.meanAbs));
    EXPECT_TRUE(bitEqual(a.absMax, b.absMax));
    EXPECT_TRUE(bitEqual(a.hessian, b.hessian));
  }
  EXPECT_EQ(back->lookup("layers.0.k.weight"), &back->inputs()[0]);
  // Saving what was loaded gives the same bytes.
  std::string again = dir.path("again.pb");
  ASSERT_FALSE(bool(back->save(again)));
  EXPECT_EQ(readBytes(path), readBytes(again));
}

TEST(CalibrationStatistics, EveryTruncationIsAnError) {
  TempDir dir;
  std::string path = dir.path("stats.pb"), cut = dir.path("cut.pb");
  // (A new file: this process has read x.pb, so it may not be overwritten.)
  path = dir.path("damaged.pb");
  ASSERT_FALSE(bool(sampleStatistics().save(path)));
  std::string bytes = readBytes(path);
  for (size_t n = 0; n < bytes.size(); ++n) {
    writeBytes(cut, llvm::StringRef(bytes).take_front(n));
    std::string error = errorOf(CalibrationStatistics::load(cut));
    EXPECT_FALSE(error.empty()) << "cut at " << n << " of " << bytes.size();
    EXPECT_EQ(error.rfind(cut + ": ", 0), 0u) << error;
  }
  // Past the magic, the message says what happened.
  writeBytes(cut, llvm::StringRef(bytes).take_front(bytes.size() - 3));
  EXPECT_NE(errorOf(CalibrationStatistics::load(cut)).find("truncated"),
            std::string::npos);
}

TEST(CalibrationStatistics, RejectsOtherFiles) {
  TempDir dir;
  std::string path = dir.path("x.pb");
  writeBytes(path, "In the beginning God created the heaven and the earth.\n");
  EXPECT_EQ(errorOf(CalibrationStatistics::load(path)),
            path + ": not a calibration statistics file");
  writeBytes(path, "");
  EXPECT_EQ(errorOf(CalibrationStatistics::load(path)),
            path + ": not a calibration statistics file");
  std::string missing = dir.path("missing.pb");
  EXPECT_EQ(errorOf(CalibrationStatistics::load(missing))
                .rfind(missing + ": cannot open: ", 0),
            0u);

  // A damaged width inside an entry is caught by the consistency checks:
  // in_features = 5, samples = 21 (fields 2 and 3) becomes in_features = 6.
  // (A new file: this process has read x.pb, so it may not be overwritten.)
  path = dir.path("damaged.pb");
  ASSERT_FALSE(bool(sampleStatistics().save(path)));
  std::string bytes = readBytes(path);
  size_t at = bytes.find(llvm::StringRef("\x10\x05\x18\x15", 4));
  ASSERT_NE(at, std::string::npos);
  bytes[at + 1] = 6;
  writeBytes(path, bytes);
  EXPECT_EQ(errorOf(CalibrationStatistics::load(path)),
            path + ": statistics of 'layers.0.q.weight': mean_square has 5 "
                   "values, expected 6");
}

TEST(CalibrationStatistics, RejectsAnotherModel) {
  TempDir dir;
  std::string path = dir.path("stats.pb");
  ASSERT_FALSE(bool(sampleStatistics().save(path)));
  ModelConfig other = tinyConfig();
  other.hiddenSize = 512;
  EXPECT_EQ(errorOf(CalibrationStatistics::load(path, other)),
            path + ": statistics of another model (llama, vocab 4096, hidden "
                   "256, intermediate 768, 4 layers, 4 heads, 2 kv heads), not "
                   "of this one (llama, vocab 4096, hidden 512, intermediate "
                   "768, 4 layers, 4 heads, 2 kv heads)");
}

TEST(CalibrationStatistics, SaveChecksShapes) {
  TempDir dir;
  std::string path = dir.path("stats.pb");
  CalibrationStatistics stats;
  StatisticsAccumulator acc(3, true);
  std::vector<float> x = gridActivations(2, 3, 3);
  acc.add(x.data(), 2);
  LinearStatistics s = acc.finish({"w"});
  s.hessian[1] += 1.0f; // H[0][1] != H[1][0]
  ASSERT_FALSE(bool(stats.add(s)));
  EXPECT_EQ(llvm::toString(stats.save(path)),
            path + ": the Hessian of 'w' is not symmetric");
  EXPECT_FALSE(llvm::sys::fs::exists(path));
}

TEST(SampleWindowStarts, DeterministicAndInRange) {
  std::vector<int64_t> a = sampleWindowStarts(1000, 100, 64, 0);
  ASSERT_EQ(a.size(), 64u);
  EXPECT_EQ(a, sampleWindowStarts(1000, 100, 64, 0));
  EXPECT_NE(a, sampleWindowStarts(1000, 100, 64, 1));
  bool sawLast = false;
  for (int64_t s : sampleWindowStarts(105, 100, 200, 3)) {
    EXPECT_GE(s, 0);
    EXPECT_LE(s, 5);
    sawLast |= s == 5;
  }
  EXPECT_TRUE(sawLast); // the window ending at the last token can be drawn
  EXPECT_EQ(sampleWindowStarts(100, 100, 3, 0), std::vector<int64_t>(3, 0));
  EXPECT_TRUE(sampleWindowStarts(99, 100, 3, 0).empty());
}

/// calibrate() on the bundled model: wiring, not numerics (those are above).
class CalibrateTiny : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    llvm::Expected<std::unique_ptr<LoadedModel>> m =
        loadModel(LOWBIT_MODELS_DIR "/tiny-5m");
    if (!m) {
      llvm::consumeError(m.takeError());
      return;
    }
    model = std::move(*m);
  }
  static void TearDownTestSuite() { model.reset(); }
  void SetUp() override {
    if (!model)
      GTEST_SKIP() << "models/tiny-5m is not available";
  }

  llvm::Expected<CalibrationStatistics> run(const CalibrationOptions &o) {
    return calibrate(*model->module, model->weights, *model->tokenizer,
                     "In the beginning God created the heaven and the earth. "
                     "And the earth was without form, and void; and darkness "
                     "was upon the face of the deep. And the Spirit of God "
                     "moved upon the face of the waters.",
                     o);
  }
  static CalibrationOptions options(bool hessian) {
    CalibrationOptions o;
    o.windows = 3;
    o.windowLength = 16;
    o.seed = 5;
    o.collectHessian = hessian;
    o.showProgress = false;
    return o;
  }

  static std::unique_ptr<LoadedModel> model;
};
std::unique_ptr<LoadedModel> CalibrateTiny::model;

TEST_F(CalibrateTiny, OneEntryPerLinearInput) {
  llvm::Expected<CalibrationStatistics> stats = run(options(true));
  ASSERT_TRUE(bool(stats)) << llvm::toString(stats.takeError());
  // Per layer: q/k/v, o, gate/up, down; then the output projection.
  EXPECT_EQ(stats->inputs().size(), size_t(4 * 4 + 1));
  EXPECT_TRUE(stats->model == ModelFingerprint::of(model->config));
  const LinearStatistics *q =
      stats->lookup("model.layers.2.self_attn.q_proj.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q, stats->lookup("model.layers.2.self_attn.v_proj.weight"));
  EXPECT_EQ(q->samples, 3 * 16);
  const LinearStatistics *down =
      stats->lookup("model.layers.0.mlp.down_proj.weight");
  ASSERT_NE(down, nullptr);
  EXPECT_EQ(down->inFeatures, 768);
  ASSERT_NE(stats->lookup("lm_head.weight"), nullptr);
  // H[i][i] = 2 E[x_i^2]: the Hessian and the mean square see the same rows.
  for (const LinearStatistics &s : stats->inputs())
    for (int64_t i = 0; i < s.inFeatures; ++i)
      ASSERT_NEAR(s.hessian[i * s.inFeatures + i], 2 * s.meanSquare[i],
                  1e-5 * s.meanSquare[i] + 1e-12)
          << s.weights.front() << " channel " << i;
}

TEST_F(CalibrateTiny, DeterministicAndHessianIndependent) {
  llvm::Expected<CalibrationStatistics> a = run(options(true));
  llvm::Expected<CalibrationStatistics> b = run(options(false));
  ASSERT_TRUE(a && b);
  ASSERT_EQ(a->inputs().size(), b->inputs().size());
  for (size_t i = 0; i < a->inputs().size(); ++i) {
    EXPECT_TRUE(bitEqual(a->inputs()[i].meanSquare, b->inputs()[i].meanSquare));
    EXPECT_TRUE(bitEqual(a->inputs()[i].absMax, b->inputs()[i].absMax));
    EXPECT_TRUE(b->inputs()[i].hessian.empty());
  }
  CalibrationOptions other = options(false);
  other.seed = 6;
  llvm::Expected<CalibrationStatistics> c = run(other);
  ASSERT_TRUE(bool(c));
  EXPECT_FALSE(bitEqual(b->inputs()[0].meanSquare, c->inputs()[0].meanSquare));
}

TEST_F(CalibrateTiny, Errors) {
  CalibrationOptions o = options(false);
  o.windowLength = 512;
  std::string error = errorOf(run(o));
  EXPECT_EQ(error.find("calibration text has "), 0u) << error;
  EXPECT_NE(error.find(" tokens, fewer than one window of 512"),
            std::string::npos);
  o = options(false);
  o.windows = 0;
  EXPECT_EQ(errorOf(run(o)), "calibration needs at least one window, not 0");
  o = options(false);
  o.windowLength = 2048;
  EXPECT_EQ(errorOf(run(o)), "calibration window of 2048 tokens exceeds the "
                             "model's context length 1024");
  EXPECT_EQ(
      errorOf(calibrateFile(*model->module, model->weights, *model->tokenizer,
                            "/nonexistent/calib.txt", options(false))),
      "/nonexistent/calib.txt: cannot open: No such file or directory");
}

/// Reference-style windows: BOS, then the text's encoding from a character
/// offset; every window full, reproducible, recorded in the statistics.
TEST_F(CalibrateTiny, BosWindows) {
  std::string text;
  for (int i = 0; i < 200; ++i)
    text += "And God said, Let there be light: and there was light. ";
  CalibrationOptions o = options(false);
  o.bosWindows = true;
  o.windows = 6;
  llvm::Expected<std::vector<std::vector<int32_t>>> windows =
      calibrationWindows(*model->tokenizer, text, "", 1024, o);
  ASSERT_TRUE(bool(windows)) << llvm::toString(windows.takeError());
  ASSERT_EQ(windows->size(), 6u);
  int64_t bos = model->tokenizer->vocabulary().bosId;
  std::vector<int64_t> starts =
      sampleWindowStarts(int64_t(text.size()), 8000, 6, 5);
  for (size_t w = 0; w < windows->size(); ++w) {
    const std::vector<int32_t> &window = (*windows)[w];
    ASSERT_EQ(window.size(), 16u);
    EXPECT_EQ(window[0], bos);
    std::vector<int> expected =
        model->tokenizer->encode(llvm::StringRef(text).substr(starts[w], 8000));
    ASSERT_GE(expected.size(), 15u);
    EXPECT_TRUE(std::equal(window.begin() + 1, window.end(), expected.begin()))
        << "window " << w;
  }
  llvm::Expected<std::vector<std::vector<int32_t>>> again =
      calibrationWindows(*model->tokenizer, text, "", 1024, o);
  ASSERT_TRUE(bool(again));
  EXPECT_EQ(*again, *windows);
  EXPECT_NE((*windows)[0], (*windows)[1]); // different offsets
  std::string error = errorOf(calibrationWindows(
      *model->tokenizer, "In the beginning", "t.txt", 1024, o));
  EXPECT_EQ(error.find("t.txt: calibration text from character "), 0u) << error;

  o = options(false);
  o.bosWindows = true;
  llvm::Expected<CalibrationStatistics> stats = run(o);
  ASSERT_TRUE(bool(stats)) << llvm::toString(stats.takeError());
  EXPECT_TRUE(stats->bosWindows);
  TempDir dir;
  ASSERT_FALSE(bool(stats->save(dir.path("s.pb"))));
  llvm::Expected<CalibrationStatistics> loaded =
      CalibrationStatistics::load(dir.path("s.pb"));
  ASSERT_TRUE(bool(loaded));
  EXPECT_TRUE(loaded->bosWindows);
}

/// measureSensitivity() replays each tensor's layer from saved activations:
/// an unperturbed replay must reproduce the float model exactly, and the
/// usage statistics must be calibrate()'s.
TEST_F(CalibrateTiny, SensitivityReplaysTheFloatModel) {
  TempDir dir;
  std::string text = dir.path("calib.txt");
  writeBytes(text, "In the beginning God created the heaven and the earth. "
                   "And the earth was without form, and void; and darkness "
                   "was upon the face of the deep. And the Spirit of God "
                   "moved upon the face of the waters.");
  CalibrationOptions o = options(false);
  std::vector<std::string> names = {"model.embed_tokens.weight",
                                    "model.layers.1.mlp.down_proj.weight",
                                    "model.layers.3.self_attn.v_proj.weight",
                                    "lm_head.weight"};
  llvm::Expected<SensitivityResult> same = measureSensitivity(
      *model->module, model->weights, *model->tokenizer, text, o, names,
      [](const TensorUsage &, std::vector<float> &) {
        return llvm::Error::success();
      });
  ASSERT_TRUE(bool(same)) << llvm::toString(same.takeError());
  ASSERT_EQ(same->divergence.size(), names.size());
  for (size_t i = 0; i < names.size(); ++i)
    EXPECT_EQ(same->divergence[i], 0.0) << names[i];

  llvm::Expected<CalibrationStatistics> stats = run(o);
  ASSERT_TRUE(bool(stats));
  for (size_t i = 1; i < names.size(); ++i) {
    const TensorUsage &u = same->usage[i];
    const LinearStatistics *s = stats->lookup(names[i]);
    ASSERT_NE(s, nullptr);
    ASSERT_EQ(u.columnWeight.size(), size_t(s->inFeatures)) << names[i];
    EXPECT_TRUE(u.rowWeight.empty());
    for (int64_t c = 0; c < s->inFeatures; ++c)
      ASSERT_NEAR(u.columnWeight[c], s->meanSquare[c], 1e-5 * s->meanSquare[c])
          << names[i] << " column " << c;
  }
  const TensorUsage &embedding = same->usage[0];
  EXPECT_TRUE(embedding.columnWeight.empty());
  EXPECT_EQ(embedding.rows, 4096);
  double tokens = 0;
  for (float n : embedding.rowWeight)
    tokens += n;
  EXPECT_EQ(tokens, 3 * 16);

  // Noise on a weight moves the output, and more noise moves it more.
  auto noisy = [&](float amount) {
    return measureSensitivity(
        *model->module, model->weights, *model->tokenizer, text, o, names,
        [amount](const TensorUsage &, std::vector<float> &w) {
          std::mt19937 rng(1);
          std::normal_distribution<float> noise(0.0f, amount);
          for (float &v : w)
            v += noise(rng);
          return llvm::Error::success();
        });
  };
  llvm::Expected<SensitivityResult> small = noisy(0.01f), large = noisy(0.04f);
  ASSERT_TRUE(small && large);
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_GT(small->divergence[i], 0.0) << names[i];
    EXPECT_GT(large->divergence[i], 4 * small->divergence[i]) << names[i];
  }

  std::string error = errorOf(measureSensitivity(
      *model->module, model->weights, *model->tokenizer, text, o,
      {"model.layers.9.mlp.up_proj.weight"},
      [](const TensorUsage &, std::vector<float> &) {
        return llvm::Error::success();
      }));
  EXPECT_EQ(error, "no weight matrix named 'model.layers.9.mlp.up_proj.weight' "
                   "is used by @forward");
}

/// A streaming interpreter computes what the eager one does, refuses to run
/// a released layer, and a frame saved part of the way continues exactly.
TEST_F(CalibrateTiny, StreamingInterpreterMatchesEager) {
  std::vector<int32_t> tokens = {1, 450, 3303, 17, 2987, 1024, 7, 99};
  std::vector<int32_t> positions(tokens.size());
  for (size_t i = 0; i < positions.size(); ++i)
    positions[i] = int32_t(i);
  auto eager = Interpreter::create(*model->module, model->weights);
  ASSERT_TRUE(bool(eager)) << llvm::toString(eager.takeError());
  InterpreterOptions streamingOptions;
  streamingOptions.streamWeights = true;
  auto streaming =
      Interpreter::create(*model->module, model->weights, streamingOptions);
  ASSERT_TRUE(bool(streaming)) << llvm::toString(streaming.takeError());
  llvm::Expected<Activation> a = (*eager)->forward(tokens, positions);
  llvm::Expected<Activation> b = (*streaming)->forward(tokens, positions);
  ASSERT_TRUE(bool(a)) << llvm::toString(a.takeError());
  ASSERT_TRUE(bool(b)) << llvm::toString(b.takeError());
  ASSERT_EQ(a->data.size(), b->data.size());
  for (size_t i = 0; i < a->data.size(); ++i)
    ASSERT_NEAR(a->data[i], b->data[i], 1e-4f * (1 + std::fabs(a->data[i]))) << i;

  // A frame stopped half way, saved and loaded, ends where the original does.
  mlir::Operation *middle = nullptr;
  int64_t count = 0;
  model->module->walk([&](mlir::Operation *op) {
    if (op->getName().getStringRef() == "lowbit.linear" && ++count == 9)
      middle = op;
  });
  ASSERT_TRUE(middle);
  ExecutionFrame frame = (*streaming)->begin(tokens, positions);
  (*streaming)->resetCache();
  ASSERT_FALSE(bool((*streaming)->run(frame, middle)));
  std::string saved;
  (*streaming)->saveFrame(frame, saved);
  llvm::StringRef bytes = saved;
  llvm::Expected<ExecutionFrame> loaded = (*streaming)->loadFrame(bytes);
  ASSERT_TRUE(bool(loaded)) << llvm::toString(loaded.takeError());
  EXPECT_TRUE(bytes.empty());
  // Both continue from the same point (each run of a window starts with a
  // fresh cache, as the layer-by-layer driver runs them).
  (*streaming)->resetCache();
  ASSERT_FALSE(bool((*streaming)->run(frame)));
  (*streaming)->resetCache();
  ASSERT_FALSE(bool((*streaming)->run(*loaded)));
  ASSERT_TRUE(frame.finished && loaded->finished);
  EXPECT_TRUE(bitEqual(frame.result.data, loaded->result.data));

  // Truncated bytes are an error, not a crash.
  llvm::StringRef cut = llvm::StringRef(saved).drop_back(5);
  EXPECT_NE(errorOf((*streaming)->loadFrame(cut)), "");

  // Once layer 0 is released, running it again is refused.
  (*streaming)->releaseLayersBefore(1);
  EXPECT_NE(errorOf((*streaming)->forward(tokens, positions)).find("was released"),
            std::string::npos);
}

} // namespace
