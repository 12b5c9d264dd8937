//===- Vocabulary.h - SentencePiece vocabularies and tokenizer --*- C++ -*-===//
#ifndef LOWBIT_FORMATS_VOCABULARY_H
#define LOWBIT_FORMATS_VOCABULARY_H

#include "llvm/Support/Error.h"

#include <memory>
#include <string>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace lowbit {

class GgufFile;

/// Token types, numbered as SentencePiece and GGUF both number them.
enum class TokenType : int32_t {
  Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6
};

/// A SentencePiece-style vocabulary (pieces, scores, types and special ids)
/// read from `tokenizer.model` or from GGUF metadata, convertible both ways.
struct Vocabulary {
  std::vector<std::string> pieces;
  std::vector<float> scores;
  std::vector<TokenType> types;
  int64_t unkId = 0, bosId = 1, eosId = 2;
  bool addBos = true, addEos = false, addSpacePrefix = true;
  bool byteFallback = true;
  /// 1 unigram, 2 BPE (SentencePiece's TrainerSpec.model_type).
  int modelType = 2;
  /// The original tokenizer.model bytes when read from one (keeps the
  /// normalizer rules that the rebuilt proto would not carry).
  std::string originalProto;

  /// Reads `tokenizer.model`; `vocabSize` (from config.json) pads the table
  /// with [PAD<id>] entries as the HF -> GGUF converter does, and a tokenizer
  /// with more pieces than `vocabSize` is rejected.
  static llvm::Expected<Vocabulary> fromSentencePieceFile(llvm::StringRef path,
                                                          int64_t vocabSize);
  /// The same for tokenizer.model bytes already in memory; `source` names
  /// them in errors.
  static llvm::Expected<Vocabulary>
  fromSentencePieceProto(llvm::StringRef bytes, llvm::StringRef source,
                         int64_t vocabSize);
  /// Takes add_bos_token / add_eos_token from tokenizer_config.json text.
  /// The file is optional metadata: text that is not a JSON object, or
  /// settings that are not booleans, leave the defaults.
  void applyTokenizerConfig(llvm::StringRef json);
  /// Reads the tokenizer.ggml.* arrays of a GGUF file (model "llama" only).
  static llvm::Expected<Vocabulary> fromGguf(const GgufFile &file);

  /// Serializes a SentencePiece ModelProto equivalent to this vocabulary.
  std::string toSentencePieceProto() const;
};

/// Text <-> token ids through libsentencepiece.
class Tokenizer {
public:
  ~Tokenizer();
  static llvm::Expected<std::unique_ptr<Tokenizer>>
  create(const Vocabulary &vocab, llvm::StringRef source);

  /// Encodes without BOS/EOS; callers add them per protocol.
  std::vector<int> encode(llvm::StringRef text) const;
  std::string decode(const std::vector<int> &ids) const;
  std::string pieceText(int id) const;
  const Vocabulary &vocabulary() const { return vocab; }

private:
  Tokenizer() = default;
  Vocabulary vocab;
  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor;
};

} // namespace lowbit

#endif // LOWBIT_FORMATS_VOCABULARY_H
