//===- Vocabulary.cpp - tokenizer.model <-> GGUF vocabulary ---------------===//
//
// tokenizer.model is a serialized SentencePiece ModelProto (formats.md §8).
// The few fields we need are decoded from the protobuf wire format directly,
// which also lets us rebuild an equivalent proto from a GGUF vocabulary so
// libsentencepiece tokenizes a GGUF-only model exactly like the original.
//
//===----------------------------------------------------------------------===//
#include "lowbit/Formats/Vocabulary.h"
#include "lowbit/Support/InputFiles.h"
#include "lowbit/Formats/Gguf.h"
#include "lowbit/Support/Error.h"
#include "SentencePieceLoader.h"

#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

#include <sentencepiece_processor.h>

#include <cstring>

using namespace llvm;
using namespace lowbit;

namespace {
/// Minimal protobuf wire-format cursor over a byte range.
struct WireReader {
  const uint8_t *p, *end;
  bool failed = false;

  bool atEnd() const { return p >= end || failed; }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p >= end) {
        failed = true;
        return 0;
      }
      uint8_t b = *p++;
      v |= uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80))
        return v;
    }
    failed = true;
    return 0;
  }
  StringRef bytes() {
    uint64_t n = varint();
    if (failed || n > uint64_t(end - p)) {
      failed = true;
      return {};
    }
    StringRef s(reinterpret_cast<const char *>(p), n);
    p += n;
    return s;
  }
  float fixed32() {
    if (end - p < 4) {
      failed = true;
      return 0;
    }
    float f;
    std::memcpy(&f, p, 4);
    p += 4;
    return f;
  }
  void skip(unsigned wireType) {
    switch (wireType) {
    case 0: varint(); break;
    case 1: advance(8); break;
    case 2: bytes(); break;
    case 5: advance(4); break;
    default: failed = true;
    }
  }
  /// Never forms a pointer past the end (undefined even unread).
  void advance(size_t n) {
    if (failed || size_t(end - p) < n)
      failed = true;
    else
      p += n;
  }
  static WireReader of(StringRef s) {
    return {reinterpret_cast<const uint8_t *>(s.data()),
            reinterpret_cast<const uint8_t *>(s.data()) + s.size()};
  }
};

struct WireWriter {
  std::string out;
  void varint(uint64_t v) {
    while (v >= 0x80) {
      out.push_back(char(v | 0x80));
      v >>= 7;
    }
    out.push_back(char(v));
  }
  void key(unsigned field, unsigned wire) { varint(field << 3 | wire); }
  void bytes(unsigned field, StringRef s) {
    key(field, 2);
    varint(s.size());
    out.append(s.data(), s.size());
  }
  void integer(unsigned field, int64_t v) {
    key(field, 0);
    varint(uint64_t(v));
  }
  void f32(unsigned field, float f) {
    key(field, 5);
    char b[4];
    std::memcpy(b, &f, 4);
    out.append(b, 4);
  }
};
} // namespace

Expected<Vocabulary> Vocabulary::fromSentencePieceFile(StringRef path,
                                                       int64_t vocabSize) {
  auto buf = readInputFile(path, /*IsText=*/false);
  if (!buf)
    return fileError(path, "cannot open: {0}", buf.getError().message());
  return fromSentencePieceProto((*buf)->getBuffer(), path, vocabSize);
}

