//===- GgufTest.cpp - GGUF reader/writer tests ----------------------------===//
#include "lowbit/Formats/Gguf.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include "gtest/gtest.h"

#include <cmath>
#include <limits>

using namespace llvm;
using namespace lowbit;

namespace {

/// Little-endian byte builder for hand-made (often corrupt) files.
struct Bytes {
  std::string s;
  Bytes &raw(StringRef b) { s += b.str(); return *this; }
  template <typename T> Bytes &le(T v) {
    for (size_t i = 0; i < sizeof(T); ++i)
      s.push_back(char((uint64_t(v) >> (8 * i)) & 0xff));
    return *this;
  }
  Bytes &u32(uint32_t v) { return le(v); }
  Bytes &u64(uint64_t v) { return le(v); }
  Bytes &str(StringRef v) { u64(v.size()); return raw(v); }
  Bytes &header(uint64_t nTensors, uint64_t nKvs, uint32_t version = 3) {
    raw("GGUF");
    u32(version);
    u64(nTensors);
    return u64(nKvs);
  }
  Bytes &kvU32(StringRef key, uint32_t v) { str(key); u32(4); return u32(v); }
  Bytes &tensor(StringRef name, std::vector<uint64_t> ne, uint32_t type,
                uint64_t offset) {
    str(name);
    u32(ne.size());
    for (uint64_t d : ne)
      u64(d);
    u32(type);
    return u64(offset);
  }
  Bytes &pad(size_t alignment = 32) {
    s.resize(alignTo(s.size(), alignment), '\0');
    return *this;
  }
  Bytes &zeros(size_t n) { s.append(n, '\0'); return *this; }
};

class GgufTest : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_FALSE(sys::fs::createUniqueDirectory("lowbit-gguf-test", dir));
  }
  void TearDown() override { sys::fs::remove_directories(dir); }

  std::string file(StringRef name) const {
    SmallString<128> p(dir);
    sys::path::append(p, name);
    return std::string(p);
  }
  std::string writeBytes(StringRef name, const Bytes &b) {
    std::string p = file(name);
    std::error_code ec;
    raw_fd_ostream os(p, ec);
    EXPECT_FALSE(ec);
    os << b.s;
    return p;
  }
  std::unique_ptr<GgufFile> open(const std::string &p) {
    auto f = GgufFile::open(p);
    if (!f) {
      ADD_FAILURE() << toString(f.takeError());
      return nullptr;
    }
    return std::move(*f);
  }
  /// Opening `b` must fail with a message naming the file and `what`.
  void expectOpenError(const Bytes &b, StringRef what) {
    std::string p = writeBytes("bad.gguf", b);
    auto f = GgufFile::open(p);
    ASSERT_FALSE(bool(f)) << "expected an error containing: " << what.str();
    std::string msg = toString(f.takeError());
    EXPECT_EQ(msg.rfind(p + ": ", 0), 0u) << msg;
    EXPECT_NE(msg.find(what.str()), std::string::npos) << msg;
  }
  std::vector<std::string> dirEntries() {
    std::vector<std::string> out;
    std::error_code ec;
    for (sys::fs::directory_iterator it(dir, ec), end; it != end && !ec;
         it.increment(ec))
      out.push_back(sys::path::filename(it->path()).str());
    return out;
  }

  SmallString<128> dir;
};

std::vector<uint8_t> iota(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] = uint8_t(i * 7 + 1);
  return v;
}

