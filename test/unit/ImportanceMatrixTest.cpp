//===- ImportanceMatrixTest.cpp - llama.cpp imatrix files -----------------===//
#include "lowbit/Quant/ImportanceMatrix.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <cstring>

using namespace lowbit;

static std::string tempPath(const char *name) {
  llvm::SmallString<128> dir;
  llvm::sys::path::system_temp_directory(true, dir);
  llvm::sys::path::append(dir, std::string("lowbit-imatrix-") + name);
  return std::string(dir);
}

TEST(ImportanceMatrix, WritesLlamaCppLayoutAndReadsItBack) {
  ImportanceMatrix m;
  m.entries["blk.0.attn_q.weight"] = {1.0f, 0.5f, 2.0f};
  m.entries["blk.0.ffn_down.weight"] = {0.25f};
  m.chunks = 4;
  m.dataset = "calib.txt";
  std::string path = tempPath("a.dat");
  ASSERT_FALSE(bool(m.save(path)));

  // Layout: i32 count; per entry i32 len, name, i32 ncall, i32 nval, f32 sums.
  auto buf = llvm::MemoryBuffer::getFile(path);
  ASSERT_TRUE(bool(buf));
  const char *p = (*buf)->getBufferStart();
  int32_t v;
  std::memcpy(&v, p, 4);
  EXPECT_EQ(v, 2);
  std::memcpy(&v, p + 4, 4);
  EXPECT_EQ(v, int32_t(strlen("blk.0.attn_q.weight")));
  std::memcpy(&v, p + 8 + 19, 4);
  EXPECT_EQ(v, 4); // ncall
  float sum;
  std::memcpy(&sum, p + 8 + 19 + 8 + 4, 4);
  EXPECT_EQ(sum, 0.5f * 4); // stored as mean * ncall

  auto back = ImportanceMatrix::load(path);
  ASSERT_TRUE(bool(back)) << llvm::toString(back.takeError());
  EXPECT_EQ(back->entries, m.entries);
  EXPECT_EQ(back->chunks, 4);
  EXPECT_EQ(back->dataset, "calib.txt");
  // Lookup by Hugging Face or GGUF name.
  ASSERT_TRUE(back->find("model.layers.0.self_attn.q_proj.weight"));
  EXPECT_EQ(back->find("blk.0.attn_q.weight")->size(), 3u);
  EXPECT_FALSE(back->find("model.layers.1.self_attn.q_proj.weight"));
}

TEST(ImportanceMatrix, RejectsCorruptFiles) {
  std::string path = tempPath("bad.dat");
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(path, ec);
    int32_t n = 1, len = 1000;
    os.write(reinterpret_cast<char *>(&n), 4);
    os.write(reinterpret_cast<char *>(&len), 4);
    os << "short";
  }
  auto m = ImportanceMatrix::load(path);
  ASSERT_FALSE(bool(m));
  std::string e = llvm::toString(m.takeError());
  EXPECT_NE(e.find("bad.dat"), std::string::npos) << e;
  EXPECT_NE(e.find("bad name length"), std::string::npos) << e;
}