Expected<Vocabulary> Vocabulary::fromSentencePieceProto(StringRef bytes,
                                                        StringRef path,
                                                        int64_t vocabSize) {
  Vocabulary v;
  v.originalProto = bytes.str();
  WireReader model = WireReader::of(bytes);
  while (!model.atEnd()) {
    uint64_t key = model.varint();
    unsigned field = key >> 3, wire = key & 7;
    if (field == 1 && wire == 2) {
      WireReader piece = WireReader::of(model.bytes());
      std::string text;
      float score = 0;
      int32_t type = 1;
      while (!piece.atEnd()) {
        uint64_t k = piece.varint();
        if ((k >> 3) == 1 && (k & 7) == 2)
          text = piece.bytes().str();
        else if ((k >> 3) == 2 && (k & 7) == 5)
          score = piece.fixed32();
        else if ((k >> 3) == 3 && (k & 7) == 0)
          type = int32_t(piece.varint());
        else
          piece.skip(k & 7);
      }
      if (piece.failed)
        return fileError(path, "corrupt SentencePiece model (piece {0})",
                         v.pieces.size());
      if (type < 1 || type > 6)
        type = 1;
      v.pieces.push_back(std::move(text));
      v.scores.push_back(score);
      v.types.push_back(TokenType(type));
    } else if ((field == 2 || field == 3) && wire == 2) {
      WireReader spec = WireReader::of(model.bytes());
      while (!spec.atEnd()) {
        uint64_t k = spec.varint();
        unsigned f = k >> 3;
        if ((k & 7) != 0) {
          spec.skip(k & 7);
          continue;
        }
        int64_t val = int64_t(spec.varint());
        if (field == 2 && f == 3)
          v.modelType = int(val);
        else if (field == 2 && f == 35)
          v.byteFallback = val != 0;
        else if (field == 2 && f == 40)
          v.unkId = val;
        else if (field == 2 && f == 41)
          v.bosId = val;
        else if (field == 2 && f == 42)
          v.eosId = val;
        else if (field == 3 && f == 3)
          v.addSpacePrefix = val != 0;
      }
      if (spec.failed)
        return fileError(path, "corrupt SentencePiece model (spec)");
    } else {
      model.skip(wire);
    }
  }
  if (model.failed || v.pieces.empty())
    return fileError(path, "not a SentencePiece model (no pieces decoded)");
  if (int64_t(v.pieces.size()) > vocabSize)
    return fileError(path, "tokenizer has {0} pieces but the model's "
                     "vocab_size is {1}", v.pieces.size(), vocabSize);
  for (int64_t id = v.pieces.size(); id < vocabSize; ++id) {
    v.pieces.push_back(("[PAD" + Twine(id) + "]").str());
    v.scores.push_back(-10000.0f);
    v.types.push_back(TokenType::Unused);
  }
  return v;
}

void Vocabulary::applyTokenizerConfig(StringRef text) {
  Expected<json::Value> root = json::parse(text);
  if (!root) {
    consumeError(root.takeError());
    return;
  }
  if (const json::Object *o = root->getAsObject()) {
    addBos = o->getBoolean("add_bos_token").value_or(addBos);
    addEos = o->getBoolean("add_eos_token").value_or(addEos);
  }
}

