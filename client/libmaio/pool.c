/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The buffer pool's memory: 2 MB hugetlb pages on a chosen NUMA node, or transparent huge pages
 * when no hugetlb pages are free (never silently: the stats name the backing and the reason),
 * after asking maiod for a hugepage grant when a tenant id is known. */

#include <errno.h>
#include <fcntl.h>
#include <numa.h>
#include <numaif.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "maio-internal.h"

#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB (21 << 26)
#endif

#define MAIO_POOL_DEFAULT_SIZE (64u * 1024u * 1024u)
#define MAIO_DEFAULT_SOCKET "/run/maiod/maiod.sock"
#define MAIO_GRANT_TIMEOUT_MS 2000

/* Reads the active choice of /sys/kernel/mm/transparent_hugepage/enabled ("[madvise]" -> madvise). */
static void pool_thp_mode(char *buf, size_t n) {
        char line[128] = "";
        snprintf(buf, n, "unknown");
        int fd = open("/sys/kernel/mm/transparent_hugepage/enabled", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return;
        ssize_t k = read(fd, line, sizeof(line) - 1);
        close(fd);
        if (k <= 0)
                return;
        line[k] = 0;
        char *a = strchr(line, '['), *b = a ? strchr(a, ']') : NULL;
        if (a && b)
                snprintf(buf, n, "%.*s", (int) (b - a - 1), a + 1);
}

static int pool_map_hugetlb(maio_pool *p) {
        void *a = mmap(NULL, p->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB,
                       -1, 0);
        if (a == MAP_FAILED)
                return -errno;
        p->map_addr = a;
        p->map_size = p->size;
        p->base = a;
        p->backing = MAIO_BACKING_HUGETLB;
        return 0;
}

/* Over-maps by 2 MB to place the pool on a 2 MB boundary, so every huge page THP can use is a
 * whole one, then asks for huge pages with MADV_HUGEPAGE. */
static int pool_map_thp(maio_pool *p, int hugetlb_error) {
        size_t len = p->size + MAIO_HUGE_PAGE_SIZE;
        uint8_t *a = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (a == MAP_FAILED)
                return -errno;
        uintptr_t aligned = ((uintptr_t) a + MAIO_HUGE_PAGE_SIZE - 1) & ~(uintptr_t) (MAIO_HUGE_PAGE_SIZE - 1);
        size_t head = aligned - (uintptr_t) a, tail = len - head - p->size;
        if (head > 0)
                munmap(a, head);
        if (tail > 0)
                munmap((uint8_t *) aligned + p->size, tail);
        p->map_addr = (void *) aligned;
        p->map_size = p->size;
        p->base = (uint8_t *) aligned;

        char mode[32];
        pool_thp_mode(mode, sizeof(mode));
        const char *why = hugetlb_error == 0         ? "hugetlb not requested (MAIO_POOL_NO_HUGETLB)"
                          : hugetlb_error == -ENOMEM ? "no free 2 MB hugetlb pages"
                                                     : "hugetlb mapping failed";
        if (madvise(p->base, p->size, MADV_HUGEPAGE) < 0 || strcmp(mode, "never") == 0) {
                p->backing = MAIO_BACKING_SMALL_PAGES;
                snprintf(p->backing_reason, sizeof(p->backing_reason),
                         "%s (%s); transparent huge pages unavailable (enabled=%s): 4 KiB pages", why,
                         strerror(-hugetlb_error), mode);
        } else {
                p->backing = MAIO_BACKING_THP;
                snprintf(p->backing_reason, sizeof(p->backing_reason),
                         "%s (%s); fell back to transparent huge pages (enabled=%s)", why,
                         hugetlb_error ? strerror(-hugetlb_error) : "skipped", mode);
        }
        return 0;
}

/* Binds the pool to one node before any page is touched. Failure is recorded, not fatal: the
 * pool still works, only without the locality. */
static void pool_bind(maio_pool *p, int node) {
        p->numa_node = -1;
        if (node < 0)
                return;
        if (numa_available() < 0 || node > numa_max_node()) {
                p->numa_error = -EINVAL;
                return;
        }
        unsigned long mask[16] = { 0 };
        if ((size_t) node >= sizeof(mask) * 8) {
                p->numa_error = -EINVAL;
                return;
        }
        mask[node / (8 * sizeof(unsigned long))] |= 1ul << (node % (8 * sizeof(unsigned long)));
        if (mbind(p->base, p->size, MPOL_BIND, mask, sizeof(mask) * 8, 0) < 0) {
                p->numa_error = -errno;
                return;
        }
        p->numa_node = node;
}

/* Asks the daemon, when there is one and we know who we are. */
static void pool_ask_daemon(maio_pool *p, const maio_pool_config *cfg) {
        const char *tenant = cfg->tenant ? cfg->tenant : getenv("MAIO_TENANT");
        const char *sock = cfg->daemon_socket ? cfg->daemon_socket : getenv("MAIOD_SOCKET");
        const char *mode = getenv("MAIO_RING_MODE");
        maio_grant g;

        p->grant = MAIO_GRANT_NOT_ASKED;
        if ((cfg->flags & MAIO_POOL_NO_DAEMON) || !tenant || !tenant[0]) {
                snprintf(p->poller_reason, sizeof(p->poller_reason), "no grant was asked (no tenant or NO_DAEMON)");
                return;
        }
        if (!sock || !sock[0])
                sock = MAIO_DEFAULT_SOCKET;
        /* A poller CPU is a shared resource: not asked for when no ring of ours would use it. */
        bool poller = !(cfg->flags & MAIO_POOL_NO_POLLER) && !(mode && strcmp(mode, "batch") == 0);
        int r = grant_ask(sock, tenant, cfg->numa_node, p->size, poller, MAIO_GRANT_TIMEOUT_MS, &g, &p->poller_cpu,
                          p->poller_reason, sizeof(p->poller_reason));
        if (!poller)
                snprintf(p->poller_reason, sizeof(p->poller_reason), "no poller CPU was asked (%s)",
                         (cfg->flags & MAIO_POOL_NO_POLLER) ? "MAIO_POOL_NO_POLLER" : "MAIO_RING_MODE=batch");
        else if (r <= 0)
                snprintf(p->poller_reason, sizeof(p->poller_reason), "the pool has no grant from maiod");
        else if (p->poller_cpu < 0 && !p->poller_reason[0])
                snprintf(p->poller_reason, sizeof(p->poller_reason), "maiod granted no poller CPU");
        if (r > 0)
                p->grant = MAIO_GRANT_GRANTED;
        else if (r == 0)
                p->grant = MAIO_GRANT_STANDALONE;
        else {
                p->grant = MAIO_GRANT_FAILED;
                p->grant_error = r;
        }
}

static void pool_unmap(maio_pool *p) {
        if (p->map_addr)
                munmap(p->map_addr, p->map_size);
        p->map_addr = NULL;
}

maio_pool *maio_pool_free(maio_pool *pool) {
        if (!pool)
                return NULL;
        alloc_done(pool);
        pool_unmap(pool);
        pthread_mutex_destroy(&pool->lock);
        free(pool);
        return NULL;
}

static void maio_pool_freep(maio_pool **p) {
        maio_pool_free(*p);
}

int maio_pool_new(const maio_pool_config *cfg, maio_pool **ret) {
        static const maio_pool_config defaults = { .numa_node = -1 };
        _cleanup_(maio_pool_freep) maio_pool *p = NULL;
        int r, hugetlb_error = 0;

        if (!ret)
                return -EINVAL;
        if (!cfg)
                cfg = &defaults;
        size_t size = cfg->size ? cfg->size : MAIO_POOL_DEFAULT_SIZE;
        if (size > (size_t) UINT32_MAX * MAIO_CHUNK_SIZE / 2)
                return -EINVAL;
        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        pthread_mutex_init(&p->lock, NULL);
        p->size = (size + MAIO_HUGE_PAGE_SIZE - 1) & ~(size_t) (MAIO_HUGE_PAGE_SIZE - 1);
        p->nchunks = (uint32_t) (p->size / MAIO_CHUNK_SIZE);
        p->numa_node = -1;
        p->poller_cpu = -1;

        pool_ask_daemon(p, cfg);
        if (!(cfg->flags & MAIO_POOL_NO_HUGETLB)) {
                hugetlb_error = pool_map_hugetlb(p);
                if (hugetlb_error < 0 && (cfg->flags & MAIO_POOL_REQUIRE_HUGETLB))
                        return hugetlb_error == -ENOMEM ? -ENOMEM : hugetlb_error;
        }
        if (!p->map_addr) {
                r = pool_map_thp(p, hugetlb_error);
                if (r < 0)
                        return r;
        }
        pool_bind(p, cfg->numa_node);
        r = alloc_init(p);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}

void maio_pool_stats_get(maio_pool *pool, maio_pool_stats *ret) {
        *ret = (maio_pool_stats) {
                .backing = pool->backing,
                .backing_reason = pool->backing == MAIO_BACKING_HUGETLB ? NULL : pool->backing_reason,
                .grant = pool->grant,
                .grant_error = pool->grant_error,
                .numa_node = pool->numa_node,
                .numa_error = pool->numa_error,
                .size = pool->size,
                .chunks_total = pool->nchunks,
                .chunks_free = atomic_load(&pool->chunks_free),
                .allocs = atomic_load(&pool->allocs),
                .frees = atomic_load(&pool->frees),
                .alloc_failures = atomic_load(&pool->alloc_failures),
                .rejected_frees = atomic_load(&pool->rejected_frees),
        };
}

int maio_pool_poller_cpu(maio_pool *pool) {
        return pool ? pool->poller_cpu : -1;
}

void *maio_pool_base(maio_pool *pool, size_t *ret_size) {
        if (ret_size)
                *ret_size = pool->size;
        return pool->base;
}

const char *maio_backing_to_string(maio_backing b) {
        switch (b) {
        case MAIO_BACKING_HUGETLB:
                return "hugetlb";
        case MAIO_BACKING_THP:
                return "thp";
        case MAIO_BACKING_SMALL_PAGES:
                return "small-pages";
        }
        return "unknown";
}

const char *maio_grant_state_to_string(maio_grant_state g) {
        switch (g) {
        case MAIO_GRANT_NOT_ASKED:
                return "not-asked";
        case MAIO_GRANT_STANDALONE:
                return "standalone";
        case MAIO_GRANT_GRANTED:
                return "granted";
        case MAIO_GRANT_FAILED:
                return "failed";
        }
        return "unknown";
}
