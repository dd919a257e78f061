/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tier-trace-infer: an ML inference loop to record a memory trace of
 * (tests/bench/tier/record-traces): per request, an embedding bag of rows
 * drawn with power-law popularity from a large table, sum-pooled, then three
 * dense layers. Deterministic for its arguments; prints a checksum. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define DIM 64
#define HIDDEN 64
#define BAG 32

static uint64_t rng_next(uint64_t *s) {
        uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

static double rng_uniform(uint64_t *s) {
        return (double) (rng_next(s) >> 11) * 0x1.0p-53;
}

static void dense(const float *w, const float *in, unsigned n_in, float *out, unsigned n_out) {
        for (unsigned o = 0; o < n_out; o++) {
                float acc = 0;

                for (unsigned i = 0; i < n_in; i++)
                        acc += w[(size_t) o * n_in + i] * in[i];
                out[o] = acc > 0 ? acc : 0;
        }
}

int main(int argc, char **argv) {
        unsigned rows = argc > 1 ? (unsigned) strtoul(argv[1], NULL, 10) : 65536;
        unsigned requests = argc > 2 ? (unsigned) strtoul(argv[2], NULL, 10) : 2000;
        float *table, *w1, *w2, *w3, pooled[DIM], h1[HIDDEN], h2[HIDDEN], y;
        uint64_t seed = 1;
        double sum = 0;

        if (rows < 1 || requests < 1) {
                fprintf(stderr, "usage: tier-trace-infer [ROWS [REQUESTS]]\n");
                return 2;
        }
        /* Zero-filled by calloc: an embedding table's values do not change its access pattern, and
         * filling it would make a recording mostly initialisation. */
        table = calloc((size_t) rows * DIM, sizeof(float));
        w1 = malloc((size_t) HIDDEN * DIM * sizeof(float));
        w2 = malloc((size_t) HIDDEN * HIDDEN * sizeof(float));
        w3 = malloc((size_t) HIDDEN * sizeof(float));
        if (!table || !w1 || !w2 || !w3)
                return 1;
        for (size_t i = 0; i < (size_t) HIDDEN * DIM; i++)
                w1[i] = (float) (rng_uniform(&seed) - 0.5) / 8;
        for (size_t i = 0; i < (size_t) HIDDEN * HIDDEN; i++)
                w2[i] = (float) (rng_uniform(&seed) - 0.5) / 16;
        for (size_t i = 0; i < HIDDEN; i++)
                w3[i] = (float) (rng_uniform(&seed) - 0.5) / 16;

        for (unsigned r = 0; r < requests; r++) {
                for (unsigned d = 0; d < DIM; d++)
                        pooled[d] = 0;
                for (unsigned b = 0; b < BAG; b++) {
                        /* Power-law popularity (log-uniform rank: density ~ 1/rank), hashed over the table so hot
                         * rows are scattered across pages as in a real embedding table. */
                        double u = rng_uniform(&seed);
                        uint64_t rank = (uint64_t) (pow((double) rows, u) - 1) % rows;
                        const float *row = &table[(rank * UINT64_C(2654435761)) % rows * DIM];

                        for (unsigned d = 0; d < DIM; d++)
                                pooled[d] += row[d];
                }
                dense(w1, pooled, DIM, h1, HIDDEN);
                dense(w2, h1, HIDDEN, h2, HIDDEN);
                y = 0;
                for (unsigned i = 0; i < HIDDEN; i++)
                        y += w3[i] * h2[i];
                sum += y;
        }
        printf("%.6f\n", sum);
        free(table);
        free(w1);
        free(w2);
        free(w3);
        return 0;
}
