/* Choosing the next token from logits: greedy (temperature 0), or temperature, top-k and
 * top-p (nucleus) sampling with a seeded generator, in the order llama.cpp's common sampler
 * applies them (top-k, top-p, then temperature and the draw). */
#ifndef WK_ENGINE_SAMPLE_H
#define WK_ENGINE_SAMPLE_H

#include <stdint.h>

typedef struct wk_sampler {
    float temp;      /* <= 0: greedy */
    int top_k;       /* <= 0: all */
    float top_p;     /* >= 1: all */
    uint64_t state;  /* the generator (xorshift64*); seed it with wk_sampler_seed */
} wk_sampler;

void wk_sampler_seed(wk_sampler *s, uint64_t seed);
/* The next token. scratch holds n_vocab floats and n_vocab ints (wk_sample_scratch bytes). */
int32_t wk_sample(wk_sampler *s, const float *logits, int n_vocab, void *scratch);
unsigned long wk_sample_scratch(int n_vocab);

#endif
