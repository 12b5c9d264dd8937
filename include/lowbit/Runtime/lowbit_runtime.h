/*===- lowbit_runtime.h - C API of the lowbit runtime ------------*- C -*-===*
 *
 * Loads a compiled artifact (.lbx) and runs it: no MLIR, no LLVM. Every
 * function that can fail returns 0 on success and non-zero on failure, with
 * the reason in lowbit_last_error() (per thread).
 *
 *===----------------------------------------------------------------------===*/
#ifndef LOWBIT_RUNTIME_LOWBIT_RUNTIME_H
#define LOWBIT_RUNTIME_LOWBIT_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lowbit_model lowbit_model;
typedef struct lowbit_session lowbit_session;

typedef struct lowbit_model_info {
  int64_t vocab_size;
  int64_t context_length;
  int64_t num_layers;
  int64_t bos_token_id; /* -1: none */
  int64_t eos_token_id; /* -1: none */
  int add_bos;          /* the tokenizer wants BOS before a prompt */
  uint64_t weight_bytes;
  const char *target;   /* e.g. "x86-64-v3"; "x86-64-v3,sm_90" for both */
} lowbit_model_info;

/* The reason the last failing call on this thread failed. */
const char *lowbit_last_error(void);

/* Maps `path`, checks it (header, sizes, checksums, format version, CPU
 * features) and loads its code. */
int lowbit_model_load(const char *path, lowbit_model **model);
void lowbit_model_free(lowbit_model *model);
void lowbit_model_get_info(const lowbit_model *model, lowbit_model_info *info);

/* A KV cache of `context_length` positions (0: the model's) and a pool of
 * `threads` threads (0: one per core, at most the cores available). A model
 * may serve several sessions; a session serves one caller at a time. */
int lowbit_session_create(lowbit_model *model, int64_t context_length,
                          int threads, lowbit_session **session);
/* A session of a GPU artifact (lowbit-compile --target=sm_80|sm_90, or the
 * GPU part of one compiled for x86-64-v3,sm_90; lowbit_session_create runs
 * the CPU part) on
 * NVIDIA GPU `device` (cuda:N), its weights uploaded once: the same calls
 * below run it. The CUDA driver is opened here; without one, or for an
 * artifact this GPU cannot run, it fails naming the file. Defined in the
 * LowbitGpuRuntime library (CMake target lowbit::LowbitGpuRuntime). */
int lowbit_session_create_cuda(lowbit_model *model, int64_t context_length,
                               int device, lowbit_session **session);
void lowbit_session_free(lowbit_session *session);
/* Forgets every cached position. */
void lowbit_session_reset(lowbit_session *session);

/* Runs `n` tokens at explicit positions (each < the session's context).
 * all_logits != 0 keeps logits for every token, else for the last only. */
int lowbit_session_forward(lowbit_session *session, const int32_t *tokens,
                           const int32_t *positions, int64_t n,
                           int all_logits);
/* Logits of the last forward call: [n or 1, vocab_size] floats (the last
 * token's row unless all_logits was set); valid until the next call. */
const float *lowbit_session_logits(const lowbit_session *session);
/* Prefill: tokens at the next positions of the session; leaves the last
 * token's logits. */
int lowbit_session_prefill(lowbit_session *session, const int32_t *tokens,
                           int64_t n);
/* Decode: one token at the next position. */
int lowbit_session_decode(lowbit_session *session, int32_t token);
/* Positions filled so far: one past the highest position run (by forward,
 * prefill or decode) since the session was created or reset. */
int64_t lowbit_session_position(const lowbit_session *session);

/* Text -> ids (no BOS/EOS); returns the count, or -1 when `capacity` is too
 * small (the count needed is then in *needed when not null) or on failure
 * (e.g. an artifact without a tokenizer; see lowbit_last_error). */
int64_t lowbit_tokenize(const lowbit_model *model, const char *text,
                        int32_t *ids, int64_t capacity, int64_t *needed);
/* ids -> text into `out` (NUL-terminated, truncated to `capacity`); returns
 * the full length, or -1 on failure. */
int64_t lowbit_detokenize(const lowbit_model *model, const int32_t *ids,
                          int64_t n, char *out, int64_t capacity);

/* Picks a token from one row of logits: greedy when temperature == 0, else
 * temperature, top-k (0 = off) and top-p (1 = off) sampling; `rng_state` is
 * advanced. Returns -1 without logits (e.g. before the first forward). */
int32_t lowbit_sample(const float *logits, int64_t vocab, float temperature,
                      int64_t top_k, float top_p, uint64_t *rng_state);

#ifdef __cplusplus
}
#endif

#endif /* LOWBIT_RUNTIME_LOWBIT_RUNTIME_H */
