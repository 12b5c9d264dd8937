//===- ArtifactOutput.cpp - What CPU and GPU artifacts share --------------===//
#include "ArtifactOutput.h"

#include "lowbit/Import/ModelLoader.h"
#include "lowbit/Runtime/ArtifactFormat.h"
#include "lowbit/Runtime/ArtifactWriter.h"
#include "lowbit/Support/OutputFile.h"

namespace lowbit {

void describeModel(artifact::Manifest &m, const LoadedModel &model, llvm::StringRef target) {
  const ModelConfig &mc = model.config;
  m.set_kv_width(mc.numKvHeads * mc.headDim);
  m.set_format_version(kArtifactFormatVersion);
  m.set_target(target.str());
  artifact::ModelConfig *c = m.mutable_config();
  c->set_arch(mc.arch);
  c->set_vocab_size(mc.vocabSize);
  c->set_hidden_size(mc.hiddenSize);
  c->set_num_layers(mc.numLayers);
  c->set_num_heads(mc.numHeads);
  c->set_num_kv_heads(mc.numKvHeads);
  c->set_head_dim(mc.headDim);
  c->set_context_length(mc.contextLength);
  c->set_bos_token_id(mc.bosTokenId);
  c->set_eos_token_id(mc.eosTokenId);
  const Vocabulary &vocab = model.tokenizer->vocabulary();
  m.mutable_tokenizer()->set_sentencepiece_model(
      vocab.originalProto.empty() ? vocab.toSentencePieceProto() : vocab.originalProto);
  m.mutable_tokenizer()->set_add_bos(vocab.addBos);
}

llvm::Error writeArtifactFile(llvm::StringRef path, const artifact::Manifest &m,
                              const void *weights, size_t weightsSize, const void *code,
                              size_t codeSize) {
  rt::ArtifactParts parts;
  parts.manifest = m.SerializeAsString();
  parts.weights = weights;
  parts.weightsSize = weightsSize;
  parts.code = code;
  parts.codeSize = codeSize;
  return writeArtifactFile(path, parts);
}

llvm::Error writeArtifactFile(llvm::StringRef path, const rt::ArtifactParts &parts) {
  return writeFileAtomically(path, [&](llvm::raw_pwrite_stream &os) {
    rt::writeArtifact(parts, [&os](const void *data, uint64_t size) {
      os.write(static_cast<const char *>(data), size);
      return true; // a failed write shows in the stream's error state
    });
    return llvm::Error::success();
  });
}

} // namespace lowbit