std::vector<GgufValue> scalarsOf(GgufValueType t) {
  using V = GgufValue;
  switch (t) {
  case GgufValueType::U8: return {V::u8(0), V::u8(255)};
  case GgufValueType::I8: return {V::i8(-128), V::i8(127)};
  case GgufValueType::U16: return {V::u16(65535), V::u16(1)};
  case GgufValueType::I16: return {V::i16(-32768), V::i16(32767)};
  case GgufValueType::U32: return {V::u32(UINT32_MAX), V::u32(7)};
  case GgufValueType::I32: return {V::i32(INT32_MIN), V::i32(-1)};
  case GgufValueType::F32: return {V::f32(1.5e-5f), V::f32(-INFINITY)};
  case GgufValueType::Bool: return {V::boolean(true), V::boolean(false)};
  case GgufValueType::String: return {V::string(""), V::string("h\xc3\xa9llo")};
  case GgufValueType::U64: return {V::u64(UINT64_MAX), V::u64(0)};
  case GgufValueType::I64: return {V::i64(INT64_MIN), V::i64(INT64_MAX)};
  case GgufValueType::F64: return {V::f64(1e300), V::f64(-0.0)};
  default: return {};
  }
}

const GgufValueType kScalarTypes[] = {
    GgufValueType::U8,  GgufValueType::I8,     GgufValueType::U16,
    GgufValueType::I16, GgufValueType::U32,    GgufValueType::I32,
    GgufValueType::F32, GgufValueType::Bool,   GgufValueType::String,
    GgufValueType::U64, GgufValueType::I64,    GgufValueType::F64};

} // namespace

