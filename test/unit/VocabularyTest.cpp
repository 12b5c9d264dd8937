//===- VocabularyTest.cpp - tokenizer.model decoding and rebuilding -------===//
#include "lowbit/Formats/Vocabulary.h"

#include <gtest/gtest.h>

using namespace lowbit;

static const char *kTokenizer = LOWBIT_MODELS_DIR "/tiny-5m/tokenizer.model";

TEST(Vocabulary, DecodesTheBundledTokenizer) {
  auto v = Vocabulary::fromSentencePieceFile(kTokenizer, 4096);
  ASSERT_TRUE(bool(v)) << llvm::toString(v.takeError());
  ASSERT_EQ(v->pieces.size(), 4096u);
  EXPECT_EQ(v->pieces[0], "<unk>");
  EXPECT_EQ(v->types[0], TokenType::Unknown);
  EXPECT_EQ(v->pieces[1], "<s>");
  EXPECT_EQ(v->types[1], TokenType::Control);
  EXPECT_EQ(v->types[2], TokenType::Control);
  EXPECT_EQ(v->modelType, 2); // BPE
  EXPECT_TRUE(v->byteFallback);
  // Byte-fallback pieces <0x00>..<0xFF> follow the specials.
  EXPECT_EQ(v->pieces[3], "<0x00>");
  EXPECT_EQ(v->types[3], TokenType::Byte);
  EXPECT_EQ(v->pieces[3 + 0x0A], "<0x0A>");
}

TEST(Vocabulary, PadsToTheModelVocabAndRejectsTooSmall) {
  auto v = Vocabulary::fromSentencePieceFile(kTokenizer, 4100);
  ASSERT_TRUE(bool(v));
  EXPECT_EQ(v->pieces[4099], "[PAD4099]");
  EXPECT_EQ(v->types[4099], TokenType::Unused);
  auto bad = Vocabulary::fromSentencePieceFile(kTokenizer, 1000);
  ASSERT_FALSE(bool(bad));
  std::string e = llvm::toString(bad.takeError());
  EXPECT_NE(e.find("tokenizer.model: tokenizer has 4096 pieces but the model's "
                   "vocab_size is 1000"), std::string::npos) << e;
}

// A vocabulary rebuilt from pieces/scores/types (what a GGUF file carries)
// tokenizes exactly like the original tokenizer.model.
TEST(Vocabulary, RebuiltProtoTokenizesIdentically) {
  auto v = Vocabulary::fromSentencePieceFile(kTokenizer, 4096);
  ASSERT_TRUE(bool(v));
  Vocabulary rebuilt = *v;
  rebuilt.originalProto.clear();
  auto a = Tokenizer::create(*v, kTokenizer);
  auto b = Tokenizer::create(rebuilt, "rebuilt");
  ASSERT_TRUE(bool(a) && bool(b));
  const char *texts[] = {"In the beginning God created the heaven and the earth.",
                         "  leading spaces,\ttabs\nand newlines",
                         "unicode: \xc3\xa9t\xc3\xa9 \xe2\x82\xac 42"};
  for (const char *t : texts) {
    std::vector<int> ids = (*a)->encode(t);
    EXPECT_EQ(ids, (*b)->encode(t)) << t;
    EXPECT_EQ((*a)->decode(ids), t);
  }
}

// SentencePiece throws on some models (darts-clone cannot put a piece that
// starts with a NUL byte in its trie); lowbit is built without exceptions,
// so that used to abort. Found by fuzz/TokenizerFuzzer.
TEST(Vocabulary, PieceWithNulIsAnErrorNotAnAbort) {
  // Unigram model (no trainer spec): "u<nk>" (unknown), then "\0\x0b\x15".
  const char proto[] = "\n\x0e\n\x05u<nk>\x15\x00\x00\x00\x00\x18\x02"
                       "\n\x05\n\x03\x00\x0b\x15";
  auto v = Vocabulary::fromSentencePieceProto(
      llvm::StringRef(proto, sizeof(proto) - 1), "bad.model", 4);
  ASSERT_TRUE(bool(v)) << llvm::toString(v.takeError());
  for (bool rebuilt : {false, true}) {
    Vocabulary vocab = *v;
    if (rebuilt)
      vocab.originalProto.clear();
    auto tok = Tokenizer::create(vocab, "bad.model");
    ASSERT_FALSE(bool(tok));
    std::string e = llvm::toString(tok.takeError());
    EXPECT_EQ(e.rfind("bad.model: cannot load tokenizer: ", 0), 0u) << e;
  }
}
