//===- SentencePieceLoader.cpp - Built with exceptions (see the header) ---===//
#include "SentencePieceLoader.h"

#include <sentencepiece_processor.h>

#include <exception>

std::string
lowbit::loadSentencePiece(sentencepiece::SentencePieceProcessor &processor,
                          llvm::StringRef serializedProto) {
  try {
    auto status = processor.LoadFromSerializedProto(
        absl::string_view(serializedProto.data(), serializedProto.size()));
    return status.ok() ? std::string() : status.ToString();
  } catch (const std::exception &e) {
    return std::string("SentencePiece refused it: ") + e.what();
  } catch (...) {
    return "SentencePiece refused it";
  }
}
