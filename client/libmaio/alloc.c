/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The MAIO allocator: 64 KiB chunks circulate through per-thread magazines and a locked depot
 * (Bonwick's magazine layer); each thread carves variable-size buffers from its current chunk
 * page_frag-style. Every buffer's state lives at its first 64-byte granule, so state queries,
 * double-free and foreign-pointer checks are O(1). */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "maio-internal.h"

static maio_magazine *magazine_new(void) {
        return calloc(1, sizeof(maio_magazine));
}

static void magazine_list_free(maio_magazine *m) {
        while (m) {
                maio_magazine *next = m->next;
                free(m);
                m = next;
        }
}

/* Caller holds p->lock. */
static void depot_push(maio_magazine **list, maio_magazine *m) {
        m->next = *list;
        *list = m;
}

static maio_magazine *depot_pop(maio_magazine **list) {
        maio_magazine *m = *list;
        if (m) {
                *list = m->next;
                m->next = NULL;
        }
        return m;
}

static void chunk_unref(maio_pool *p, maio_tcache *tc, uint32_t c);

/* Thread exit: the frag cursor's reference goes first (it may need the thread's magazines),
 * then both magazines go to the depot. The tcache stays on p->tcaches, freed with the pool. */
static void tcache_destroy(void *data) {
        maio_tcache *tc = data;
        maio_pool *p = tc->pool;

        if (tc->frag_chunk != MAIO_NONE) {
                uint32_t c = tc->frag_chunk;
                tc->frag_chunk = MAIO_NONE;
                chunk_unref(p, tc, c);
        }
        pthread_mutex_lock(&p->lock);
        maio_magazine *mags[2] = { tc->loaded, tc->previous };
        for (size_t i = 0; i < 2; i++)
                if (mags[i])
                        depot_push(mags[i]->n > 0 ? &p->full : &p->empty, mags[i]);
        tc->loaded = tc->previous = NULL;
        pthread_mutex_unlock(&p->lock);
}

static maio_tcache *tcache_get(maio_pool *p) {
        maio_tcache *tc = pthread_getspecific(p->key);
        if (tc)
                return tc;
        tc = calloc(1, sizeof(*tc));
        if (!tc)
                return NULL;
        tc->pool = p;
        tc->frag_chunk = MAIO_NONE;
        if (pthread_setspecific(p->key, tc) != 0) {
                free(tc);
                return NULL;
        }
        pthread_mutex_lock(&p->lock);
        tc->next = p->tcaches;
        p->tcaches = tc;
        pthread_mutex_unlock(&p->lock);
        return tc;
}

/* Takes a free chunk from the thread's magazines or the depot. Returns 0 or -ENOBUFS. */
static int chunk_get(maio_pool *p, maio_tcache *tc, uint32_t *ret) {
        if (!tc->loaded || tc->loaded->n == 0) {
                if (tc->previous && tc->previous->n > 0) {
                        maio_magazine *t = tc->loaded;
                        tc->loaded = tc->previous;
                        tc->previous = t;
                } else {
                        int r = 0;
                        pthread_mutex_lock(&p->lock);
                        maio_magazine *full = depot_pop(&p->full);
                        if (full) {
                                if (tc->loaded)
                                        depot_push(&p->empty, tc->loaded);
                                tc->loaded = full;
                        } else if (p->nloose > 0) {
                                *ret = p->loose[--p->nloose];
                                atomic_fetch_sub(&p->chunks_free, 1);
                                r = 1;
                        } else
                                r = -ENOBUFS;
                        pthread_mutex_unlock(&p->lock);
                        if (r != 0)
                                return r < 0 ? r : 0;
                }
        }
        *ret = tc->loaded->slot[--tc->loaded->n];
        atomic_fetch_sub(&p->chunks_free, 1);
        return 0;
}

/* Returns a chunk whose last reference is gone to the calling thread's magazines; when no
 * magazine can be had (allocation failure), to the depot's loose list, which never fails. */
static void chunk_put(maio_pool *p, maio_tcache *tc, uint32_t c) {
        atomic_fetch_add(&p->chunks_free, 1);
        if (tc->loaded && tc->loaded->n == MAIO_MAG_SIZE) {
                if (tc->previous && tc->previous->n == 0) {
                        maio_magazine *t = tc->loaded;
                        tc->loaded = tc->previous;
                        tc->previous = t;
                } else {
                        pthread_mutex_lock(&p->lock);
                        depot_push(&p->full, tc->loaded);
                        tc->loaded = depot_pop(&p->empty);
                        pthread_mutex_unlock(&p->lock);
                }
        }
        if (!tc->loaded) {
                pthread_mutex_lock(&p->lock);
                tc->loaded = depot_pop(&p->empty);
                pthread_mutex_unlock(&p->lock);
                if (!tc->loaded)
                        tc->loaded = magazine_new();
        }
        if (!tc->loaded) {
                pthread_mutex_lock(&p->lock);
                p->loose[p->nloose++] = c;
                pthread_mutex_unlock(&p->lock);
                return;
        }
        tc->loaded->slot[tc->loaded->n++] = c;
}

static void chunk_unref(maio_pool *p, maio_tcache *tc, uint32_t c) {
        if (atomic_fetch_sub(&p->chunks[c].refs, 1) == 1)
                chunk_put(p, tc, c);
}

int alloc_init(maio_pool *p) {
        /* Full magazines holding every chunk, and as many empty ones for exchanges; more are
         * made on demand when many threads hold magazines. */
        uint32_t nmag = (p->nchunks + MAIO_MAG_SIZE - 1) / MAIO_MAG_SIZE;
        int r = -pthread_key_create(&p->key, tcache_destroy);
        if (r < 0)
                return r;
        p->key_created = true;
        p->chunks = calloc(p->nchunks, sizeof(maio_chunk));
        p->loose = calloc(p->nchunks, sizeof(uint32_t));
        if (!p->chunks || !p->loose)
                return -ENOMEM;
        uint32_t c = p->nchunks;
        for (uint32_t i = 0; i < nmag; i++) {
                maio_magazine *m = magazine_new();
                if (!m)
                        return -ENOMEM;
                while (m->n < MAIO_MAG_SIZE && c > 0)
                        m->slot[m->n++] = --c;
                depot_push(&p->full, m);
        }
        for (uint32_t i = 0; i < nmag + 4; i++) {
                maio_magazine *m = magazine_new();
                if (!m)
                        return -ENOMEM;
                depot_push(&p->empty, m);
        }
        atomic_store(&p->chunks_free, p->nchunks);
        return 0;
}

void alloc_done(maio_pool *p) {
        if (p->key_created) {
                /* Other threads' caches are gone with the pool; no destructor may run later. */
                pthread_key_delete(p->key);
                p->key_created = false;
        }
        while (p->tcaches) {
                maio_tcache *tc = p->tcaches;
                p->tcaches = tc->next;
                magazine_list_free(tc->loaded);
                magazine_list_free(tc->previous);
                free(tc);
        }
        magazine_list_free(p->full);
        magazine_list_free(p->empty);
        p->full = p->empty = NULL;
        free(p->chunks);
        p->chunks = NULL;
        free(p->loose);
        p->loose = NULL;
}

int alloc_buf(maio_pool *p, size_t size, maio_buf_state state, void **ret) {
        if (size == 0 || size > MAIO_CHUNK_SIZE)
                return -EINVAL;
        maio_tcache *tc = tcache_get(p);
        if (!tc)
                return -ENOMEM;
        uint32_t sz = (uint32_t) ((size + MAIO_ALIGN - 1) & ~(size_t) (MAIO_ALIGN - 1));

        if (tc->frag_chunk == MAIO_NONE || tc->frag_off + sz > MAIO_CHUNK_SIZE) {
                uint32_t c;
                if (tc->frag_chunk != MAIO_NONE && atomic_load(&p->chunks[tc->frag_chunk].refs) == 1) {
                        /* Every buffer carved from the cursor's chunk is back: start it over
                         * (page_frag's reuse), no magazine traffic. */
                        tc->frag_off = 0;
                } else {
                        int r = chunk_get(p, tc, &c);
                        if (r < 0) {
                                atomic_fetch_add(&p->alloc_failures, 1);
                                return r;
                        }
                        atomic_store(&p->chunks[c].refs, 1);
                        if (tc->frag_chunk != MAIO_NONE)
                                chunk_unref(p, tc, tc->frag_chunk);
                        tc->frag_chunk = c;
                        tc->frag_off = 0;
                }
        }
        uint32_t c = tc->frag_chunk, g = tc->frag_off / MAIO_ALIGN;
        atomic_fetch_add(&p->chunks[c].refs, 1);
        /* Old FREE marks stay at the starts of freed buffers (so a late double free is told
         * apart from a foreign pointer) until a new buffer covers them; interiors are cleared. */
        p->chunks[c].granules[g] = (uint16_t) (sz / MAIO_ALIGN);
        memset((void *) &p->chunks[c].state[g + 1], 0, sz / MAIO_ALIGN - 1);
        atomic_store(&p->chunks[c].state[g], (uint8_t) state);
        tc->frag_off += sz;
        atomic_fetch_add(&p->allocs, 1);
        *ret = p->base + (size_t) c * MAIO_CHUNK_SIZE + (size_t) g * MAIO_ALIGN;
        return 0;
}

/* Finds the state slot of the buffer starting at buf. Returns 0 or -EINVAL. */
static int alloc_locate(maio_pool *p, const void *buf, uint32_t *ret_chunk, _Atomic uint8_t **ret_state) {
        const uint8_t *b = buf;
        if (!buf || b < p->base || b >= p->base + (size_t) p->nchunks * MAIO_CHUNK_SIZE)
                return -EINVAL;
        size_t off = (size_t) (b - p->base);
        if (off % MAIO_ALIGN != 0)
                return -EINVAL;
        uint32_t c = (uint32_t) (off / MAIO_CHUNK_SIZE);
        _Atomic uint8_t *s = &p->chunks[c].state[(off % MAIO_CHUNK_SIZE) / MAIO_ALIGN];
        if (atomic_load(s) == 0)
                return -EINVAL;
        *ret_chunk = c;
        *ret_state = s;
        return 0;
}

static int alloc_state_error(uint8_t s) {
        switch (s) {
        case MAIO_BUF_FREE:
                return -EALREADY;
        case MAIO_BUF_INFLIGHT:
        case MAIO_BUF_RECV:
        case MAIO_BUF_APP:
                return -EBUSY;
        default:
                return -EINVAL;
        }
}

int alloc_size(maio_pool *p, const void *buf, size_t *ret) {
        uint32_t c;
        _Atomic uint8_t *s;
        int r = alloc_locate(p, buf, &c, &s);
        if (r < 0)
                return r;
        *ret = (size_t) p->chunks[c].granules[s - p->chunks[c].state] * MAIO_ALIGN;
        return 0;
}

int alloc_transition(maio_pool *p, const void *buf, maio_buf_state from, maio_buf_state to) {
        uint32_t c;
        _Atomic uint8_t *s;
        int r = alloc_locate(p, buf, &c, &s);
        if (r < 0)
                return r;
        uint8_t expect = (uint8_t) from;
        if (!atomic_compare_exchange_strong(s, &expect, (uint8_t) to))
                return expect == 0 ? -EINVAL : -EBUSY;
        return 0;
}

int alloc_release(maio_pool *p, void *buf, maio_buf_state expect) {
        uint32_t c;
        _Atomic uint8_t *s;
        int r = alloc_locate(p, buf, &c, &s);
        if (r >= 0) {
                uint8_t e = (uint8_t) expect;
                if (!atomic_compare_exchange_strong(s, &e, (uint8_t) MAIO_BUF_FREE))
                        r = e == MAIO_BUF_FREE ? -EALREADY : alloc_state_error(e);
        }
        if (r < 0) {
                atomic_fetch_add(&p->rejected_frees, 1);
                return r;
        }
        maio_tcache *tc = tcache_get(p);
        if (!tc) {
                /* Cannot reach a magazine: keep the chunk referenced (a leak of at most one
                 * chunk under memory exhaustion) rather than corrupt the depot. */
                atomic_fetch_add(&p->frees, 1);
                return 0;
        }
        chunk_unref(p, tc, c);
        atomic_fetch_add(&p->frees, 1);
        return 0;
}

int maio_alloc(maio_pool *pool, size_t size, void **ret) {
        if (!pool || !ret)
                return -EINVAL;
        return alloc_buf(pool, size, MAIO_BUF_APP, ret);
}

int maio_free(maio_pool *pool, void *buf) {
        if (!pool)
                return -EINVAL;
        return alloc_release(pool, buf, MAIO_BUF_APP);
}

int maio_buf_get_state(maio_pool *pool, const void *buf) {
        uint32_t c;
        _Atomic uint8_t *s;
        if (!pool)
                return -EINVAL;
        int r = alloc_locate(pool, buf, &c, &s);
        return r < 0 ? r : (int) atomic_load(s);
}

const char *maio_buf_state_to_string(int state) {
        switch (state) {
        case MAIO_BUF_FREE:
                return "free";
        case MAIO_BUF_APP:
                return "app";
        case MAIO_BUF_INFLIGHT:
                return "inflight";
        case MAIO_BUF_RECV:
                return "recv";
        default:
                return "invalid";
        }
}
