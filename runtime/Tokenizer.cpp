//===- Tokenizer.cpp - The artifact's SentencePiece model -----------------===//
#include "lowbit/Runtime/Runtime.h"

#include <sentencepiece_processor.h>

using namespace lowbit::rt;

struct Tokenizer::Impl {
  sentencepiece::SentencePieceProcessor processor;
};

Tokenizer::Tokenizer() : impl(std::make_unique<Impl>()) {}
Tokenizer::~Tokenizer() = default;

StatusOr<std::unique_ptr<Tokenizer>>
Tokenizer::create(const std::string &serializedModel) {
  std::unique_ptr<Tokenizer> tok(new Tokenizer());
  auto status = tok->impl->processor.LoadFromSerializedProto(
      absl::string_view(serializedModel.data(), serializedModel.size()));
  if (!status.ok())
    return Status::error("cannot load the tokenizer: " + status.ToString());
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
