/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for libmaio's pool and allocator: backing and its stated reason (THP fallback),
 * buffer states, double free and foreign pointers, exhaustion and recovery with nothing leaked,
 * chunk recycling across threads. The refusal of a required hugetlb backing needs a host without
 * 2 MB hugetlb pages and is a group of its own (maio-alloc-live-no-hugetlb). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <maio/maio.h>

#include "testgroups.h"

/* A number of the 2 MB hugetlb pool (free_hugepages, nr_overcommit_hugepages); 0 when absent. */
static long hugepages_2mb(const char *file) {
        char path[128];
        snprintf(path, sizeof path, "/sys/kernel/mm/hugepages/hugepages-2048kB/%s", file);
        FILE *f = fopen(path, "re");
        long n = 0;
        if (!f)
                return 0;
        if (fscanf(f, "%ld", &n) != 1)
                n = 0;
        fclose(f);
        return n;
}

static long free_hugepages(void) {
        return hugepages_2mb("free_hugepages");
}

static maio_pool *pool_make(size_t size, unsigned flags) {
        maio_pool *p = NULL;
        maio_pool_config cfg = { .size = size, .numa_node = -1, .flags = flags | MAIO_POOL_NO_DAEMON };
        assert_int_equal(maio_pool_new(&cfg, &p), 0);
        assert_non_null(p);
        return p;
}

static void test_backing_stated(void **state) {
        maio_pool *p = pool_make(4u << 20, 0);
        maio_pool_stats st;
        maio_pool_stats_get(p, &st);
        assert_int_equal(st.size, 4u << 20);
        assert_int_equal(st.chunks_total, (4u << 20) / MAIO_CHUNK_SIZE);
        assert_int_equal(st.chunks_free, st.chunks_total);
        assert_int_equal(st.grant, MAIO_GRANT_NOT_ASKED);
        if (free_hugepages() < 2) {
                /* This host has no hugetlb pages: the fallback must be visible, with a reason. */
                assert_int_not_equal(st.backing, MAIO_BACKING_HUGETLB);
                assert_non_null(st.backing_reason);
                assert_non_null(strstr(st.backing_reason, "hugetlb"));
                assert_string_not_equal(maio_backing_to_string(st.backing), "hugetlb");
        } else {
                assert_int_equal(st.backing, MAIO_BACKING_HUGETLB);
                assert_null(st.backing_reason);
        }
        maio_pool_free(p);

        /* Skipping hugetlb on purpose is stated as such. */
        p = pool_make(2u << 20, MAIO_POOL_NO_HUGETLB);
        maio_pool_stats_get(p, &st);
        assert_int_not_equal(st.backing, MAIO_BACKING_HUGETLB);
        assert_non_null(strstr(st.backing_reason, "not requested"));
        size_t sz;
        void *base = maio_pool_base(p, &sz);
        assert_int_equal((uintptr_t) base % MAIO_HUGE_PAGE_SIZE, 0);
        assert_int_equal(sz, 2u << 20);
        maio_pool_free(p);
}

static void test_require_hugetlb(void **state) {
        maio_pool *p = NULL;
        maio_pool_config cfg = { .size = 2u << 20,
                                 .numa_node = -1,
                                 .flags = MAIO_POOL_NO_DAEMON | MAIO_POOL_REQUIRE_HUGETLB };
        long n_free = free_hugepages(), n_overcommit = hugepages_2mb("nr_overcommit_hugepages");
        if (n_free > 0 || n_overcommit > 0)
                testgroups_skip("the host has 2 MB hugetlb pages to give (%ld free, %ld overcommit), so a required "
                                "hugetlb backing cannot be refused",
                                n_free, n_overcommit);
        assert_int_equal(maio_pool_new(&cfg, &p), -ENOMEM);
        assert_null(p);
}

static void test_numa_bind(void **state) {
        maio_pool *p = NULL;
        maio_pool_config cfg = { .size = 2u << 20, .numa_node = 0, .flags = MAIO_POOL_NO_DAEMON };
        maio_pool_stats st;
        assert_int_equal(maio_pool_new(&cfg, &p), 0);
        maio_pool_stats_get(p, &st);
        assert_int_equal(st.numa_node, 0);
        assert_int_equal(st.numa_error, 0);
        maio_pool_free(p);

        cfg.numa_node = 4095; /* no such node: the pool works, the stats say the binding failed */
        assert_int_equal(maio_pool_new(&cfg, &p), 0);
        maio_pool_stats_get(p, &st);
        assert_int_equal(st.numa_node, -1);
        assert_int_equal(st.numa_error, -EINVAL);
        maio_pool_free(p);
}

