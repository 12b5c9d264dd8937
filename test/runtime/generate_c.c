/*===- generate_c.c - Greedy generation through the C API ----------------===*
 *
 *   lowbit-generate-c MODEL.lbx PROMPT N [THREADS | cuda:DEVICE]
 *
 * Loads a compiled artifact, tokenizes PROMPT (with BOS when the tokenizer
 * wants it), prefills, greedily decodes N tokens and prints the prompt ids
 * and the generated ids, one line each; the text goes to stderr. With
 * cuda:DEVICE, a GPU artifact runs on that GPU. Plain C: it includes only
 * lowbit_runtime.h and links only the runtime (and its GPU session).
 *
 *===----------------------------------------------------------------------===*/
#include "lowbit/Runtime/lowbit_runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what) {
  fprintf(stderr, "lowbit-generate-c: %s: %s\n", what, lowbit_last_error());
  return 1;
}

static void printIds(const char *label, const int32_t *ids, int64_t n) {
  printf("%s", label);
  for (int64_t i = 0; i < n; ++i)
    printf(" %d", (int)ids[i]);
  printf("\n");
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s MODEL.lbx PROMPT N [THREADS | cuda:DEVICE]\n", argv[0]);
    return 2;
  }
  const char *path = argv[1], *prompt = argv[2];
  int64_t steps = atoll(argv[3]);
  int cuda = argc > 4 && strncmp(argv[4], "cuda:", 5) == 0;
  int threads = argc > 4 && !cuda ? atoi(argv[4]) : 0;
  int device = cuda ? atoi(argv[4] + 5) : 0;

  lowbit_model *model = NULL;
  if (lowbit_model_load(path, &model) != 0)
    return fail("load");
  lowbit_model_info info;
  lowbit_model_get_info(model, &info);

  int64_t needed = 0;
  lowbit_tokenize(model, prompt, NULL, 0, &needed);
  if (needed < 0)
    return fail("tokenize");
  int64_t capacity = needed + 1 + steps;
  int32_t *ids = malloc(sizeof(int32_t) * (size_t)(capacity > 0 ? capacity : 1));
  int64_t n = 0;
  if (info.add_bos && info.bos_token_id >= 0)
    ids[n++] = (int32_t)info.bos_token_id;
  if (lowbit_tokenize(model, prompt, ids + n, needed, NULL) < 0)
    return fail("tokenize");
  n += needed;
  if (n == 0) {
    fprintf(stderr, "lowbit-generate-c: the prompt has no tokens\n");
    return 1;
  }

  lowbit_session *session = NULL;
  if ((cuda ? lowbit_session_create_cuda(model, 0, device, &session)
            : lowbit_session_create(model, 0, threads, &session)) != 0)
    return fail("session");
  if (lowbit_session_prefill(session, ids, n) != 0)
    return fail("prefill");
  int64_t promptTokens = n;
  uint64_t rng = 0;
  for (int64_t i = 0; i < steps; ++i) {
    int32_t next = lowbit_sample(lowbit_session_logits(session), info.vocab_size,
                                 0.0f, 0, 1.0f, &rng);
    ids[n++] = next;
    if (i + 1 == steps || next == info.eos_token_id)
      break;
    if (lowbit_session_decode(session, next) != 0)
      return fail("decode");
  }
  printIds("prompt:", ids, promptTokens);
  printIds("generated:", ids + promptTokens, n - promptTokens);

  int64_t length = lowbit_detokenize(model, ids, n, NULL, 0);
  if (length >= 0) {
    char *text = malloc((size_t)length + 1);
    lowbit_detokenize(model, ids, n, text, length + 1);
    fprintf(stderr, "%s\n", text);
    free(text);
  }
  free(ids);
  lowbit_session_free(session);
  lowbit_model_free(model);
  return 0;
}
