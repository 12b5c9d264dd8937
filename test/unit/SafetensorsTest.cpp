//===- SafetensorsTest.cpp - Reader validation and the bundled model ------===//
#include "lowbit/Formats/HfConfig.h"
#include "lowbit/Formats/Safetensors.h"
#include "lowbit/Support/Float16.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

using namespace lowbit;

namespace {
std::string tempPath(const char *name) {
  llvm::SmallString<128> dir;
  llvm::sys::path::system_temp_directory(true, dir);
  llvm::sys::path::append(dir, std::string("lowbit-unit-") + name);
  return std::string(dir);
}

/// Writes a safetensors file with the given header JSON and data bytes.
std::string writeFile(const char *name, const std::string &header,
                      const std::string &data) {
  std::string path = tempPath(name);
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  uint64_t n = header.size();
  os.write(reinterpret_cast<const char *>(&n), 8);
  os << header << data;
  return path;
}

std::string errorOf(const std::string &path) {
  auto f = SafetensorsFile::open(path);
  if (f)
    return "";
  return llvm::toString(f.takeError());
}
} // namespace

TEST(Safetensors, ReadsValidFile) {
  std::string data(12, '\0');
  float one = 1.0f;
  memcpy(&data[4], &one, 4);
  std::string path = writeFile(
      "ok.safetensors",
      R"({"__metadata__":{"format":"pt"},"b":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
      data);
  auto f = SafetensorsFile::open(path);
  ASSERT_TRUE(bool(f)) << llvm::toString(f.takeError());
  ASSERT_EQ((*f)->tensors().size(), 2u);
  const TensorRef *a = (*f)->find("a");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->dtype, DType::F32);
  EXPECT_EQ(a->bytes, 8u);
  EXPECT_EQ(reinterpret_cast<const float *>(a->data)[1], 1.0f);
  EXPECT_EQ((*f)->metadata().at("format"), "pt");
}

TEST(Safetensors, RejectsCorruptFiles) {
  {
    std::string path = tempPath("short.safetensors");
    std::error_code ec;
    llvm::raw_fd_ostream os(path, ec);
    os << "abcd";
  }
  EXPECT_NE(errorOf(tempPath("short.safetensors")).find("truncated"),
            std::string::npos);
  // A header length that claims more bytes than the file has.
  std::string e0 = errorOf(writeFile("long.safetensors", "{}", ""));
  EXPECT_EQ(e0, ""); // an empty model is valid
  {
    std::string path = tempPath("huge.safetensors");
    std::error_code ec;
    llvm::raw_fd_ostream os(path, ec);
    uint64_t n = 4096;
    os.write(reinterpret_cast<const char *>(&n), 8);
    os << "{}";
  }
  EXPECT_NE(errorOf(tempPath("huge.safetensors")).find("does not fit"),
            std::string::npos);
  std::string e = errorOf(writeFile(
      "outside.safetensors",
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", "abcd"));
  EXPECT_NE(e.find("outside.safetensors"), std::string::npos) << e;
  EXPECT_NE(e.find("outside"), std::string::npos) << e;
  e = errorOf(writeFile("dtype.safetensors",
                        R"({"a":{"dtype":"F12","shape":[1],"data_offsets":[0,4]}})",
                        "abcd"));
  EXPECT_NE(e.find("unknown dtype 'F12'"), std::string::npos) << e;
  e = errorOf(writeFile("size.safetensors",
                        R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})",
                        "abcd"));
  EXPECT_NE(e.find("needs 8"), std::string::npos) << e;
  e = errorOf(writeFile("hole.safetensors",
                        R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                        "abcdefgh"));
  EXPECT_NE(e.find("hole"), std::string::npos) << e;
  e = errorOf(writeFile("trailing.safetensors",
                        R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                        "abcdefgh"));
  EXPECT_NE(e.find("trailing"), std::string::npos) << e;
  // A JSON parser keeps one of two entries of one name: the other tensor
  // would vanish (and its bytes look like a hole).
  e = errorOf(writeFile("dup.safetensors",
                        R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                        R"( "a" :{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                        "abcdefgh"));
  EXPECT_NE(e.find("duplicate tensor name 'a'"), std::string::npos) << e;
  // Names inside tensor entries and __metadata__ are not tensor names.
  EXPECT_EQ(errorOf(writeFile(
                "nested.safetensors",
                R"({"__metadata__":{"a":"x"},"a":{"dtype":"F32","shape":[1],)"
                R"("data_offsets":[0,4]}})",
                "abcd")),
            "");
  // Element counts overflow int64 even when a zero makes the bytes fit.
  e = errorOf(writeFile("count.safetensors",
                        R"({"a":{"dtype":"F32","shape":[4611686018427387904,3,0],)"
                        R"("data_offsets":[0,0]}})",
                        ""));
  EXPECT_NE(e.find("element count of the shape overflows"), std::string::npos)
      << e;
  e = errorOf(writeFile("json.safetensors", "{not json", ""));
  EXPECT_NE(e.find("invalid header JSON"), std::string::npos) << e;
}

TEST(Safetensors, BundledModelMatchesItsConfig) {
  std::string dir = LOWBIT_MODELS_DIR "/tiny-5m";
  auto cfg = readHfConfig(dir + "/config.json");
  ASSERT_TRUE(bool(cfg)) << llvm::toString(cfg.takeError());
  EXPECT_EQ(cfg->hiddenSize, 256);
  EXPECT_EQ(cfg->numKvHeads, 2);
  EXPECT_EQ(cfg->headDim, 64);
  EXPECT_DOUBLE_EQ(cfg->ropeTheta, 10000.0);
  auto f = SafetensorsFile::open(dir + "/model.safetensors");
  ASSERT_TRUE(bool(f)) << llvm::toString(f.takeError());
  const TensorRef *emb = (*f)->find("model.embed_tokens.weight");
  ASSERT_TRUE(emb);
  EXPECT_EQ(emb->dtype, DType::BF16);
  EXPECT_EQ(emb->shape, (std::vector<int64_t>{4096, 256}));
  const TensorRef *k = (*f)->find("model.layers.0.self_attn.k_proj.weight");
  ASSERT_TRUE(k);
  EXPECT_EQ(k->shape, (std::vector<int64_t>{128, 256}));
}

namespace {
std::string configError(const std::string &json) {
  std::string path = tempPath("config.json");
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(path, ec);
    os << json;
  }
  auto c = readHfConfig(path);
  return c ? "" : llvm::toString(c.takeError());
}
} // namespace

TEST(HfConfig, ReadsVariants) {
  std::string path = tempPath("qwen-config.json");
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(path, ec);
    os << R"({"model_type":"qwen2","vocab_size":100,"hidden_size":64,
      "intermediate_size":128,"num_hidden_layers":2,"num_attention_heads":4,
      "num_key_value_heads":2,"rms_norm_eps":1e-6,"rope_theta":1000000.0,
      "tie_word_embeddings":true})";
  }
  auto c = readHfConfig(path);
  ASSERT_TRUE(bool(c)) << llvm::toString(c.takeError());
  EXPECT_EQ(c->arch, "qwen2");
  EXPECT_TRUE(c->attentionBias);
  EXPECT_TRUE(c->tieWordEmbeddings);
  EXPECT_EQ(c->headDim, 16);
  EXPECT_DOUBLE_EQ(c->ropeTheta, 1e6);
}

