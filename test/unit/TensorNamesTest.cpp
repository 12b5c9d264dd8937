//===- TensorNamesTest.cpp - HF <-> GGUF tensor names ---------------------===//
#include "lowbit/Formats/TensorNames.h"

#include <gtest/gtest.h>

using namespace lowbit;

TEST(TensorNames, MapsBothConventions) {
  EXPECT_EQ(weightName(Naming::HuggingFace, WeightRole::Query, 3),
            "model.layers.3.self_attn.q_proj.weight");
  EXPECT_EQ(weightName(Naming::Gguf, WeightRole::Query, 3), "blk.3.attn_q.weight");
  EXPECT_EQ(weightName(Naming::Gguf, WeightRole::Embedding), "token_embd.weight");
  EXPECT_EQ(weightName(Naming::Gguf, WeightRole::FfnNorm, 0), "blk.0.ffn_norm.weight");
  EXPECT_EQ(weightName(Naming::HuggingFace, WeightRole::Output), "lm_head.weight");
}

TEST(TensorNames, ParsesWhatItNames) {
  for (Naming naming : {Naming::HuggingFace, Naming::Gguf})
    for (int role = 0; role <= int(WeightRole::Output); ++role)
      for (int64_t layer : {0, 7, 31}) {
        std::string name = weightName(naming, WeightRole(role), layer);
        auto parsed = parseWeightName(name);
        ASSERT_TRUE(parsed.has_value()) << name;
        EXPECT_EQ(int(parsed->role), role) << name;
        EXPECT_EQ(parsed->naming, naming) << name;
        if (name.find("layers.") != std::string::npos || name.rfind("blk.", 0) == 0) {
          EXPECT_EQ(parsed->layer, layer) << name;
        }
      }
  EXPECT_FALSE(parseWeightName("model.layers.x.self_attn.q_proj.weight"));
  EXPECT_FALSE(parseWeightName("blk.0.attn_qkv.weight"));
}
