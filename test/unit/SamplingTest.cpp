//===- SamplingTest.cpp - Greedy, temperature, top-k and top-p ------------===//
#include "lowbit/Interpreter/Generate.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

using namespace lowbit;

TEST(Sampling, GreedyPicksTheArgmaxFirstOnTies) {
  std::vector<float> logits{0.5f, 3.0f, 3.0f, -1.0f};
  SamplingOptions o; // temperature 0
  uint64_t rng = 1;
  EXPECT_EQ(sampleToken(logits.data(), 4, o, rng), 1);
}

TEST(Sampling, TopKOneIsGreedy) {
  std::vector<float> logits{0.1f, 0.2f, 5.0f, 0.3f};
  SamplingOptions o;
  o.temperature = 1.0f;
  o.topK = 1;
  uint64_t rng = 42;
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(sampleToken(logits.data(), 4, o, rng), 2);
}

TEST(Sampling, TopPKeepsTheSmallestNucleus) {
  // Probabilities ~ {0.64, 0.24, 0.09, 0.03}: top-p 0.8 keeps the first two.
  std::vector<float> logits{3.0f, 2.0f, 1.0f, -0.1f};
  SamplingOptions o;
  o.temperature = 1.0f;
  o.topP = 0.8f;
  uint64_t rng = 7;
  std::map<int, int> counts;
  for (int i = 0; i < 4000; ++i)
    ++counts[sampleToken(logits.data(), 4, o, rng)];
  EXPECT_EQ(counts.count(2), 0u);
  EXPECT_EQ(counts.count(3), 0u);
  // Renormalized: 0.64 / (0.64 + 0.24) ~ 0.73.
  EXPECT_NEAR(counts[0] / 4000.0, 0.731, 0.03);
}

TEST(Sampling, TemperatureFollowsTheSoftmax) {
  std::vector<float> logits{0.0f, std::log(3.0f)}; // p = {0.25, 0.75}
  SamplingOptions o;
  o.temperature = 1.0f;
  uint64_t rng = 3;
  int ones = 0;
  for (int i = 0; i < 8000; ++i)
    ones += sampleToken(logits.data(), 2, o, rng);
  EXPECT_NEAR(ones / 8000.0, 0.75, 0.02);
}

TEST(Sampling, SameSeedSameStream) {
  std::vector<float> logits(50);
  for (int i = 0; i < 50; ++i)
    logits[i] = float(i % 7);
  SamplingOptions o;
  o.temperature = 0.8f;
  uint64_t a = 99, b = 99;
  for (int i = 0; i < 20; ++i)
    EXPECT_EQ(sampleToken(logits.data(), 50, o, a),
              sampleToken(logits.data(), 50, o, b));
}