TEST_F(GgufTest, RoundTripsEveryValueTypeAndTensors) {
  GgufWriter w;
  std::vector<std::pair<std::string, GgufValue>> expected;
  auto add = [&](const std::string &key, GgufValue v) {
    w.set(key, v);
    expected.emplace_back(key, std::move(v));
  };
  for (GgufValueType t : kScalarTypes) {
    std::string name = ggufValueTypeName(t).str();
    std::vector<GgufValue> vals = scalarsOf(t);
    add("scalar." + name, vals[0]);
    add("array." + name, GgufValue::array(t, vals));
    add("empty." + name, GgufValue::array(t, {}));
  }
  // Typed setters pick the exact GGUF types.
  w.setU32("llama.block_count", 22);
  w.setF32("llama.rope.freq_base", 10000.0f);
  w.setString("general.architecture", "llama");
  w.setBool("tokenizer.ggml.add_bos_token", true);
  w.setArrayString("tokenizer.ggml.tokens", {"<unk>", "", "\xe2\x96\x81the"});
  w.setArrayF32("tokenizer.ggml.scores", {0.0f, -1.25f, 3.5f});
  w.setArrayI32("tokenizer.ggml.token_type", {2, 3, 1});
  w.setArrayU32("some.u32s", {1, 2});

  std::vector<uint8_t> f32Bytes = iota(2 * 3 * 4), q8Bytes = iota(2 * 34 * 2);
  std::vector<uint8_t> viewBytes = iota(5 * 2);
  w.addTensor("a.f32", DType::F32, {2, 3}, f32Bytes);
  w.addTensor("b.q8_0", DType::Q8_0, {2, 64}, q8Bytes);
  w.addTensor("c.f16_view", DType::F16, {5}, viewBytes.data(),
              viewBytes.size());
  w.addTensor("d.q4_k", DType::Q4_K, {1, 1, 2, 256}, iota(2 * 144));
  std::string p = file("rt.gguf");
  ASSERT_FALSE(bool(w.write(p))) ;

  auto f = open(p);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->alignment(), 32u);
  EXPECT_EQ(f->path(), p);
  ASSERT_EQ(f->metadata().size(), expected.size() + 8);
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(f->metadata()[i].first, expected[i].first);
    EXPECT_TRUE(f->metadata()[i].second == expected[i].second)
        << expected[i].first << ": " << f->metadata()[i].second.str();
  }
  EXPECT_EQ(f->find("llama.block_count")->type, GgufValueType::U32);
  EXPECT_EQ(*f->getU32("llama.block_count"), 22u);
  EXPECT_EQ(f->find("llama.rope.freq_base")->type, GgufValueType::F32);
  EXPECT_EQ(*f->getF32("llama.rope.freq_base"), 10000.0f);
  EXPECT_EQ(*f->getString("general.architecture"), "llama");
  EXPECT_TRUE(*f->getBool("tokenizer.ggml.add_bos_token"));
  EXPECT_EQ(*f->getStringArray("tokenizer.ggml.tokens"),
            (std::vector<std::string>{"<unk>", "", "\xe2\x96\x81the"}));
  EXPECT_EQ(*f->getF32Array("tokenizer.ggml.scores"),
            (std::vector<float>{0.0f, -1.25f, 3.5f}));
  EXPECT_EQ(*f->getI32Array("tokenizer.ggml.token_type"),
            (std::vector<int32_t>{2, 3, 1}));
  EXPECT_EQ(f->find("tokenizer.ggml.token_type")->elemType,
            GgufValueType::I32);
  EXPECT_EQ(*f->getI32Array("some.u32s"), (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(*f->getU64("scalar.u64"), UINT64_MAX);
  EXPECT_EQ(*f->getI64("scalar.i64"), INT64_MIN);
  EXPECT_EQ(f->find("nope"), nullptr);

  ASSERT_EQ(f->tensors().size(), 4u);
  const std::vector<uint8_t> *payloads[] = {&f32Bytes, &q8Bytes, &viewBytes};
  const char *names[] = {"a.f32", "b.q8_0", "c.f16_view", "d.q4_k"};
  std::vector<std::vector<int64_t>> shapes = {
      {2, 3}, {2, 64}, {5}, {1, 1, 2, 256}};
  DType types[] = {DType::F32, DType::Q8_0, DType::F16, DType::Q4_K};
  uint64_t expectOffset = 0;
  EXPECT_EQ(f->dataOffset() % 32, 0u);
  for (size_t i = 0; i < 4; ++i) {
    const TensorRef &t = f->tensors()[i];
    EXPECT_EQ(t.name, names[i]);
    EXPECT_EQ(t.shape, shapes[i]);
    EXPECT_EQ(t.dtype, types[i]);
    EXPECT_EQ(f->findTensor(names[i]), &t);
    EXPECT_EQ(f->ggmlType(names[i]), ggmlFromDType(types[i]));
    // Offsets are packed in order, each tensor padded to the alignment.
    EXPECT_EQ(f->fileOffset(t), f->dataOffset() + expectOffset);
    EXPECT_EQ(f->fileOffset(t) % 32, 0u);
    expectOffset += alignTo(t.bytes, 32);
    if (i < 3) {
      EXPECT_EQ(std::vector<uint8_t>(t.data, t.data + t.bytes), *payloads[i]);
    }
  }
  EXPECT_EQ(f->tensors()[3].bytes, 288u);
  EXPECT_EQ(f->findTensor("missing"), nullptr);
  EXPECT_FALSE(f->ggmlType("missing"));
  // Padding after the last tensor too, as both llama.cpp writers do.
  uint64_t size;
  ASSERT_FALSE(sys::fs::file_size(p, size));
  EXPECT_EQ(size, f->dataOffset() + expectOffset);
}

TEST_F(GgufTest, WritesExactLayout) {
  GgufWriter w;
  w.setU32("k", 5);
  w.addTensor("t", DType::F32, {2, 1}, std::vector<uint8_t>(8, 0xab));
  std::string p = file("layout.gguf");
  ASSERT_FALSE(bool(w.write(p)));
  Bytes b;
  b.header(1, 1).kvU32("k", 5).tensor("t", {1, 2}, 0, 0).pad().raw(
      std::string(8, '\xab')).pad();
  auto buf = MemoryBuffer::getFile(p);
  ASSERT_TRUE(bool(buf));
  EXPECT_EQ((*buf)->getBuffer().str(), b.s);
}

TEST_F(GgufTest, DeferredTensorsStreamInOrder) {
  GgufWriter w;
  w.setU32("k", 5);
  w.addTensor("held", DType::F32, {2}, iota(8));
  w.addDeferredTensor("a", DType::Q8_0, {2, 32});
  w.addDeferredTensor("b", DType::F32, {3});
  std::string p = file("deferred.gguf");
  // Without a source there is nothing to write them from.
  Error missing = w.write(p);
  ASSERT_TRUE(bool(missing));
  EXPECT_NE(toString(std::move(missing)).find("tensor 'a' has no bytes"),
            std::string::npos);
  EXPECT_TRUE(dirEntries().empty());

  std::vector<size_t> asked;
  std::vector<uint8_t> current;
  ASSERT_FALSE(bool(w.write(p, [&](size_t i) -> Expected<ArrayRef<uint8_t>> {
    asked.push_back(i);
    current = iota(i == 1 ? 68 : 12);
    return ArrayRef<uint8_t>(current);
  })));
  EXPECT_EQ(asked, (std::vector<size_t>{1, 2}));
  auto f = open(p);
  ASSERT_TRUE(f);
  ASSERT_EQ(f->tensors().size(), 3u);
  EXPECT_EQ(f->tensors()[1].bytes, 68u);
  EXPECT_EQ(f->fileOffset(f->tensors()[2]), f->dataOffset() + 32 + 96);
  std::vector<uint8_t> expect = iota(12);
  EXPECT_EQ(std::memcmp(f->tensors()[2].data, expect.data(), 12), 0);
  ASSERT_FALSE(sys::fs::remove(p));

  // A source that fails, or hands over the wrong size, leaves no file.
  Error failed = w.write(p, [&](size_t i) -> Expected<ArrayRef<uint8_t>> {
    return createStringError("cannot encode tensor " + std::to_string(i));
  });
  ASSERT_TRUE(bool(failed));
  EXPECT_EQ(toString(std::move(failed)), "cannot encode tensor 1");
  EXPECT_TRUE(dirEntries().empty());
  Error shortBytes = w.write(p, [&](size_t) -> Expected<ArrayRef<uint8_t>> {
    current = iota(4);
    return ArrayRef<uint8_t>(current);
  });
  ASSERT_TRUE(bool(shortBytes));
  EXPECT_NE(toString(std::move(shortBytes))
                .find("tensor 'a': got 4 bytes, expected 68"),
            std::string::npos);
  EXPECT_TRUE(dirEntries().empty());
}

TEST_F(GgufTest, HonoursGeneralAlignment) {
  GgufWriter w;
  w.setU32("general.alignment", 64);
  w.addTensor("x", DType::F32, {3}, iota(12));
  w.addTensor("y", DType::BF16, {4, 8}, iota(64));
  w.addTensor("z", DType::I8, {1}, iota(1));
  std::string p = file("a64.gguf");
  ASSERT_FALSE(bool(w.write(p)));
  auto f = open(p);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->alignment(), 64u);
  EXPECT_EQ(f->dataOffset() % 64, 0u);
  EXPECT_EQ(f->fileOffset(f->tensors()[0]), f->dataOffset());
  EXPECT_EQ(f->fileOffset(f->tensors()[1]), f->dataOffset() + 64);
  EXPECT_EQ(f->fileOffset(f->tensors()[2]), f->dataOffset() + 128);
}

