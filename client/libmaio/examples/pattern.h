/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test data for the examples and the transfer tests: a byte stream that is a pure function of
 * (seed, offset), so a receiver can check every byte without a copy of what was sent, and a
 * streaming 64-bit checksum both ends compute independently. Header-only. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t pattern_mix(uint64_t x) {
        x += 0x9e3779b97f4a7c15ull;
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
        return x ^ (x >> 31);
}

/* Writes the stream bytes [off, off+len) of seed into buf. */
static inline void pattern_fill(uint64_t seed, uint64_t off, void *buf, size_t len) {
        uint8_t *b = buf;
        while (len > 0) {
                uint64_t w = pattern_mix(seed ^ (off >> 3) * 0x100000001b3ull);
                size_t skip = off & 7, n = 8 - skip < len ? 8 - skip : len;
                memcpy(b, (const uint8_t *) &w + skip, n);
                b += n;
                off += n;
                len -= n;
        }
}

/* Returns the index of the first byte of buf that differs from the stream at off, or -1. */
static inline long pattern_check(uint64_t seed, uint64_t off, const void *buf, size_t len) {
        const uint8_t *b = buf;
        size_t done = 0;
        while (done < len) {
                uint64_t w = pattern_mix(seed ^ (off >> 3) * 0x100000001b3ull);
                size_t skip = off & 7, n = 8 - skip < len - done ? 8 - skip : len - done;
                if (memcmp(b + done, (const uint8_t *) &w + skip, n) != 0) {
                        for (size_t i = 0; i < n; i++)
                                if (b[done + i] != ((const uint8_t *) &w)[skip + i])
                                        return (long) (done + i);
                }
                done += n;
                off += n;
        }
        return -1;
}

/* Order-sensitive checksum over a byte stream fed in arbitrary pieces: FNV-style over 8-byte
 * words of the stream (bytes of an unfinished word wait in carry), so piece boundaries do not
 * change the result. */
typedef struct pattern_sum {
        uint64_t h;
        uint64_t n;
        uint8_t carry[8];
} pattern_sum;

static inline void pattern_sum_word(pattern_sum *s, uint64_t w) {
        s->h = (s->h ^ w) * 0x100000001b3ull;
        s->h ^= s->h >> 29;
}

static inline void pattern_sum_add(pattern_sum *s, const void *buf, size_t len) {
        const uint8_t *b = buf;
        while (len > 0 && (s->n & 7) != 0) {
                s->carry[s->n & 7] = *b++;
                len--;
                if ((++s->n & 7) == 0) {
                        uint64_t w;
                        memcpy(&w, s->carry, 8);
                        pattern_sum_word(s, w);
                }
        }
        for (; len >= 8; b += 8, len -= 8, s->n += 8) {
                uint64_t w;
                memcpy(&w, b, 8);
                pattern_sum_word(s, w);
        }
        for (; len > 0; len--)
                s->carry[s->n++ & 7] = *b++;
}

/* The final value, including an unfinished last word. */
static inline uint64_t pattern_sum_value(const pattern_sum *s) {
        uint64_t h = s->h;
        for (uint64_t i = 0; i < (s->n & 7); i++)
                h = (h ^ s->carry[i]) * 0x100000001b3ull;
        return h ^ s->n;
}

/* Small xorshift generator for message sizes. */
static inline uint64_t pattern_rand(uint64_t *state) {
        uint64_t x = *state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return *state = x;
}
