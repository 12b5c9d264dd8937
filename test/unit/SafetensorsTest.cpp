//===- SafetensorsTest.cpp - Reader validation and the bundled model ------===//
#include "lowbit/Formats/HfConfig.h"
#include "lowbit/Formats/Safetensors.h"
#include "lowbit/Support/Float16.h"

#include "llvm/Support/FileSystem.h"
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