TEST_F(GgufTest, ReadsCWriterStyleFiles) {
  // llama.cpp's C writer drops trailing 1-dims; version 2 has the same layout.
  Bytes b;
  b.header(1, 0, 2).tensor("w", {4}, 0, 0).pad().zeros(16).pad();
  auto f = open(writeBytes("c.gguf", b));
  ASSERT_TRUE(f);
  EXPECT_EQ(f->version(), 2u);
  EXPECT_EQ(f->tensors()[0].shape, (std::vector<int64_t>{4}));
  // Without tensors the file may end right after the metadata.
  Bytes m;
  m.header(0, 1).kvU32("general.alignment", 256);
  f = open(writeBytes("m.gguf", m));
  ASSERT_TRUE(f);
  EXPECT_EQ(f->alignment(), 256u);
}

TEST_F(GgufTest, TypedGetters) {
  GgufWriter w;
  w.setU8("u8", 200);
  w.setI32("neg", -3);
  w.setU64("big", uint64_t(1) << 40);
  w.setF64("f64", 0.25);
  w.setString("s", "text");
  w.set("nested", GgufValue::array(GgufValueType::U64,
                                   {GgufValue::u64(1), GgufValue::u64(1ull << 33)}));
  std::string p = file("get.gguf");
  ASSERT_FALSE(bool(w.write(p)));
  auto f = open(p);
  ASSERT_TRUE(f);
  EXPECT_EQ(*f->getU32("u8"), 200u);
  EXPECT_EQ(*f->getI64("neg"), -3);
  EXPECT_EQ(*f->getU64("big"), uint64_t(1) << 40);
  EXPECT_EQ(*f->getF32("f64"), 0.25f);

  auto expectErr = [&](auto result, StringRef what) {
    ASSERT_FALSE(bool(result));
    std::string msg = toString(result.takeError());
    EXPECT_EQ(msg.rfind(p + ": ", 0), 0u) << msg;
    EXPECT_NE(msg.find(what.str()), std::string::npos) << msg;
  };
  expectErr(f->getU32("neg"), "'neg' value -3 (i32) does not fit in u32");
  expectErr(f->getU32("big"), "'big' value 1099511627776 (u64) does not fit");
  expectErr(f->getU32("s"), "'s' has type string, expected u32");
  expectErr(f->getF32("u8"), "'u8' has type u8, expected f32");
  expectErr(f->getBool("u8"), "expected bool");
  expectErr(f->getString("missing"), "metadata key 'missing' not found");
  expectErr(f->getStringArray("s"), "expected array[string]");
  expectErr(f->getF32Array("nested"), "has type array[u64], expected "
                                      "array[f32]");
  expectErr(f->getI32Array("nested"), "'nested' element 1 value 8589934592 "
                                      "does not fit in i32");
}

