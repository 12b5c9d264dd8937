//===- SentencePieceLoader.h - A model into SentencePiece -------*- C++ -*-===//
//
// SentencePiece reports some malformed models by throwing (darts-clone,
// building the trie of a unigram model, on a piece with a NUL byte). lowbit
// is built without exceptions, so SentencePieceLoader.cpp alone is compiled
// with them and turns one into a message.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_LIB_FORMATS_SENTENCEPIECELOADER_H
#define LOWBIT_LIB_FORMATS_SENTENCEPIECELOADER_H

#include "llvm/ADT/StringRef.h"

#include <string>

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace lowbit {

/// Loads a serialized ModelProto into `processor`: what went wrong, or an
/// empty string.
std::string loadSentencePiece(sentencepiece::SentencePieceProcessor &processor,
                              llvm::StringRef serializedProto);

} // namespace lowbit

#endif // LOWBIT_LIB_FORMATS_SENTENCEPIECELOADER_H