static void test_states(void **state) {
        maio_pool *p = pool_make(2u << 20, 0);
        void *a, *b;
        assert_int_equal(maio_alloc(p, 0, &a), -EINVAL);
        assert_int_equal(maio_alloc(p, MAIO_CHUNK_SIZE + 1, &a), -EINVAL);
        assert_int_equal(maio_alloc(p, 100, &a), 0);
        assert_int_equal(maio_alloc(p, MAIO_CHUNK_SIZE, &b), 0);
        assert_int_equal((uintptr_t) a % MAIO_ALIGN, 0);
        memset(a, 0xab, 100);
        memset(b, 0xcd, MAIO_CHUNK_SIZE);
        assert_int_equal(maio_buf_get_state(p, a), MAIO_BUF_APP);
        assert_string_equal(maio_buf_state_to_string(maio_buf_get_state(p, a)), "app");

        /* Interior, foreign, NULL: not buffers. */
        assert_int_equal(maio_buf_get_state(p, (uint8_t *) a + 64), -EINVAL);
        assert_int_equal(maio_free(p, (uint8_t *) a + 64), -EINVAL);
        assert_int_equal(maio_free(p, (uint8_t *) a + 1), -EINVAL);
        int local;
        assert_int_equal(maio_free(p, &local), -EINVAL);
        assert_int_equal(maio_free(p, NULL), -EINVAL);
        void *heap = malloc(64);
        assert_int_equal(maio_free(p, heap), -EINVAL);
        free(heap);

        assert_int_equal(maio_free(p, a), 0);
        assert_int_equal(maio_buf_get_state(p, a), MAIO_BUF_FREE);
        assert_int_equal(maio_free(p, a), -EALREADY);
        assert_int_equal(maio_free(p, b), 0);
        assert_int_equal(maio_free(p, b), -EALREADY);

        maio_pool_stats st;
        maio_pool_stats_get(p, &st);
        assert_int_equal(st.allocs, 2);
        assert_int_equal(st.frees, 2);
        assert_int_equal(st.rejected_frees, 7);
        maio_pool_free(p);
}

/* Allocations never overlap: each is filled with its own byte and checked afterwards. */
static void test_no_overlap(void **state) {
        maio_pool *p = pool_make(4u << 20, 0);
        enum { N = 2000 };
        void **bufs = calloc(N, sizeof(void *));
        size_t *sizes = calloc(N, sizeof(size_t));
        uint64_t rng = 88172645463325252ull;
        int n = 0;
        for (; n < N; n++) {
                rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
                sizes[n] = 1 + rng % 4000;
                if (maio_alloc(p, sizes[n], &bufs[n]) < 0)
                        break;
                memset(bufs[n], n & 0xff, sizes[n]);
        }
        assert_true(n > 500);
        for (int i = 0; i < n; i++) {
                for (size_t j = 0; j < sizes[i]; j++)
                        if (((uint8_t *) bufs[i])[j] != (i & 0xff))
                                fail_msg("buffer %d overwritten at %zu", i, j);
                assert_int_equal(maio_free(p, bufs[i]), 0);
        }
        free(bufs);
        free(sizes);
        maio_pool_free(p);
}

static void test_exhaustion(void **state) {
        maio_pool *p = pool_make(2u << 20, 0);
        maio_pool_stats st;
        enum { N = (2u << 20) / MAIO_CHUNK_SIZE };
        void *bufs[N + 1];
        for (int i = 0; i < (int) N; i++)
                assert_int_equal(maio_alloc(p, MAIO_CHUNK_SIZE, &bufs[i]), 0);
        void *x;
        assert_int_equal(maio_alloc(p, 64, &x), -ENOBUFS);
        assert_int_equal(maio_alloc(p, MAIO_CHUNK_SIZE, &x), -ENOBUFS);
        maio_pool_stats_get(p, &st);
        assert_int_equal(st.chunks_free, 0);
        assert_int_equal(st.alloc_failures, 2);

        /* Recovery: one free makes room again; all frees give everything back. */
        assert_int_equal(maio_free(p, bufs[3]), 0);
        assert_int_equal(maio_alloc(p, MAIO_CHUNK_SIZE, &bufs[3]), 0);
        for (int i = 0; i < (int) N; i++)
                assert_int_equal(maio_free(p, bufs[i]), 0);
        maio_pool_stats_get(p, &st);
        /* The frag cursor may keep the last chunk it carved from. */
        assert_true(st.chunks_free >= st.chunks_total - 1);
        for (int i = 0; i < (int) N; i++)
                assert_int_equal(maio_alloc(p, MAIO_CHUNK_SIZE, &bufs[i]), 0);
        for (int i = 0; i < (int) N; i++)
                assert_int_equal(maio_free(p, bufs[i]), 0);
        maio_pool_free(p);
}