TEST_F(GgufTest, WriterRejectsBadInputAndLeavesNothing) {
  auto expectWriteError = [&](GgufWriter &w, StringRef what) {
    std::string p = file("out.gguf");
    Error e = w.write(p);
    ASSERT_TRUE(bool(e));
    std::string msg = toString(std::move(e));
    EXPECT_EQ(msg.rfind(p + ": ", 0), 0u) << msg;
    EXPECT_NE(msg.find(what.str()), std::string::npos) << msg;
    EXPECT_TRUE(dirEntries().empty());
  };
  {
    GgufWriter w;
    w.setU32("k", 1);
    w.setF32("k", 2);
    expectWriteError(w, "duplicate metadata key 'k'");
  }
  {
    GgufWriter w;
    w.addTensor("t", DType::F32, {1}, iota(4));
    w.addTensor("t", DType::F32, {2}, iota(8));
    expectWriteError(w, "duplicate tensor name 't'");
  }
  {
    GgufWriter w;
    w.addTensor(std::string(64, 'n'), DType::F32, {1}, iota(4));
    expectWriteError(w, "is 64 bytes long (at most 63");
  }
  {
    GgufWriter w;
    w.addTensor(std::string(63, 'n'), DType::F32, {1}, iota(4));
    w.addTensor("short", DType::Q8_0, {2, 32}, iota(34));
    expectWriteError(w, "tensor 'short': has 34 bytes, expected 68");
  }
  {
    GgufWriter w;
    w.addTensor("odd", DType::Q4_0, {2, 16}, iota(18));
    expectWriteError(w, "not a multiple of the q4_0 block size");
  }
  {
    GgufWriter w;
    w.addTensor("u", DType::U16, {2}, iota(4));
    expectWriteError(w, "type u16 cannot be stored in GGUF");
  }
  {
    GgufWriter w;
    w.addTensor("r5", DType::F32, {1, 1, 1, 1, 1}, iota(4));
    expectWriteError(w, "rank 5");
  }
  {
    GgufWriter w;
    w.setU64("general.alignment", 32);
    expectWriteError(w, "general.alignment must be a u32 power of two");
  }
  {
    GgufWriter w;
    w.setU32("general.alignment", 48);
    expectWriteError(w, "general.alignment must be a u32 power of two");
  }
  {
    GgufWriter w;
    w.set("mixed", GgufValue::array(GgufValueType::U8, {GgufValue::i8(1)}));
    expectWriteError(w, "array of u8 has an element of type i8");
  }
  {
    GgufWriter w;
    w.set("nest", GgufValue::array(GgufValueType::Array, {}));
    expectWriteError(w, "nested arrays are not supported");
  }
  // An I/O failure (missing directory) leaves nothing behind either.
  GgufWriter ok;
  ok.setU32("k", 1);
  Error e = ok.write(file("no-such-dir/x.gguf"));
  EXPECT_TRUE(bool(e));
  consumeError(std::move(e));
  EXPECT_TRUE(dirEntries().empty());
}

