/*===- toy_kernels.c - Kernels of a toy plan for the runtime's tests -----===*
 *
 * Built into a shared object and embedded as the code section of the
 * artifacts RuntimeTest writes. The plan: embed (tokens -> hidden rows),
 * cache (hidden -> KV cache at each position), head (KV cache -> logits).
 * The logits make every step's effect visible:
 *   logits[t][v]         = 1000 if v is token t's id, else 0, for v >= 1
 *   logits[t][0]        += the sum of the cached keys at positions 0..pos[t]
 *   logits[t][vocab - 1] = the `tokens` the head kernel was called with
 * Rows (embed, cache) and columns (head) are split among the threads, so a
 * missing barrier shows up as a wrong sum.
 *
 *===----------------------------------------------------------------------===*/
#include <stdint.h>

#define VOCAB 16

static void share(int64_t total, int64_t thread, int64_t threads,
                  int64_t *begin, int64_t *end) {
  int64_t chunk = (total + threads - 1) / threads;
  *begin = thread * chunk < total ? thread * chunk : total;
  *end = *begin + chunk < total ? *begin + chunk : total;
}

/* args: TOKENS, BUFFER hidden [T, 2] f32, TENSOR table f32[VOCAB] */
void toy_embed(void *const *args, int64_t tokens, int64_t thread,
               int64_t threads) {
  const int32_t *ids = (const int32_t *)args[0];
  float *hidden = (float *)args[1];
  const float *table = (const float *)args[2];
  int64_t b, e;
  share(tokens, thread, threads, &b, &e);
  for (int64_t t = b; t < e; ++t) {
    hidden[2 * t] = table[ids[t]];
    hidden[2 * t + 1] = (float)ids[t];
  }
}

/* args: POSITIONS, BUFFER hidden, KEY_CACHE 0, VALUE_CACHE 0 (width 1) */
void toy_cache(void *const *args, int64_t tokens, int64_t thread,
               int64_t threads) {
  const int32_t *pos = (const int32_t *)args[0];
  const float *hidden = (const float *)args[1];
  float *keys = (float *)args[2], *values = (float *)args[3];
  int64_t b, e;
  share(tokens, thread, threads, &b, &e);
  for (int64_t t = b; t < e; ++t) {
    keys[pos[t]] = hidden[2 * t];
    values[pos[t]] = hidden[2 * t + 1];
  }
}

/* args: POSITIONS, BUFFER hidden, KEY_CACHE 0, BUFFER logits [T, VOCAB] */
void toy_head(void *const *args, int64_t tokens, int64_t thread,
              int64_t threads) {
  const int32_t *pos = (const int32_t *)args[0];
  const float *hidden = (const float *)args[1];
  const float *keys = (const float *)args[2];
  float *logits = (float *)args[3];
  int64_t b, e;
  share(VOCAB, thread, threads, &b, &e);
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t v = b; v < e; ++v) {
      float x = (float)v == hidden[2 * t + 1] && v > 0 ? 1000.0f : 0.0f;
      if (v == 0)
        for (int32_t p = 0; p <= pos[t]; ++p)
          x += keys[p];
      if (v == VOCAB - 1)
        x = (float)tokens;
      logits[t * VOCAB + v] = x;
    }
  }
}