typedef struct thread_arg {
        maio_pool *p;
        void **out; /* buffers this thread allocated for another to free */
        void **in;  /* buffers another thread allocated for this one to free */
        int n;
        int errors;
} thread_arg;

static void *thread_churn(void *data) {
        thread_arg *a = data;
        uint64_t rng = (uintptr_t) a | 1;
        void *mine[64] = { 0 };
        for (int round = 0; round < 20000; round++) {
                rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
                int slot = (int) (rng % 64);
                if (mine[slot]) {
                        if (maio_free(a->p, mine[slot]) != 0)
                                a->errors++;
                        mine[slot] = NULL;
                } else if (maio_alloc(a->p, 1 + (rng >> 8) % 9000, &mine[slot]) != 0)
                        mine[slot] = NULL;
        }
        for (int i = 0; i < 64; i++)
                if (mine[i] && maio_free(a->p, mine[i]) != 0)
                        a->errors++;
        for (int i = 0; i < a->n; i++)
                if (maio_alloc(a->p, 512, &a->out[i]) != 0)
                        a->errors++;
        return NULL;
}

static void *thread_free_other(void *data) {
        thread_arg *a = data;
        for (int i = 0; i < a->n; i++)
                if (maio_free(a->p, a->in[i]) != 0)
                        a->errors++;
        return NULL;
}

static void test_threads(void **state) {
        maio_pool *p = pool_make(8u << 20, 0);
        enum { T = 4, N = 300 };
        pthread_t th[T];
        thread_arg args[T];
        void *bufs[T][N];
        for (int i = 0; i < T; i++) {
                args[i] = (thread_arg) { .p = p, .out = bufs[i], .in = bufs[(i + 1) % T], .n = N };
                assert_int_equal(pthread_create(&th[i], NULL, thread_churn, &args[i]), 0);
        }
        for (int i = 0; i < T; i++)
                assert_int_equal(pthread_join(th[i], NULL), 0);
        /* Cross-thread frees: every buffer goes back from a thread that did not allocate it. */
        for (int i = 0; i < T; i++)
                assert_int_equal(pthread_create(&th[i], NULL, thread_free_other, &args[i]), 0);
        for (int i = 0; i < T; i++) {
                assert_int_equal(pthread_join(th[i], NULL), 0);
                assert_int_equal(args[i].errors, 0);
        }
        maio_pool_stats st;
        maio_pool_stats_get(p, &st);
        assert_int_equal(st.allocs, st.frees);
        /* Every thread has exited, so no cache holds a cursor chunk: all memory is free. */
        assert_int_equal(st.chunks_free, st.chunks_total);
        maio_pool_free(p);
}

/* Any host runs these; test_backing_stated checks the backing this host can give, whichever. */
static const struct CMUnitTest tests_any_host[] = {
        cmocka_unit_test(test_backing_stated), cmocka_unit_test(test_numa_bind),  cmocka_unit_test(test_states),
        cmocka_unit_test(test_no_overlap),     cmocka_unit_test(test_exhaustion), cmocka_unit_test(test_threads),
};

static const struct CMUnitTest tests_no_hugetlb[] = {
        cmocka_unit_test(test_require_hugetlb),
};

static const TestGroup groups[] = {
        TEST_GROUP(NULL, NULL, tests_any_host),
        TEST_GROUP("no-hugetlb", "a host with no 2 MB hugetlb page to give (none free, no overcommit)",
                   tests_no_hugetlb),
};

int main(int argc, char **argv) {
        return testgroups_run(argc, argv, groups, sizeof(groups) / sizeof(groups[0]));
}