TEST_F(GgufTest, RejectsBadHeaders) {
  auto missing = GgufFile::open(file("missing.gguf"));
  ASSERT_FALSE(bool(missing));
  EXPECT_NE(toString(missing.takeError()).find("missing.gguf: cannot open"),
            std::string::npos);

  expectOpenError(Bytes().raw("GG"), "not a GGUF file (only 2 bytes)");
  expectOpenError(Bytes().raw("GGML").u32(3).u64(0).u64(0), "bad magic");
  expectOpenError(Bytes().header(0, 0, 1), "GGUF version 1 is not supported");
  expectOpenError(Bytes().header(0, 0, 4), "unsupported GGUF version 4");
  expectOpenError(Bytes().header(0, 0, 0x03000000), "big-endian");
  expectOpenError(Bytes().raw("GGUF").u32(3).u64(0), "truncated file: header");
  expectOpenError(Bytes().header(uint64_t(1) << 60, 0),
                  "tensor count 1152921504606846976 cannot fit");
  expectOpenError(Bytes().header(0, ~uint64_t(0)), "metadata key count");
  expectOpenError(Bytes().header(0, 1).u64(100).raw("abcdefghijklmnopqrst"),
                  "truncated file: key of metadata entry 0");
}

TEST_F(GgufTest, RejectsBadMetadata) {
  expectOpenError(Bytes().header(0, 1).str("k").u32(8).u64(50).raw("short"),
                  "string value of key 'k'");
  expectOpenError(Bytes().header(0, 1).str("k").u32(4).raw("ab"),
                  "u32 value of key 'k'");
  expectOpenError(Bytes().header(0, 1).str("arr").u32(9).u32(5).u64(1000).u32(1),
                  "array of 1000 i32 elements of key 'arr'");
  expectOpenError(
      Bytes().header(0, 1).str("arr").u32(9).u32(8).u64(2).str("a").u64(9),
      "string value of key 'arr'");
  expectOpenError(Bytes().header(0, 1).str("arr").u32(9).u32(9).u64(0),
                  "metadata key 'arr' is a nested array");
  expectOpenError(Bytes().header(0, 1).str("k").u32(13).u32(0),
                  "metadata key 'k' has unknown value type 13");
  expectOpenError(Bytes().header(0, 1).str("arr").u32(9).u32(77).u64(0),
                  "array of unknown value type 77");
  expectOpenError(Bytes().header(0, 2).kvU32("k", 1).kvU32("k", 2),
                  "duplicate metadata key 'k'");
  expectOpenError(Bytes().header(0, 1).str("general.alignment").u32(10).u64(32),
                  "general.alignment must be a u32, got u64");
  expectOpenError(Bytes().header(0, 1).kvU32("general.alignment", 24),
                  "general.alignment 24 is not a power of two");
  expectOpenError(Bytes().header(0, 1).kvU32("general.alignment", 0),
                  "general.alignment 0 is not a power of two");
  // Elements are held as GgufValues (~90 bytes each), so the arrays of a
  // file have a budget: 2^23 elements in all, here 2^22 + 1 twice.
  Bytes big;
  big.header(0, 2);
  for (StringRef key : {"a", "b"}) {
    big.str(key).u32(9).u32(0).u64((uint64_t(1) << 22) + 1);
    big.zeros((size_t(1) << 22) + 1);
  }
  expectOpenError(big, "metadata key 'b': arrays of more than 8388608 "
                       "elements in all are not supported");
}

