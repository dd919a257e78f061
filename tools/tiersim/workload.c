/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Synthetic workloads. Counts are sampled accesses per page per epoch (as a
 * DAMON or PEBS sampler would see them); the simulator scales them to memory
 * accesses. Each generator is deterministic for its seed. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tier.h"
#include "workload.h"

/* Inverse-CDF sampler of ranks 0..n-1 with P(k) proportional to 1/(k+1)^s. */
typedef struct Zipf {
        double *cdf;
        size_t n;
} Zipf;

static int zipf_init(Zipf *z, size_t n, double s) {
        double sum = 0;

        z->cdf = malloc(n * sizeof(double));
        if (!z->cdf)
                return -ENOMEM;
        z->n = n;
        for (size_t k = 0; k < n; k++) {
                sum += pow((double) k + 1, -s);
                z->cdf[k] = sum;
        }
        for (size_t k = 0; k < n; k++)
                z->cdf[k] /= sum;
        return 0;
}

static void zipf_done(Zipf *z) {
        free(z->cdf);
}

static size_t zipf_draw(const Zipf *z, TierRng *rng) {
        double u = tier_rng_uniform(rng);
        size_t lo = 0, hi = z->n - 1;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (z->cdf[mid] < u)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

static void shuffle(uint32_t *v, size_t n, TierRng *rng) {
        for (size_t i = n; i > 1; i--) {
                size_t j = tier_rng_below(rng, i);
                uint32_t t = v[i - 1];

                v[i - 1] = v[j];
                v[j] = t;
        }
}

/* Samples drawn per epoch by the stationary generators: an eighth of the footprint. */
static size_t samples_per_epoch(const WorkloadParams *wp) {
        return wp->pages / 8;
}

/* bfs: repeated breadth-first traversals of a power-law graph. A quarter of the footprint is
 * vertex data whose pages are hit with Zipf(1) skew (hubs are neighbours of many frontier
 * vertices, every epoch); the rest is adjacency lists, each read once per traversal when its
 * vertex is in the frontier. The frontier grows and shrinks over 7 levels, so edge pages are hot
 * for one epoch and then cold until the next traversal. */
#define BFS_TRAVERSALS 4
#define BFS_VERTEX_DRAWS_PER_EDGE_PAGE 4
static const double bfs_levels[] = { 0.01, 0.04, 0.15, 0.35, 0.30, 0.12, 0.03 };

static int bfs_traversal(TraceBuilder *b, const WorkloadParams *wp, const Zipf *z, uint32_t *edges, size_t n_edges,
                         size_t first_epoch, size_t n_epochs, TierRng *rng) {
        size_t n_vertex = wp->pages - n_edges, done = 0, epoch = first_epoch;
        int r;

        shuffle(edges, n_edges, rng);
        for (size_t l = 0; l < ELEMENTSOF(bfs_levels); l++) {
                size_t pages = l + 1 == ELEMENTSOF(bfs_levels) ? n_edges - done : (size_t) (bfs_levels[l] * n_edges);
                size_t level_epochs = (size_t) fmax(1, round(bfs_levels[l] * n_epochs));

                for (size_t k = 0; k < level_epochs && epoch < first_epoch + n_epochs; k++, epoch++) {
                        size_t from = done + pages * k / level_epochs, to = done + pages * (k + 1) / level_epochs;

                        for (size_t i = from; i < to; i++) {
                                r = trace_builder_add(b, epoch, n_vertex + edges[i], 1 + tier_rng_below(rng, 3));
                                if (r < 0)
                                        return r;
                                for (unsigned d = 0; d < BFS_VERTEX_DRAWS_PER_EDGE_PAGE; d++) {
                                        r = trace_builder_add(b, epoch, zipf_draw(z, rng), 1);
                                        if (r < 0)
                                                return r;
                                }
                        }
                }
                done += pages;
        }
        return 0;
}

static int gen_bfs(TraceBuilder *b, const WorkloadParams *wp, TierRng *rng) {
        size_t n_vertex = wp->pages / 4, n_edges = wp->pages - n_vertex;
        size_t per = wp->epochs / BFS_TRAVERSALS;
        _cleanup_free_ uint32_t *edges = malloc(n_edges * sizeof(uint32_t));
        Zipf z;
        int r;

        if (!edges)
                return -ENOMEM;
        for (size_t i = 0; i < n_edges; i++)
                edges[i] = (uint32_t) i;
        r = zipf_init(&z, n_vertex, 1.0);
        if (r < 0)
                return r;
        for (unsigned t = 0; t < BFS_TRAVERSALS && r >= 0; t++) {
                size_t n = t + 1 == BFS_TRAVERSALS ? wp->epochs - per * t : per;

                r = bfs_traversal(b, wp, &z, edges, n_edges, per * t, n, rng);
        }
        zipf_done(&z);
        return r;
}

/* zipf: stationary Zipf(0.99) popularity over the whole footprint. */
static int gen_zipf(TraceBuilder *b, const WorkloadParams *wp, TierRng *rng) {
        _cleanup_free_ uint32_t *perm = malloc(wp->pages * sizeof(uint32_t));
        size_t s = samples_per_epoch(wp);
        Zipf z;
        int r = 0;

        if (!perm)
                return -ENOMEM;
        for (size_t i = 0; i < wp->pages; i++)
                perm[i] = (uint32_t) i;
        shuffle(perm, wp->pages, rng); /* popularity unrelated to address */
        r = zipf_init(&z, wp->pages, 0.99);
        if (r < 0)
                return r;
        for (size_t e = 0; e < wp->epochs && r >= 0; e++)
                for (size_t i = 0; i < s && r >= 0; i++)
                        r = trace_builder_add(b, e, perm[zipf_draw(&z, rng)], 1);
        zipf_done(&z);
        return r;
}

/* phases: 80% of the samples go uniformly to a hot set of 5% of the footprint that jumps to a
 * random place every 25 epochs; the rest are uniform over everything. */
#define PHASE_EPOCHS 25
static int gen_phases(TraceBuilder *b, const WorkloadParams *wp, TierRng *rng) {
        size_t s = samples_per_epoch(wp), hot = wp->pages / 20, start = 0;
        int r;

        for (size_t e = 0; e < wp->epochs; e++) {
                if (e % PHASE_EPOCHS == 0)
                        start = tier_rng_below(rng, wp->pages - hot + 1);
                for (size_t i = 0; i < s; i++) {
                        uint64_t page = tier_rng_uniform(rng) < 0.8 ? start + tier_rng_below(rng, hot)
                                                                    : tier_rng_below(rng, wp->pages);

                        r = trace_builder_add(b, e, page, 1);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* scan: sequential sweeps over the footprint, 1/25 of it per epoch, two samples per page; a
 * page comes back only after a full sweep, so no page is worth promoting below 100% local. */
static int gen_scan(TraceBuilder *b, const WorkloadParams *wp, TierRng *rng) {
        size_t chunk = wp->pages / 25, pos = 0;
        int r;

        for (size_t e = 0; e < wp->epochs; e++)
                for (size_t i = 0; i < chunk; i++) {
                        r = trace_builder_add(b, e, pos, 2);
                        if (r < 0)
                                return r;
                        pos = (pos + 1) % wp->pages;
                }
        return 0;
}

static const struct {
        const char *name;
        int (*generate)(TraceBuilder *b, const WorkloadParams *wp, TierRng *rng);
} workload_table[] = {
        { "bfs", gen_bfs },
        { "zipf", gen_zipf },
        { "phases", gen_phases },
        { "scan", gen_scan },
};

static const char *const workload_name_list[] = { "bfs", "zipf", "phases", "scan", NULL };

const char *const *workload_names(void) {
        return workload_name_list;
}

int workload_generate(const char *name, const WorkloadParams *wp, uint64_t seed, Trace **ret) {
        _cleanup_(trace_builder_freep) TraceBuilder *b = NULL;
        TierRng rng;
        int r;

        if (wp->pages < 64 || wp->pages > TRACE_MAX_PAGES || wp->epochs < 1 || wp->epochs > 100000)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(workload_table); i++) {
                if (strcmp(workload_table[i].name, name) != 0)
                        continue;
                tier_rng_seed(&rng, seed);
                r = trace_builder_new(&b);
                if (r < 0)
                        return r;
                r = workload_table[i].generate(b, wp, &rng);
                if (r < 0)
                        return r;
                return trace_builder_finish(TAKE_PTR(b), ret);
        }
        return -ENOENT;
}