Expected<Vocabulary> Vocabulary::fromGguf(const GgufFile &file) {
  Vocabulary v;
  Expected<std::string> model = file.getString("tokenizer.ggml.model");
  if (!model)
    return model.takeError();
  if (*model != "llama")
    return fileError(file.path(), "unsupported tokenizer model '{0}' (only "
                     "SentencePiece 'llama' vocabularies)", *model);
  Expected<std::vector<std::string>> tokens =
      file.getStringArray("tokenizer.ggml.tokens");
  if (!tokens)
    return tokens.takeError();
  v.pieces = std::move(*tokens);
  size_t n = v.pieces.size();
  v.scores.assign(n, 0.0f);
  v.types.assign(n, TokenType::Normal);
  if (file.find("tokenizer.ggml.scores")) {
    Expected<std::vector<float>> scores = file.getF32Array("tokenizer.ggml.scores");
    if (!scores)
      return scores.takeError();
    if (scores->size() != n)
      return fileError(file.path(), "tokenizer.ggml.scores has {0} entries, "
                       "tokens has {1}", scores->size(), n);
    v.scores = std::move(*scores);
  }
  if (file.find("tokenizer.ggml.token_type")) {
    Expected<std::vector<int32_t>> types =
        file.getI32Array("tokenizer.ggml.token_type");
    if (!types)
      return types.takeError();
    if (types->size() != n)
      return fileError(file.path(), "tokenizer.ggml.token_type has {0} "
                       "entries, tokens has {1}", types->size(), n);
    for (size_t i = 0; i < n; ++i)
      v.types[i] = ((*types)[i] >= 1 && (*types)[i] <= 6)
                       ? TokenType((*types)[i])
                       : TokenType::Normal;
  }
  auto optU32 = [&](StringRef key, int64_t &out) -> Error {
    if (!file.find(key))
      return Error::success();
    Expected<uint32_t> val = file.getU32(key);
    if (!val)
      return val.takeError();
    out = *val;
    return Error::success();
  };
  auto optBool = [&](StringRef key, bool &out) -> Error {
    if (!file.find(key))
      return Error::success();
    Expected<bool> val = file.getBool(key);
    if (!val)
      return val.takeError();
    out = *val;
    return Error::success();
  };
  if (Error e = optU32("tokenizer.ggml.bos_token_id", v.bosId))
    return std::move(e);
  if (Error e = optU32("tokenizer.ggml.eos_token_id", v.eosId))
    return std::move(e);
  if (Error e = optU32("tokenizer.ggml.unknown_token_id", v.unkId))
    return std::move(e);
  if (Error e = optBool("tokenizer.ggml.add_bos_token", v.addBos))
    return std::move(e);
  if (Error e = optBool("tokenizer.ggml.add_eos_token", v.addEos))
    return std::move(e);
  if (Error e = optBool("tokenizer.ggml.add_space_prefix", v.addSpacePrefix))
    return std::move(e);
  v.byteFallback = false;
  for (TokenType t : v.types)
    v.byteFallback |= t == TokenType::Byte;
  return v;
}

std::string Vocabulary::toSentencePieceProto() const {
  if (!originalProto.empty())
    return originalProto;
  WireWriter model;
  for (size_t i = 0; i < pieces.size(); ++i) {
    WireWriter piece;
    piece.bytes(1, pieces[i]);
    piece.f32(2, scores[i]);
    if (types[i] != TokenType::Normal)
      piece.integer(3, int64_t(types[i]));
    model.bytes(1, piece.out);
  }
  WireWriter trainer;
  trainer.integer(3, modelType);
  trainer.integer(4, int64_t(pieces.size()));
  trainer.integer(35, byteFallback ? 1 : 0);
  trainer.integer(40, unkId);
  trainer.integer(41, bosId);
  trainer.integer(42, eosId);
  trainer.integer(43, -1);
  model.bytes(2, trainer.out);
  WireWriter normalizer;
  normalizer.bytes(1, "identity");
  normalizer.integer(3, addSpacePrefix ? 1 : 0);
  normalizer.integer(4, 0);
  normalizer.integer(5, 1);
  model.bytes(3, normalizer.out);
  return model.out;
}

Tokenizer::~Tokenizer() = default;

Expected<std::unique_ptr<Tokenizer>> Tokenizer::create(const Vocabulary &vocab,
                                                       StringRef source) {
  std::unique_ptr<Tokenizer> tok(new Tokenizer());
  tok->vocab = vocab;
  tok->processor = std::make_unique<sentencepiece::SentencePieceProcessor>();
  std::string why = loadSentencePiece(*tok->processor, vocab.toSentencePieceProto());
  if (!why.empty())
    return fileError(source, "cannot load tokenizer: {0}", why);
  return std::move(tok);
}

std::vector<int> Tokenizer::encode(StringRef text) const {
  std::vector<int> ids;
  (void)processor->Encode(absl::string_view(text.data(), text.size()), &ids);
  return ids;
}

std::string Tokenizer::decode(const std::vector<int> &ids) const {
  std::string text;
  (void)processor->Decode(ids, &text);
  return text;
}

std::string Tokenizer::pieceText(int id) const {
  if (id < 0 || size_t(id) >= vocab.pieces.size())
    return "";
  return vocab.pieces[id];
}