TEST(HfConfig, RejectsBadConfigs) {
  const char *base = R"("vocab_size":100,"hidden_size":64,"intermediate_size":128,
      "num_hidden_layers":2,"num_attention_heads":4,"rms_norm_eps":1e-6)";
  EXPECT_NE(configError(std::string("{\"model_type\":\"gpt2\",") + base + "}")
                .find("unsupported architecture 'gpt2'"),
            std::string::npos);
  EXPECT_NE(configError(R"({"model_type":"llama","vocab_size":100})")
                .find("missing required key 'hidden_size'"),
            std::string::npos);
  EXPECT_NE(configError(std::string("{\"model_type\":\"llama\",\"num_key_value_heads\":3,") +
                        base + "}")
                .find("not a multiple"),
            std::string::npos);
  EXPECT_NE(configError(std::string("{\"model_type\":\"llama\",\"rope_scaling\":"
                                    "{\"rope_type\":\"yarn\"},") + base + "}")
                .find("unsupported rope scaling type 'yarn'"),
            std::string::npos);
  std::string e = configError("[1,2]");
  EXPECT_NE(e.find("config.json"), std::string::npos) << e;
}

TEST(HfConfig, RangeChecksBeforeUse) {
  // Each replaces one key of a valid configuration.
  auto withKey = [](const std::string &key, const std::string &value) {
    llvm::json::Object o{{"model_type", "llama"},     {"vocab_size", 100},
                         {"hidden_size", 64},         {"intermediate_size", 128},
                         {"num_hidden_layers", 2},    {"num_attention_heads", 4},
                         {"rms_norm_eps", 1e-6}};
    llvm::Expected<llvm::json::Value> v = llvm::json::parse(value);
    EXPECT_TRUE(bool(v)) << value;
    if (!v)
      return llvm::toString(v.takeError());
    o[key] = std::move(*v);
    std::string text;
    llvm::raw_string_ostream os(text);
    os << llvm::json::Value(std::move(o));
    return configError(text);
  };
  auto expectError = [&](const std::string &key, const std::string &value,
                         const std::string &what) {
    std::string e = withKey(key, value);
    EXPECT_NE(e.find("config.json: " + what), std::string::npos)
        << key << " = " << value << ": " << e;
  };
  // A zero head count used to divide hidden_size (SIGFPE).
  expectError("num_attention_heads", "0",
              "num_attention_heads must be positive (got 0)");
  expectError("num_attention_heads", "3",
              "hidden_size 64 is not a multiple of num_attention_heads 3");
  expectError("num_key_value_heads", "0",
              "num_key_value_heads must be positive (got 0)");
  expectError("vocab_size", "1099511627776",
              "vocab_size 1099511627776 is too large");
  expectError("head_dim", "2147483646",
              "num_attention_heads * head_dim = 8589934584 is too large");
  expectError("rope_theta", "-1", "rope_theta must be positive and finite");
  expectError("eos_token_id", "100", "eos_token_id 100 is outside the vocabulary");
  // Mistyped keys are reported as mistyped, required or optional.
  expectError("hidden_size", "\"64\"",
              "key 'hidden_size' must be an integer, got string \"64\"");
  expectError("num_key_value_heads", "2.5",
              "key 'num_key_value_heads' must be an integer, got number 2.5");
  expectError("tie_word_embeddings", "1",
              "key 'tie_word_embeddings' must be a boolean, got number 1");
  expectError("rope_parameters", "{\"rope_theta\":\"1e4\"}",
              "key 'rope_parameters.rope_theta' must be a number, got string");
  // Null is absent; eos may be a list (Llama 3).
  EXPECT_EQ(withKey("head_dim", "null"), "");
  EXPECT_EQ(withKey("eos_token_id", "[2, 3]"), "");
}
