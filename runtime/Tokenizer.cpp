//===- Tokenizer.cpp - The artifact's SentencePiece model -----------------===//
#include "lowbit/Runtime/Runtime.h"

#include <sentencepiece_processor.h>

#include <exception>

using namespace lowbit::rt;

struct Tokenizer::Impl {
  sentencepiece::SentencePieceProcessor processor;
};

Tokenizer::Tokenizer() : impl(std::make_unique<Impl>()) {}
Tokenizer::~Tokenizer() = default;

StatusOr<std::unique_ptr<Tokenizer>>
Tokenizer::create(const std::string &serializedModel) {
  std::unique_ptr<Tokenizer> tok(new Tokenizer());
  // SentencePiece reports some malformed models by throwing (darts-clone,
  // building the trie of a unigram model, on a piece with a NUL byte). The
  // runtime is built without exceptions, so this file alone is compiled
  // with them (runtime/CMakeLists.txt) to turn one into a failure.
  std::string why;
  try {
    auto status = tok->impl->processor.LoadFromSerializedProto(
        absl::string_view(serializedModel.data(), serializedModel.size()));
    if (!status.ok())
      why = status.ToString();
  } catch (const std::exception &e) {
    why = std::string("SentencePiece refused it: ") + e.what();
  } catch (...) {
    why = "SentencePiece refused it";
  }
  if (!why.empty())
    return Status::error("cannot load the tokenizer: " + why);
  return std::move(tok);
}

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  std::vector<int> ids;
  (void)impl->processor.Encode(absl::string_view(text.data(), text.size()),
                               &ids);
  return std::vector<int32_t>(ids.begin(), ids.end());
}

std::string Tokenizer::decode(const std::vector<int32_t> &ids) const {
  std::vector<int> asInt(ids.begin(), ids.end());
  std::string text;
  (void)impl->processor.Decode(asInt, &text);
  return text;
}

int64_t Tokenizer::size() const { return impl->processor.GetPieceSize(); }