TEST_F(GgufTest, RejectsBadTensorInfos) {
  auto one = [](StringRef name, std::vector<uint64_t> ne, uint32_t type,
                uint64_t offset, size_t data = 64) {
    Bytes b;
    b.header(1, 0).tensor(name, ne, type, offset).pad().zeros(data);
    return b;
  };
  expectOpenError(one(std::string(64, 'x'), {1}, 0, 0),
                  "is 64 bytes long (at most 63 allowed)");
  expectOpenError(one("t", {}, 0, 0), "tensor 't' has n_dims 0 (must be 1 to 4)");
  expectOpenError(one("t", {1, 1, 1, 1, 1}, 0, 0), "n_dims 5");
  expectOpenError(one("t", {32}, 16, 0),
                  "unsupported tensor type IQ2_XXS (16) for tensor 't'");
  expectOpenError(one("t", {32}, 99, 0), "unknown ggml type 99 for tensor 't'");
  expectOpenError(one("t", {33}, 2, 0),
                  "tensor 't': row length 33 is not a multiple of the q4_0 "
                  "block size 32");
  expectOpenError(one("t", {1}, 0, 16),
                  "tensor 't' has data offset 16, not a multiple of the "
                  "alignment 32");
  expectOpenError(one("t", {17}, 0, 0),
                  "tensor 't' data (offset 0, 68 bytes) runs past the end");
  expectOpenError(one("t", {4}, 0, 64),
                  "tensor 't' data (offset 64, 16 bytes) runs past the end");
  // Size arithmetic that overflows 64 bits.
  expectOpenError(one("t", {uint64_t(1) << 62, 4}, 0, 0),
                  "tensor 't': element count overflows");
  expectOpenError(one("t", {uint64_t(1) << 63}, 0, 0),
                  "element count overflows");
  expectOpenError(one("t", {uint64_t(1) << 62}, 0, 0),
                  "tensor 't': byte size overflows");
  expectOpenError(one("t", {8}, 0, ~uint64_t(31)), "runs past the end");

  Bytes dup;
  dup.header(2, 0).tensor("t", {1}, 0, 0).tensor("t", {1}, 0, 32).pad().zeros(64);
  expectOpenError(dup, "duplicate tensor name 't'");
  Bytes cut;
  cut.header(1, 0).str("t").u32(2).u64(4);
  cut.zeros(15);
  expectOpenError(cut, "type and offset of tensor 't'");
  Bytes noData;
  noData.header(1, 0).tensor("t", {1}, 0, 0);
  expectOpenError(noData, "tensor data would start at offset 64, past the end");

  // Tensors sharing bytes, as llama.cpp refuses them; whatever the order of
  // the tensor infos, and however little they overlap.
  Bytes same;
  same.header(2, 0).tensor("a", {8}, 0, 0).tensor("b", {8}, 0, 0).pad().zeros(64);
  expectOpenError(same, "tensor 'a' data (offset 0, 32 bytes) overlaps tensor "
                        "'b' (offset 0)");
  Bytes into;
  into.header(2, 0).tensor("b", {8}, 0, 32).tensor("a", {16}, 0, 0).pad().zeros(64);
  expectOpenError(into, "tensor 'a' data (offset 0, 64 bytes) overlaps tensor "
                        "'b' (offset 32)");
  Bytes apart;
  apart.header(3, 0).tensor("b", {8}, 0, 32).tensor("a", {8}, 0, 0)
      .tensor("empty", {0}, 0, 32).pad().zeros(64);
  std::string p = writeBytes("apart.gguf", apart);
  EXPECT_TRUE(open(p)) << "adjacent tensors and an empty one do not overlap";
}
