//===- TokenizerFuzzer.cpp - tokenizer.model and tokenizer_config.json ----===//
//
// Input: tokenizer.model, then (after fuzz::kFileSeparator, optional)
// tokenizer_config.json. A vocabulary that decodes is loaded into
// SentencePiece both as the original proto and rebuilt from its pieces (the
// GGUF route), and used to encode and decode a little text.
//
//===----------------------------------------------------------------------===//
#include "FuzzSupport.h"

#include "lowbit/Formats/Vocabulary.h"

using namespace llvm;
using namespace lowbit;

static constexpr StringLiteral kName = "tokenizer.model";
// The seeds' vocabulary has 4096 pieces; a little room for padding.
static constexpr int64_t kVocabSize = 4096 + 64;

static void use(const Vocabulary &vocab) {
  Expected<std::unique_ptr<Tokenizer>> tok = Tokenizer::create(vocab, kName);
  if (!tok) {
    fuzz::expectFileError(tok.takeError(), kName);
    return;
  }
  std::vector<int> ids =
      (*tok)->encode(" Hello world, 1234 \xC3\xA9t\xC3\xA9 \xF0\x9F\x99\x82\n");
  (void)(*tok)->decode(ids);
  ids.push_back(int(vocab.pieces.size()) - 1);
  (void)(*tok)->decode(ids);
  for (int id : ids)
    (void)(*tok)->pieceText(id);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::vector<StringRef> files = fuzz::splitFiles(fuzz::bytesOf(data, size), 2);
  Expected<Vocabulary> vocab =
      Vocabulary::fromSentencePieceProto(files[0], kName, kVocabSize);
  if (!vocab) {
    fuzz::expectFileError(vocab.takeError(), kName);
    return 0;
  }
  if (vocab->pieces.size() != size_t(kVocabSize) ||
      vocab->scores.size() != vocab->pieces.size() ||
      vocab->types.size() != vocab->pieces.size())
    __builtin_trap();
  vocab->applyTokenizerConfig(files[1]);
  use(*vocab);
  vocab->originalProto.clear();
  use(*vocab);
  return 0;
}
