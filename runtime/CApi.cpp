//===- CApi.cpp - lowbit_runtime.h over the C++ layer ---------------------===//
#include "lowbit/Runtime/lowbit_runtime.h"
#include "CApiTypes.h"
#include "lowbit/Runtime/Runtime.h"
#include "lowbit/Runtime/Sampler.h"

#include <algorithm>
#include <cstring>

using namespace lowbit::rt;

static thread_local std::string lastError;

int lowbit::rt::capiFail(const std::string &message) {
  lastError = message;
  return 1;
}

int lowbit::rt::capiCheck(const Status &status) {
  return status.ok() ? 0 : capiFail(status.message());
}

static int failWith(const std::string &message) { return capiFail(message); }
static int check(const Status &status) { return capiCheck(status); }

extern "C" {

const char *lowbit_last_error(void) { return lastError.c_str(); }

int lowbit_model_load(const char *path, lowbit_model **model) {
  if (!path || !model)
    return failWith("lowbit_model_load: null argument");
  *model = nullptr;
  StatusOr<std::unique_ptr<Model>> loaded = Model::load(path);
  if (!loaded.ok())
    return check(loaded.status());
  *model = new lowbit_model{loaded.take()};
  return 0;
}

void lowbit_model_free(lowbit_model *model) { delete model; }

void lowbit_model_get_info(const lowbit_model *model, lowbit_model_info *info) {
  if (!model || !info)
    return;
  const ModelInfo &m = model->model->info();
  info->vocab_size = m.vocabSize;
  info->context_length = m.contextLength;
  info->num_layers = m.numLayers;
  info->bos_token_id = m.bosTokenId;
  info->eos_token_id = m.eosTokenId;
  info->add_bos = m.addBos ? 1 : 0;
  info->weight_bytes = m.weightBytes;
  info->target = m.target.c_str();
}

int lowbit_session_create(lowbit_model *model, int64_t context_length,
                          int threads, lowbit_session **session) {
  if (!model || !session)
    return failWith("lowbit_session_create: null argument");
  *session = nullptr;
  StatusOr<std::unique_ptr<Session>> created =
      Session::create(*model->model, context_length, threads);
  if (!created.ok())
    return check(created.status());
  *session = new lowbit_session{created.take()};
  return 0;
}

void lowbit_session_free(lowbit_session *session) { delete session; }

void lowbit_session_reset(lowbit_session *session) {
  if (!session)
    return;
  session->engine->reset();
}

int lowbit_session_forward(lowbit_session *session, const int32_t *tokens,
                           const int32_t *positions, int64_t n,
                           int all_logits) {
  if (!session || (n > 0 && (!tokens || !positions)))
    return failWith("lowbit_session_forward: null argument");
  return check(session->engine->forward(tokens, positions, n, all_logits != 0));
}

const float *lowbit_session_logits(const lowbit_session *session) {
  return session ? session->engine->logits() : nullptr;
}

int lowbit_session_prefill(lowbit_session *session, const int32_t *tokens,
                           int64_t n) {
  if (!session || (n > 0 && !tokens))
    return failWith("lowbit_session_prefill: null argument");
  return check(session->engine->prefill(tokens, n));
}

int lowbit_session_decode(lowbit_session *session, int32_t token) {
  if (!session)
    return failWith("lowbit_session_decode: null argument");
  return check(session->engine->decode(token));
}

int64_t lowbit_session_position(const lowbit_session *session) {
  return session ? session->engine->position() : 0;
}

int64_t lowbit_tokenize(const lowbit_model *model, const char *text,
                        int32_t *ids, int64_t capacity, int64_t *needed) {
  if (needed)
    *needed = -1;
  if (!model || !text) {
    failWith("lowbit_tokenize: null argument");
    return -1;
  }
  const Tokenizer *tok = model->model->tokenizer();
  if (!tok) {
    failWith(model->model->path() + ": the artifact carries no tokenizer");
    return -1;
  }
  std::vector<int32_t> out = tok->encode(text);
  int64_t count = int64_t(out.size());
  if (needed)
    *needed = count;
  if (count > capacity || (count > 0 && !ids)) {
    failWith("lowbit_tokenize: " + std::to_string(count) +
             " ids do not fit a capacity of " + std::to_string(capacity));
    return -1;
  }
  std::copy(out.begin(), out.end(), ids);
  return count;
}

int64_t lowbit_detokenize(const lowbit_model *model, const int32_t *ids,
                          int64_t n, char *out, int64_t capacity) {
  if (!model || (n > 0 && !ids)) {
    failWith("lowbit_detokenize: null argument");
    return -1;
  }
  const Tokenizer *tok = model->model->tokenizer();
  if (!tok) {
    failWith(model->model->path() + ": the artifact carries no tokenizer");
    return -1;
  }
  std::string text = tok->decode(std::vector<int32_t>(ids, ids + n));
  if (out && capacity > 0) {
    size_t copied = std::min(text.size(), size_t(capacity - 1));
    std::memcpy(out, text.data(), copied);
    out[copied] = '\0';
  }
  return int64_t(text.size());
}

int32_t lowbit_sample(const float *logits, int64_t vocab, float temperature,
                      int64_t top_k, float top_p, uint64_t *rng_state) {
  if (!logits || vocab <= 0) {
    failWith("lowbit_sample: no logits");
    return -1;
  }
  SamplerOptions options;
  options.temperature = temperature;
  options.topK = top_k;
  options.topP = top_p;
  uint64_t local = 0;
  return sampleToken(logits, vocab, options, rng_state ? *rng_state : local);
}

} // extern "C"
