/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The hugepage reserve: tenants' grants of 2 MiB pages per NUMA node, kept in
 * the store, and node.N.hugepages.2048kB sized to them through the knob
 * journal (never below its original); partial allocations are reported, not
 * hidden. Also /v1/maio and the reserve's metrics. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal.h"
#include "knobs.h"
#include "log.h"
#include "metrics.h"
#include "pools-internal.h"
#include "pools.h"
#include "sched-event.h"
#include "topo.h"

#define NODES_DIR "sys/devices/system/node"
#define TEST_LIMIT_ENV "MAIOD_TEST_HUGEPAGES_LIMIT"

/* What sizing one node found and did. */
typedef struct NodeSize {
        unsigned node;
        uint64_t original; /* the journal record's original, else the live value */
        uint64_t granted;  /* sum of the node's grants */
        uint64_t headroom; /* headroom kept (0 while the node has no grant) */
        uint64_t target;
        uint64_t kept; /* what the knob holds afterwards (the target in a dry run) */
} NodeSize;

int pools_new(Store *store, const char *root, bool dry_run, Journal *journal, const PoolsConf *conf, Pools **ret) {
        Pools *p = calloc(1, sizeof *p);

        if (!p || !(p->root = strdup(root))) {
                free(p);
                return -ENOMEM;
        }
        p->store = store;
        p->dry_run = dry_run;
        p->journal = journal;
        pools_set_conf(p, conf);
        *ret = p;
        return 0;
}

Pools *pools_free(Pools *p) {
        if (!p)
                return NULL;
        free(p->root);
        free(p->pollers);
        free(p->holds);
        free(p->asks);
        free(p->shorts);
        free(p->counts);
        free(p->waiting);
        free(p);
        return NULL;
}

void pools_set_conf(Pools *p, const PoolsConf *conf) {
        unsigned *cpus = NULL;
        size_t n = 0;
        int r;

        p->conf = *conf;
        p->conf.poller_cpus = NULL;
        /* The configuration parser normalised the list; a held CPU stays held when it leaves it. */
        r = detect_nodelist_parse(conf->poller_cpus ?: "", &cpus, &n);
        if (r < 0 || n > POOLS_POLLERS_MAX) {
                log_error("[pools] poller_cpus=%s cannot be used (%s): no poller CPUs are handed out.",
                          conf->poller_cpus, r < 0 ? strerror(-r) : "too many CPUs");
                free(cpus);
                cpus = NULL;
                n = 0;
        }
        free(p->pollers);
        p->pollers = cpus;
        p->n_pollers = n;
}

static void ask_drop(Pools *m, int64_t tenant_id, int node);

void pools_set_scheduler(Pools *m, const EventSink *sink, const ResourceDecider *decider) {
        m->sink = sink ? *sink : (EventSink) {};
        m->decider = decider ? *decider : (ResourceDecider) {};
}

/* What may change the allocation of hugepages or poller CPUs: a grant request, a release, a count
 * change. */
void pools_emit(Pools *m, int64_t tenant_id, int priority, uint64_t source_usec) {
        event_sink_emit(&m->sink, SCHED_EVENT_HUGEPAGES, tenant_id, priority, source_usec);
}

void pools_tenant_exited(void *userdata, int64_t tenant_id) {
        pools_poller_release(userdata, tenant_id, "its process exited");
}

void pools_tenant_removed(void *userdata, int64_t tenant_id) {
        Pools *m = userdata;

        pools_poller_release(m, tenant_id, "the tenant was removed");
        ask_drop(m, tenant_id, -1);
        (void) pools_sync(m, "maio reserve (tenant removed)");
        pools_emit(m, tenant_id, SCHED_PRIORITY_HOST, 0);
}

/* ---- pure ---- */

uint64_t pools_bytes_to_pages(uint64_t bytes) {
        return bytes / POOLS_PAGE_SIZE + (bytes % POOLS_PAGE_SIZE != 0);
}

static uint64_t add_sat(uint64_t a, uint64_t b) {
        return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

uint64_t pools_target_pages(uint64_t original, uint64_t granted, uint64_t headroom) {
        uint64_t need;

        if (granted == 0)
                return original;
        need = add_sat(granted, headroom);
        return need > original ? need : original;
}

uint64_t pools_obtained_pages(uint64_t kept, uint64_t others, uint64_t headroom, uint64_t asked) {
        uint64_t before = add_sat(others, headroom);
        uint64_t left = kept > before ? kept - before : 0;

        return left < asked ? left : asked;
}

/* ---- helpers ---- */

/* Sets *ret_error (malloc'd; the old one freed) and returns r; %m is r's text. */
_printf_(3, 4) static int fail(char **ret_error, int r, const char *format, ...) {
        va_list ap;

        free(*ret_error);
        errno = abs(r);
        va_start(ap, format);
        if (vasprintf(ret_error, format, ap) < 0)
                *ret_error = NULL;
        va_end(ap);
        return r;
}

/* A strict unsigned decimal, as the kernel prints page counts. */
static int parse_pages(const char *s, uint64_t *ret) {
        unsigned long long v;
        char *end;

        if (!s || s[0] < '0' || s[0] > '9')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || *end != '\0')
                return -EINVAL;
        *ret = v;
        return 0;
}

static void node_knob_name(unsigned node, char *buf, size_t size) {
        snprintf(buf, size, "node.%u.hugepages.2048kB", node);
}

static int node_live(const Knob *k, uint64_t *ret) {
        _cleanup_free_ char *v = NULL;
        int r = knobs_read(k, &v);

        return r < 0 ? r : parse_pages(v, ret);
}

/* The node's original page count: the journal's once maiod changed the knob,
 * else the live value. *row receives the record; *ret_has_row says if there is one. */
static int node_original(Pools *m, const Knob *k, StoreKnob *row, bool *ret_has_row, uint64_t *ret) {
        int r = store_knob_get(m->store, k->name, row);

        *ret_has_row = r >= 0;
        if (r >= 0)
                return parse_pages(row->original, ret);
        if (r != -ENOENT)
                return r;
        return node_live(k, ret);
}

static int node_in_reserve(Pools *m, unsigned node) {
        _cleanup_free_ unsigned *nodes = NULL;
        size_t n = 0;
        int r = store_reserve_nodes(m->store, &nodes, &n);

        for (size_t i = 0; r >= 0 && i < n; i++)
                if (nodes[i] == node)
                        return 1;
        return r < 0 ? r : 0;
}


/* ---- what the scheduler needs to know: waiting grants, short nodes, counts, waiting pollers ---- */

static PoolsAsk *ask_find(Pools *m, int64_t tenant_id, unsigned node) {
        for (size_t i = 0; i < m->n_asks; i++)
                if (m->asks[i].tenant_id == tenant_id && m->asks[i].node == node)
                        return &m->asks[i];
        return NULL;
}

/* Replaces the tenant's waiting grant on the node, or adds one. -ENOMEM. */
static int ask_put(Pools *m, const PoolsAsk *a) {
        PoolsAsk *old = ask_find(m, a->tenant_id, a->node), *v;

        if (old) {
                *old = *a;
                return 0;
        }
        v = reallocarray(m->asks, m->n_asks + 1, sizeof *v);
        if (!v)
                return -ENOMEM;
        m->asks = v;
        m->asks[m->n_asks++] = *a;
        return 0;
}

static void ask_remove_at(Pools *m, size_t i) {
        memmove(&m->asks[i], &m->asks[i + 1], (m->n_asks - i - 1) * sizeof *m->asks);
        m->n_asks--;
}

/* Drops the tenant's waiting grant on node, all of them when node < 0. */
static void ask_drop(Pools *m, int64_t tenant_id, int node) {
        for (size_t i = 0; i < m->n_asks;)
                if (m->asks[i].tenant_id == tenant_id && (node < 0 || m->asks[i].node == (unsigned) node))
                        ask_remove_at(m, i);
                else
                        i++;
}

/* Pages the tenant holds on node (0 without a grant). */
static uint64_t granted_pages(Pools *m, int64_t tenant_id, unsigned node) {
        _cleanup_(store_grant_done) StoreGrant g = {};

        return store_grant_get(m->store, tenant_id, node, &g) >= 0 ? g.pages : 0;
}

/* Pages the waiting grants on node ask beyond what their tenants hold there (except's not counted). */
static uint64_t asks_extra(Pools *m, unsigned node, int64_t except) {
        uint64_t sum = 0;

        for (size_t i = 0; i < m->n_asks; i++) {
                const PoolsAsk *a = &m->asks[i];
                uint64_t held;

                if (a->node != node || a->tenant_id == except)
                        continue;
                held = granted_pages(m, a->tenant_id, node);
                if (a->pages > held)
                        sum = add_sat(sum, a->pages - held);
        }
        return sum;
}

static NodeShort *short_find(Pools *m, unsigned node) {
        for (size_t i = 0; i < m->n_shorts; i++)
                if (m->shorts[i].node == node)
                        return &m->shorts[i];
        return NULL;
}

static void short_set(Pools *m, unsigned node, uint64_t kept) {
        NodeShort *s = short_find(m, node), *v;

        if (s) {
                s->kept = kept;
                return;
        }
        v = reallocarray(m->shorts, m->n_shorts + 1, sizeof *v);
        if (!v)
                return; /* the node is taken for unlimited: the next write tells again */
        m->shorts = v;
        m->shorts[m->n_shorts++] = (NodeShort) { node, kept };
}

static void short_clear(Pools *m, unsigned node) {
        NodeShort *s = short_find(m, node);

        if (s)
                *s = m->shorts[--m->n_shorts];
}

/* What a sizing showed: fewer pages kept than asked is a shortage at that count; a probe (extra > 0)
 * that got everything ends one; a sizing that holds more than a shortage's count raises it. */
static void short_note(Pools *m, unsigned node, int r, uint64_t extra, const NodeSize *ns) {
        NodeShort *s = short_find(m, node);

        if (m->dry_run)
                return;
        if (r == -ENOSPC)
                short_set(m, node, ns->kept);
        else if (r >= 0 && extra > 0)
                short_clear(m, node);
        else if (r >= 0 && s && ns->kept > s->kept)
                s->kept = ns->kept;
}

/* nr_hugepages and free_hugepages of a node as read now. A change from the last read is an event of
 * the scheduler, unless quiet (maiod's own sizing, an event of its own); more pages than a shortage
 * left raise its count. */
static void count_note(Pools *m, unsigned node, unsigned long total, unsigned long free_pages, bool quiet) {
        NodeShort *s = short_find(m, node);
        NodeCount *c = NULL, *v;

        if (s && total > s->kept) {
                log_info("Node %u holds %lu hugepages now, more than the %" PRIu64 " it kept when short.", node, total,
                         s->kept);
                s->kept = total;
        }
        for (size_t i = 0; i < m->n_counts; i++)
                if (m->counts[i].node == node)
                        c = &m->counts[i];
        if (c) {
                if (c->total != total || c->free_pages != free_pages) {
                        *c = (NodeCount) { node, total, free_pages };
                        if (!quiet)
                                pools_emit(m, 0, SCHED_PRIORITY_HOST, 0);
                }
                return;
        }
        v = reallocarray(m->counts, m->n_counts + 1, sizeof *v);
        if (!v)
                return;
        m->counts = v;
        m->counts[m->n_counts++] = (NodeCount) { node, total, free_pages };
}

/* Reads a node's counts into count_note(); a node without nr_hugepages is skipped, one without
 * free_hugepages (a fixture) counts 0 free. */
static void count_read(Pools *m, unsigned node, bool quiet) {
        unsigned long total, free_pages = 0;

        if (detect_read_ulong_at(m->root, &total, NODES_DIR "/node%u/hugepages/hugepages-2048kB/nr_hugepages", node) <
            0)
                return;
        (void) detect_read_ulong_at(m->root, &free_pages, NODES_DIR "/node%u/hugepages/hugepages-2048kB/free_hugepages",
                                    node);
        count_note(m, node, total, free_pages, quiet);
}

/* ---- sizing a node ---- */

/* No grant needs more than the original: the knob goes back through the
 * journal, if the reserve is what changed it (an administrator's own
 * setting of a node without grants is not the reserve's to undo). */
static int node_give_back(Pools *m, const Knob *k, bool has_row, NodeSize *ns, char **ret_error) {
        int ours, r;

        ours = node_in_reserve(m, ns->node);
        if (ours < 0)
                return fail(ret_error, ours, "Failed to read the hugepage reserve's nodes: %m");
        if (ours && has_row) {
                r = journal_restore(m->journal, k->name, false, ret_error);
                if (r < 0)
                        return r;
        }
        /* Only after the restore: a crash before it still knows the node is ours. */
        if (ours && !m->dry_run) {
                r = store_reserve_node_remove(m->store, ns->node);
                if (r < 0 && r != -ENOENT)
                        return fail(ret_error, r, "Failed to update the hugepage reserve of node %u: %m", ns->node);
        }
        r = node_live(k, &ns->kept);
        return r < 0 ? fail(ret_error, r, "Failed to read %s: %m", k->path) : 0;
}

static int node_grow(Pools *m, const Knob *k, const StoreKnob *row, const char *by, NodeSize *ns, char **ret_error) {
        char value[32];
        int r, q;

        /* Durable before the write, so a crash after it still knows the node is ours to give back. */
        r = store_reserve_node_add(m->store, ns->node);
        if (r < 0)
                return fail(ret_error, r, "Failed to record the hugepage reserve of node %u: %m", ns->node);
        snprintf(value, sizeof value, "%" PRIu64, ns->target);
        /* Nothing to write when maiod already set this value and the kernel holds it. */
        if (row && row->written && row->desired && strcmp(row->desired, value) == 0 && node_live(k, &ns->kept) >= 0 &&
            ns->kept == ns->target)
                return 0;
        r = journal_set(m->journal, k->name, value, by, ret_error);
        if (r < 0 && r != -ENOSPC)
                return r;
        if (m->dry_run) {
                ns->kept = ns->target;
                return r;
        }
        q = node_live(k, &ns->kept);
        if (q < 0)
                return fail(ret_error, q, "Failed to read %s after writing it: %m", k->path);
        return r;
}

/* Sizes the node's knob to its grants now. *ret is filled as far as known,
 * also on failure (kept matters for -ENOSPC). Returns 0 or -errno with a
 * message in *ret_error (NULL only on -ENOMEM); -ENOSPC when the kernel kept
 * fewer pages than the target, as journal_set() says. */
static void short_note(Pools *m, unsigned node, int r, uint64_t extra, const NodeSize *ns);
static void count_read(Pools *m, unsigned node, bool quiet);

static int node_size_for(Pools *m, unsigned node, uint64_t extra, const char *by, NodeSize *ret, char **ret_error);

static int node_size(Pools *m, unsigned node, const char *by, NodeSize *ret, char **ret_error) {
        return node_size_for(m, node, 0, by, ret, ret_error);
}

/* Sizes the node for its grants plus extra pages (a probe for grants waiting), and keeps what the
 * kernel showed: a shortage (it kept fewer), or more pages than a shortage had left. */
static int node_size_for(Pools *m, unsigned node, uint64_t extra, const char *by, NodeSize *ret, char **ret_error) {
        _cleanup_(knob_done) Knob k = {};
        _cleanup_(store_knob_done) StoreKnob row = {};
        char name[64];
        bool has_row = false;
        int r;

        *ret = (NodeSize) { .node = node };
        node_knob_name(node, name, sizeof name);
        r = knobs_resolve(m->root, name, &k);
        if (r < 0)
                return fail(ret_error, r, "Cannot resolve knob %s: %m", name);
        r = store_grant_sum(m->store, node, &ret->granted);
        if (r >= 0)
                r = node_original(m, &k, &row, &has_row, &ret->original);
        if (r < 0)
                return fail(ret_error, r, "Failed to read the state of %s: %m", name);
        ret->granted = add_sat(ret->granted, extra);
        ret->headroom = ret->granted > 0 ? m->conf.headroom_pages : 0;
        ret->target = pools_target_pages(ret->original, ret->granted, ret->headroom);
        if (ret->target == ret->original)
                r = node_give_back(m, &k, has_row, ret, ret_error);
        else
                r = node_grow(m, &k, has_row ? &row : NULL, by, ret, ret_error);
        short_note(m, node, r, extra, ret);
        count_read(m, node, true); /* maiod's own change: no event of its own */
        return r;
}

int pools_sync(Pools *m, const char *by) {
        _cleanup_free_ unsigned *nodes = NULL;
        size_t n = 0;
        int r, first = 0;

        r = store_reserve_nodes(m->store, &nodes, &n);
        if (r < 0)
                return log_warning_errno(r, "Failed to list the hugepage reserve's nodes: %m");
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *error = NULL;
                NodeSize ns;

                r = node_size(m, nodes[i], by, &ns, &error);
                if (r == -ENOSPC)
                        m->partial_allocations_total++;
                if (r < 0) {
                        log_warning("Sizing the hugepage reserve of node %u failed: %s", nodes[i],
                                    error ?: "out of memory");
                        if (first == 0)
                                first = r;
                }
        }
        return first;
}

/* ---- test hook: a fixture file that keeps fewer pages than asked ---- */

static struct {
        unsigned node;
        uint64_t pages;
} test_limit;

/* Stands in for write(2) in knobs_write(): a write asking the limited node's
 * fixture file for more than the limit stores the limit instead and reports
 * success, as the kernel does when it cannot allocate every page. Padding with
 * newlines keeps the length the writer then truncates the file to. */
static ssize_t test_limit_write(int fd, const void *buf, size_t n) {
        char link[64], path[PATH_MAX], suffix[128], text[32], out[32];
        uint64_t want;
        ssize_t len;
        int k;

        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        len = readlink(link, path, sizeof path - 1);
        if (len < 0 || n >= sizeof text)
                return write(fd, buf, n);
        path[len] = '\0';
        snprintf(suffix, sizeof suffix, "/" NODES_DIR "/node%u/hugepages/hugepages-2048kB/nr_hugepages",
                 test_limit.node);
        memcpy(text, buf, n);
        text[n] = '\0';
        text[strcspn(text, "\n")] = '\0';
        if ((size_t) len < strlen(suffix) || strcmp(path + len - strlen(suffix), suffix) != 0 ||
            parse_pages(text, &want) < 0 || want <= test_limit.pages)
                return write(fd, buf, n);
        k = snprintf(out, sizeof out, "%" PRIu64 "\n", test_limit.pages);
        if (k < 0 || (size_t) k > n)
                return write(fd, buf, n);
        memset(out + k, '\n', n - (size_t) k);
        return write(fd, out, n);
}

static int test_hook_setup(Pools *m) {
        const char *s = secure_getenv(TEST_LIMIT_ENV);
        unsigned node;
        uint64_t pages;
        int end = 0;

        if (!s || !s[0])
                return 0;
        if (topo_root_is_live(m->root)) {
                log_warning("%s is a test hook for fixture roots; ignoring it on the live host.", TEST_LIMIT_ENV);
                return 0;
        }
        if (sscanf(s, "%u:%" SCNu64 "%n", &node, &pages, &end) != 2 || s[end] != '\0')
                return log_error_errno(EINVAL, "Invalid %s=%s, expected NODE:PAGES.", TEST_LIMIT_ENV, s);
        test_limit.node = node;
        test_limit.pages = pages;
        knobs_set_write_fn(test_limit_write);
        log_notice("Test hook: the fixture's hugepage file of node %u keeps at most %" PRIu64 " pages.", node, pages);
        return 0;
}

int pools_start(Pools *m) {
        char error[256];
        int r;

        r = test_hook_setup(m);
        if (r < 0)
                return r;
        r = pools_check_pollers(m, error, sizeof error);
        if (r < 0)
                return log_error_errno(r, "%s", error);
        if (m->n_pollers > 0)
                log_info("Poller CPUs for tenants' libmaio rings: %zu (held in memory: a restart frees them).",
                         m->n_pollers);
        r = store_grant_prune(m->store);
        if (r > 0)
                log_notice("Forgot %d hugepage grant(s) of tenants that no longer exist.", r);
        else if (r < 0)
                log_warning_errno(r, "Failed to look for hugepage grants of removed tenants, ignoring: %m");
        (void) pools_sync(m, "maio reserve (start)");
        return 0;
}

/* ---- JSON ---- */

/* Page counts are far below 2^63; int64 keeps them plain JSON integers. */
static int add_pages(json_object *o, const char *key, uint64_t v, bool known) {
        return json_add_int(o, key, v > INT64_MAX ? INT64_MAX : (int64_t) v, known);
}

static json_object *grant_to_json(const StoreGrant *g) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();

        if (!o || json_add_int(o, "tenant_id", g->tenant_id, true) < 0 ||
            json_add_string(o, "tenant", g->tenant_name) < 0 || json_add_int(o, "node", g->node, true) < 0 ||
            add_pages(o, "pages", g->pages, true) < 0 || add_pages(o, "bytes", g->pages * POOLS_PAGE_SIZE, true) < 0 ||
            json_add_full(o, "created", json_time_new(g->created_usec), true) < 0)
                return NULL;
        return TAKE_PTR(o);
}

/* What GET /v1/maio says about one node (schema MaioNode). */
typedef struct NodeView {
        unsigned node;
        char knob[64];
        uint64_t granted, original, total;
        unsigned long free_pages;
        bool have_original, have_total, have_free;
        char *state; /* the journal record's, NULL for untouched */
} NodeView;

static int node_view(Pools *m, unsigned node, NodeView *v) {
        _cleanup_(knob_done) Knob k = {};
        _cleanup_(store_knob_done) StoreKnob row = {};
        bool has_row = false;
        int r;

        *v = (NodeView) { .node = node };
        node_knob_name(node, v->knob, sizeof v->knob);
        r = store_grant_sum(m->store, node, &v->granted);
        if (r < 0)
                return r;
        r = knobs_resolve(m->root, v->knob, &k);
        if (r == -ENOMEM)
                return r;
        v->have_original = r >= 0 && node_original(m, &k, &row, &has_row, &v->original) >= 0;
        v->have_total = r >= 0 && node_live(&k, &v->total) >= 0;
        v->have_free = detect_read_ulong_at(m->root, &v->free_pages,
                                            NODES_DIR "/node%u/hugepages/hugepages-2048kB/free_hugepages", node) >= 0;
        if (v->have_total) /* GET /v1/maio reads the counts too: a change is noticed there */
                count_note(m, node, (unsigned long) v->total, v->have_free ? v->free_pages : 0, false);
        if (has_row && !(v->state = TAKE_PTR(row.state)))
                return -ENOMEM;
        return 0;
}

static int node_to_json(Pools *m, unsigned node, json_object **ret) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        uint64_t headroom = m->conf.headroom_pages;
        NodeView v;
        int r;

        r = node_view(m, node, &v);
        o = r >= 0 ? json_object_new_object() : NULL;
        if (r >= 0 &&
            (!o || json_add_int(o, "node", node, true) < 0 || json_add_string(o, "knob", v.knob) < 0 ||
             add_pages(o, "original_pages", v.original, v.have_original) < 0 ||
             add_pages(o, "granted_pages", v.granted, true) < 0 ||
             add_pages(o, "headroom_pages", v.granted > 0 ? headroom : 0, true) < 0 ||
             add_pages(o, "target_pages", pools_target_pages(v.original, v.granted, headroom), v.have_original) < 0 ||
             add_pages(o, "total_pages", v.total, v.have_total) < 0 ||
             add_pages(o, "free_pages", v.free_pages, v.have_free) < 0 ||
             json_add_string(o, "state", v.state ?: "untouched") < 0))
                r = -ENOMEM;
        free(v.state);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

/* ---- the API ---- */

static int nodes_to_json(Pools *m, json_object **ret) {
        _cleanup_(json_object_putp) json_object *arr = json_object_new_array();
        _cleanup_free_ unsigned long *ids = NULL;
        size_t n = 0;
        int r;

        if (!arr)
                return -ENOMEM;
        r = detect_list_numbered(m->root, NODES_DIR, "node", "", &ids, &n);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                json_object *o;

                r = node_to_json(m, (unsigned) ids[i], &o);
                if (r >= 0)
                        r = json_append(arr, o);
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(arr);
        return 0;
}

/* The grants of the tenants who may see: all for an admin, its uid's for a
 * peer, its own for a token. */
static int grants_to_json(Pools *m, const Identity *who, json_object **ret) {
        _cleanup_(json_object_putp) json_object *arr = json_object_new_array();
        StoreGrant *gs = NULL;
        size_t n = 0;
        int r;

        if (!arr)
                return -ENOMEM;
        if (who->kind == IDENTITY_TOKEN)
                r = store_grant_list(m->store, who->tenant_id, -1, &gs, &n);
        else
                r = store_grant_list(m->store, 0, who->admin ? -1 : (long long) who->uid, &gs, &n);
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = json_append(arr, grant_to_json(&gs[i]));
        store_grants_free(gs, n);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(arr);
        return 0;
}

int pools_op_list(void *userdata, const Request *req, Reply *reply) {
        Pools *m = userdata;
        _cleanup_(json_object_putp) json_object *o = json_object_new_object(), *nodes = NULL, *grants = NULL;
        int r;

        r = nodes_to_json(m, &nodes);
        if (r >= 0)
                r = grants_to_json(m, req->who, &grants);
        if (r < 0)
                return r;
        if (!o || add_pages(o, "page_size_bytes", POOLS_PAGE_SIZE, true) < 0 ||
            add_pages(o, "headroom_pages", m->conf.headroom_pages, true) < 0 ||
            add_pages(o, "max_grant_bytes", m->conf.max_grant_bytes, true) < 0 ||
            json_add(o, "nodes", TAKE_PTR(nodes)) < 0 || json_add(o, "grants", TAKE_PTR(grants)) < 0 ||
            json_add(o, "pollers", pools_pollers_to_json(m)) < 0)
                return -ENOMEM;
        return reply_json(reply, 200, TAKE_PTR(o));
}

/* The node must exist and have 2 MiB hugepages: 400 otherwise. */
static int grant_check_node(Pools *m, Reply *reply, unsigned node) {
        _cleanup_(knob_done) Knob k = {};
        uint64_t v;
        char name[64];
        int r;

        node_knob_name(node, name, sizeof name);
        r = knobs_resolve(m->root, name, &k);
        if (r == -ENODEV)
                return reply_error(reply, REPLY_INVALID_VALUE, "No NUMA node %u on this host", node);
        if (r < 0)
                return r;
        r = node_live(&k, &v);
        if (r == -ENOENT)
                return reply_error(reply, REPLY_INVALID_VALUE, "NUMA node %u has no 2048 kB hugepages (%s is absent)",
                                   node, k.path);
        return r < 0 ? r : 0;
}

/* What a grant request asked, and what the node held before it. */
typedef struct GrantAsk {
        int64_t tenant_id;
        bool poller; /* a poller CPU asked for too */
        unsigned node;
        uint64_t bytes;
        uint64_t pages;
        StoreGrant old; /* the grant it replaces; pages 0 when none */
} GrantAsk;

/* Puts the previous grant back (or none) and sizes the node for it again. */
static void grant_roll_back(Pools *m, const GrantAsk *g, const char *by) {
        _cleanup_free_ char *error = NULL;
        NodeSize ns;
        int r;

        if (g->old.pages > 0)
                r = store_grant_put(m->store, &g->old);
        else
                r = store_grant_remove(m->store, g->tenant_id, (int) g->node);
        if (r < 0)
                log_error_errno(r, "Failed to roll back the hugepage grant of tenant %" PRId64 " on node %u: %m",
                                g->tenant_id, g->node);
        r = node_size(m, g->node, by, &ns, &error);
        if (r == -ENOSPC)
                m->partial_allocations_total++;
        if (r < 0)
                log_warning("Resizing node %u after a failed grant failed too: %s", g->node, error ?: "out of memory");
}

static int grant_partial_reply(Pools *m, Reply *reply, const GrantAsk *g, const NodeSize *ns) {
        uint64_t others = ns->granted > g->pages ? ns->granted - g->pages : 0;
        uint64_t got = pools_obtained_pages(ns->kept, others, ns->headroom, g->pages);
        json_object *a;

        m->partial_allocations_total++;
        event(m, LOG_WARNING, g->tenant_id, "maio-partial",
              "Hugepage grant of tenant %" PRId64 " on node %u refused: the kernel allocated %" PRIu64
              " of the %" PRIu64 " pages node.%u.hugepages.2048kB needed, enough for %" PRIu64 " of the %" PRIu64
              " pages asked",
              g->tenant_id, g->node, ns->kept, ns->target, g->node, got, g->pages);
        reply_error(reply, REPLY_INSUFFICIENT_STORAGE,
                    "The kernel could allocate only %" PRIu64 " of the %" PRIu64 " hugepages asked on node %u (%" PRIu64
                    " of %" PRIu64 " bytes; the node holds %" PRIu64 " of the %" PRIu64
                    " pages its grants need); nothing was granted",
                    got, g->pages, g->node, got * POOLS_PAGE_SIZE, g->pages * POOLS_PAGE_SIZE, ns->kept, ns->target);
        /* The numbers beside the error object (the body is ours, so the transport keeps it); without
         * memory the message alone still says them. */
        reply->json = reply_error_to_json(reply);
        a = json_object_new_object();
        if (!a || json_add_int(a, "node", g->node, true) < 0 || add_pages(a, "requested_pages", g->pages, true) < 0 ||
            add_pages(a, "requested_bytes", g->pages * POOLS_PAGE_SIZE, true) < 0 ||
            add_pages(a, "obtained_pages", got, true) < 0 ||
            add_pages(a, "obtained_bytes", got * POOLS_PAGE_SIZE, true) < 0 ||
            add_pages(a, "node_target_pages", ns->target, true) < 0 ||
            add_pages(a, "node_kept_pages", ns->kept, true) < 0 || !reply->json ||
            json_add(reply->json, "allocation", TAKE_PTR(a)) < 0)
                json_object_put(a);
        return -ENOSPC;
}

static int grant_error_reply(Reply *reply, int r, const char *error) {
        if (!error)
                return reply_errno(reply, r, NULL);
        switch (r) {
        case -EINVAL:
                return reply_error(reply, REPLY_INVALID_VALUE, "%s", error);
        case -EBUSY:
        case -EACCES:
                /* Not the tenant's doing: the knob is busy or not maiod's to write here. */
                return reply_error(reply, REPLY_UNAVAILABLE, "The hugepage reserve cannot be sized now: %s", error);
        default:
                return reply_error(reply, REPLY_INTERNAL, "%s", error);
        }
}

static int grant_reply(Pools *m, Reply *reply, const GrantAsk *g) {
        _cleanup_(store_grant_done) StoreGrant now = {};
        _cleanup_(json_object_putp) json_object *o = NULL, *node = NULL;
        int r;

        r = store_grant_get(m->store, g->tenant_id, g->node, &now);
        if (r >= 0)
                r = node_to_json(m, g->node, &node);
        if (r < 0)
                return r;
        o = grant_to_json(&now);
        if (!o || add_pages(o, "requested_bytes", g->bytes, true) < 0 ||
            add_pages(o, "replaced_pages", g->old.pages, g->old.pages > 0) < 0 ||
            json_add(o, "reserve", TAKE_PTR(node)) < 0)
                return -ENOMEM;
        /* The poller CPU once the pages are granted: a refused grant holds none. One the tenant
         * holds is shown whether asked or not (it is still the tenant's). */
        char why[256] = "not asked for";
        PollerHold *h = pools_poller_held_by(m, g->tenant_id);
        int cpu = h ? (int) h->cpu : -1;

        if (g->poller && !h)
                cpu = pools_poller_assign(m, g->tenant_id, why, sizeof why);
        else if (!g->poller)
                pools_poller_wait_drop(m, g->tenant_id); /* asking without: no longer waiting for one */
        if (cpu == -ENOMEM)
                return cpu;
        if (json_add_int(o, "poller_cpu", cpu, cpu >= 0) < 0 ||
            (cpu < 0 && json_add_string(o, "poller_reason", why) < 0))
                return -ENOMEM;
        return reply_json(reply, 200, TAKE_PTR(o));
}

/* A tenant removed after the request was resolved goes the direct way, to its 404. */
static bool tenant_exists(Pools *m, int64_t tenant_id) {
        _cleanup_(tenant_done) Tenant t = {};

        return store_tenant_get(m->store, tenant_id, &t) != -ENOENT;
}

/* The grant waits, short (507): what the scheduler's allocation covered of it, in the numbers of
 * a partial allocation, with pending. */
static int grant_short_reply(Pools *m, Reply *reply, const GrantAsk *g, const PoolsAsk *a) {
        NodeShort *sh = short_find(m, g->node);
        uint64_t granted = 0, kept, headroom = m->conf.headroom_pages, target;
        NodeView v;
        json_object *o;
        int r;

        r = node_view(m, g->node, &v);
        if (r < 0)
                return r;
        free(v.state);
        granted = v.granted > g->old.pages ? v.granted - g->old.pages : 0;
        target = pools_target_pages(v.original, add_sat(granted, g->pages), headroom);
        kept = sh ? sh->kept : v.total;
        event(m, LOG_WARNING, g->tenant_id, "maio-partial",
              "Hugepage grant of tenant %" PRId64
              " on node %u waits: hugepages are short (the node holds at most %" PRIu64 " pages, %" PRIu64
              " granted), the scheduler's allocation covers %" PRIu64 " of the %" PRIu64 " pages asked",
              g->tenant_id, g->node, kept, v.granted, a->covered, g->pages);
        reply_error(reply, REPLY_INSUFFICIENT_STORAGE,
                    "Hugepages are short on node %u: the allocation covers only %" PRIu64 " of the %" PRIu64
                    " hugepages asked (%" PRIu64 " of %" PRIu64 " bytes; the node holds at most %" PRIu64
                    " pages, %" PRIu64 " of them granted); nothing was granted yet: the request waits and is granted "
                    "once the allocation covers it (tenants of higher priority first; DELETE withdraws it)",
                    g->node, a->covered, g->pages, a->covered * POOLS_PAGE_SIZE, g->pages * POOLS_PAGE_SIZE, kept,
                    v.granted);
        reply->json = reply_error_to_json(reply);
        o = json_object_new_object();
        if (!o || json_add_int(o, "node", g->node, true) < 0 || add_pages(o, "requested_pages", g->pages, true) < 0 ||
            add_pages(o, "requested_bytes", g->pages * POOLS_PAGE_SIZE, true) < 0 ||
            add_pages(o, "obtained_pages", a->covered, true) < 0 ||
            add_pages(o, "obtained_bytes", a->covered * POOLS_PAGE_SIZE, true) < 0 ||
            add_pages(o, "node_target_pages", target, true) < 0 || add_pages(o, "node_kept_pages", kept, true) < 0 ||
            json_add(o, "pending", json_object_new_boolean(true)) < 0 || !reply->json ||
            json_add(reply->json, "allocation", TAKE_PTR(o)) < 0)
                json_object_put(o);
        return -ENOSPC;
}

/* Hugepages are short on the node, or grants wait there: the grant waits for the scheduler's
 * allocation instead of taking pages first come. The kernel is asked first for what every waiting
 * grant needs (a probe: the pages it keeps are the node's capacity now; the node goes back to its
 * grants after), then the allocation of "hugepages" is decided at once: its apply grants what it
 * covers, this grant too if it is covered, else it stays waiting and the answer is 507. */
static int grant_decided(Pools *m, Reply *reply, GrantAsk *g) {
        _cleanup_free_ char *error = NULL, *error2 = NULL;
        PoolsAsk *a;
        NodeSize ns;
        int r;

        r = ask_put(m, &(PoolsAsk) { .tenant_id = g->tenant_id,
                                     .node = g->node,
                                     .pages = g->pages,
                                     .covered = g->old.pages,
                                     .poller = g->poller });
        if (r < 0)
                return r;
        (void) node_size_for(m, g->node, asks_extra(m, g->node, 0), "maio probe (grants waiting)", &ns, &error);
        if (node_size(m, g->node, "maio probe (back to the grants)", &ns, &error2) == -ENOSPC)
                m->partial_allocations_total++;
        for (unsigned i = 0; i < 3; i++) {
                m->redecide = false;
                if (m->decider.decide(m->decider.userdata, "hugepages") < 0 || !m->redecide)
                        break;
        }
        a = ask_find(m, g->tenant_id, g->node);
        if (!a)
                return grant_reply(m, reply, g); /* covered and granted by the apply */
        return grant_short_reply(m, reply, g, a);
}

/* Records the grant, then sizes the node; on failure rolls both back. */
static int grant_apply(Pools *m, Reply *reply, GrantAsk *g) {
        _cleanup_free_ char *error = NULL;
        StoreGrant want = { .tenant_id = g->tenant_id, .node = g->node, .pages = g->pages };
        char by[64];
        NodeSize ns;
        int r;

        r = store_grant_get(m->store, g->tenant_id, g->node, &g->old);
        if (r < 0 && r != -ENOENT)
                return r;
        if (m->decider.decide && g->pages > g->old.pages && tenant_exists(m, g->tenant_id) &&
            (short_find(m, g->node) || asks_extra(m, g->node, g->tenant_id) > 0))
                return grant_decided(m, reply, g);
        /* The intent is committed first: a crash during the write leaves a grant the next start sizes for. */
        r = store_grant_put(m->store, &want);
        if (r == -ENOENT)
                return reply_error(reply, REPLY_NOT_FOUND, "No tenant %" PRId64, g->tenant_id);
        if (r < 0)
                return r;
        snprintf(by, sizeof by, "maio grant (tenant %" PRId64 ")", g->tenant_id);
        r = node_size(m, g->node, by, &ns, &error);
        if (r >= 0) {
                ask_drop(m, g->tenant_id, (int) g->node); /* a waiting grant on the node is replaced */
                event(m, LOG_INFO, g->tenant_id, "maio-grant",
                      "Tenant %" PRId64 " holds %" PRIu64 " hugepages on node %u (node.%u.hugepages.2048kB = %" PRIu64
                      ")",
                      g->tenant_id, g->pages, g->node, g->node, ns.kept);
                return grant_reply(m, reply, g);
        }
        grant_roll_back(m, g, by);
        if (r == -ENOSPC && m->decider.decide) {
                m->partial_allocations_total++;
                return grant_decided(m, reply, g); /* short now: the scheduler decides */
        }
        if (r == -ENOSPC)
                return grant_partial_reply(m, reply, g, &ns);
        return grant_error_reply(reply, r, error);
}

enum { GRANT_BYTES, GRANT_NODE, GRANT_POLLER };
static const Field grant_fields[] = {
        /* 1..[pools] max_grant_bytes, checked by the handler: the decoder's message would name
         * another bound than the configured one. */
        [GRANT_BYTES] = { "bytes", FIELD_INT, true, INT64_MIN, INT64_MAX, .id = 1 },
        [GRANT_NODE] = { "node", FIELD_INT, true, 0, POOLS_NODE_MAX, .id = 2 },
        [GRANT_POLLER] = { "poller", FIELD_BOOL, false, .id = 3 },
};
const FieldSet pools_grant_body = { grant_fields, ELEMENTSOF(grant_fields) };

int pools_op_grant(void *userdata, const Request *req, Reply *reply) {
        Pools *m = userdata;
        GrantAsk g = { .tenant_id = req->tenant->id };
        int r;

        g.bytes = (uint64_t) request_param(req, GRANT_BYTES)->i;
        g.node = (unsigned) request_param(req, GRANT_NODE)->i;
        g.poller = request_param(req, GRANT_POLLER)->set && request_param(req, GRANT_POLLER)->b;
        if (request_param(req, GRANT_BYTES)->i < 1 || g.bytes > m->conf.max_grant_bytes)
                return reply_error(reply, REPLY_INVALID_VALUE, "Field 'bytes' must be in the range 1..%" PRIu64,
                                   m->conf.max_grant_bytes);
        r = grant_check_node(m, reply, g.node);
        if (r < 0)
                return r;
        g.pages = pools_bytes_to_pages(g.bytes);
        r = grant_apply(m, reply, &g);
        store_grant_done(&g.old);
        pools_emit(m, g.tenant_id, req->tenant->priority, req->received_usec);
        return r;
}

/* Shrinks the nodes of released grants. The release is committed already: a
 * node that does not shrink is logged, not the caller's failure. */
static void release_resize(Pools *m, int64_t tenant_id, const StoreGrant *gs, size_t n) {
        char by[64];

        snprintf(by, sizeof by, "maio release (tenant %" PRId64 ")", tenant_id);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *error = NULL;
                NodeSize ns;

                if (node_size(m, gs[i].node, by, &ns, &error) < 0)
                        log_warning("Shrinking the hugepage reserve of node %u failed: %s", gs[i].node,
                                    error ?: "out of memory");
        }
}

static int release_reply(Reply *reply, int64_t tenant_id, const StoreGrant *gs, size_t n) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object(), *arr = json_object_new_array();
        uint64_t pages = 0;

        for (size_t i = 0; i < n; i++) {
                pages += gs[i].pages;
                if (!arr || json_append(arr, grant_to_json(&gs[i])) < 0)
                        return -ENOMEM;
        }
        if (!o || json_add_int(o, "tenant_id", tenant_id, true) < 0 || json_add(o, "released", TAKE_PTR(arr)) < 0 ||
            add_pages(o, "pages", pages, true) < 0 || add_pages(o, "bytes", pages * POOLS_PAGE_SIZE, true) < 0)
                return -ENOMEM;
        return reply_json(reply, 200, TAKE_PTR(o));
}

int pools_op_release(void *userdata, const Request *req, Reply *reply) {
        Pools *m = userdata;
        int64_t id = req->tenant->id;
        StoreGrant *gs = NULL;
        uint64_t pages = 0;
        size_t n = 0;
        int r;

        r = store_grant_list(m->store, id, -1, &gs, &n);
        if (r >= 0)
                r = store_grant_remove(m->store, id, -1);
        if (r >= 0) {
                ask_drop(m, id, -1);
                pools_poller_release(m, id, "its grants were released");
                release_resize(m, id, gs, n);
                for (size_t i = 0; i < n; i++)
                        pages += gs[i].pages;
                if (n > 0)
                        event(m, LOG_INFO, id, "maio-release",
                              "Tenant %" PRId64 " released %" PRIu64 " hugepages on %zu node(s)", id, pages, n);
                r = release_reply(reply, id, gs, n);
                pools_emit(m, id, req->tenant->priority, req->received_usec);
        }
        store_grants_free(gs, n);
        return r;
}

/* ---- the scheduler's resources ---- */

/* The demand row of tenant_id in s (added when absent, with its priority and owner; NULL when the
 * tenant is gone or without memory: *ret_r says which). */
ResourceDemand *pools_demand_row(Pools *m, ResourceSnapshot *s, size_t *cap, int64_t tenant_id, int *ret_r) {
        _cleanup_(tenant_done) Tenant t = {};
        ResourceDemand *v;
        int r;

        *ret_r = 0;
        for (size_t i = 0; i < s->n; i++)
                if (s->tenants[i].tenant_id == tenant_id)
                        return &s->tenants[i];
        r = store_tenant_get(m->store, tenant_id, &t);
        if (r < 0) {
                *ret_r = r == -ENOENT ? 0 : r;
                return NULL;
        }
        if (s->n == *cap) {
                v = reallocarray(s->tenants, *cap * 2 + 4, sizeof *v);
                if (!v) {
                        *ret_r = -ENOMEM;
                        return NULL;
                }
                s->tenants = v;
                *cap = *cap * 2 + 4;
        }
        v = &s->tenants[s->n++];
        *v = (ResourceDemand) {
                .tenant_id = tenant_id,
                .owner = t.uid,
                .priority = t.priority < 0   ? 0
                            : t.priority > 7 ? 7
                                             : (unsigned) t.priority,
        };
        return v;
}

typedef struct NodeUse {
        unsigned node;
        uint64_t demand; /* grants, with each waiting grant's size in place of its tenant's grant */
} NodeUse;

static int node_use_add(NodeUse **nodes, size_t *n, unsigned node, uint64_t pages) {
        NodeUse *v;

        for (size_t i = 0; i < *n; i++)
                if ((*nodes)[i].node == node) {
                        (*nodes)[i].demand = add_sat((*nodes)[i].demand, pages);
                        return 0;
                }
        v = reallocarray(*nodes, *n + 1, sizeof *v);
        if (!v)
                return -ENOMEM;
        *nodes = v;
        v[(*n)++] = (NodeUse) { node, pages };
        return 0;
}

int pools_hugepages_snapshot(void *userdata, ResourceSnapshot *ret) {
        Pools *m = userdata;
        _cleanup_(resource_snapshot_done) ResourceSnapshot s = {};
        _cleanup_free_ NodeUse *nodes = NULL;
        StoreGrant *gs = NULL;
        size_t n = 0, n_nodes = 0, cap = 0;
        int r;

        r = store_grant_list(m->store, 0, -1, &gs, &n);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                ResourceDemand *d = pools_demand_row(m, &s, &cap, gs[i].tenant_id, &r);

                if (d) {
                        d->floor = add_sat(d->floor, gs[i].pages);
                        d->demand = add_sat(d->demand, gs[i].pages);
                }
                if (r >= 0)
                        r = node_use_add(&nodes, &n_nodes, gs[i].node, gs[i].pages);
        }
        store_grants_free(gs, n);
        for (size_t i = 0; r >= 0 && i < m->n_asks; i++) {
                const PoolsAsk *a = &m->asks[i];
                uint64_t held = granted_pages(m, a->tenant_id, a->node), extra = a->pages > held ? a->pages - held : 0;
                ResourceDemand *d = pools_demand_row(m, &s, &cap, a->tenant_id, &r);

                if (d)
                        d->demand = add_sat(d->demand, extra);
                if (r >= 0)
                        r = node_use_add(&nodes, &n_nodes, a->node, extra);
        }
        if (r < 0)
                return r;
        /* A node not known short can give what is asked of it; a short one what its kernel kept
         * beyond the headroom (raised by the counts read here when the node holds more now). */
        for (size_t i = 0; i < n_nodes; i++) {
                NodeShort *sh;

                count_read(m, nodes[i].node, true); /* quiet: this evaluation is what an event would ask */
                sh = short_find(m, nodes[i].node);
                if (!sh)
                        s.capacity = add_sat(s.capacity, nodes[i].demand);
                else if (sh->kept > m->conf.headroom_pages)
                        s.capacity = add_sat(s.capacity, sh->kept - m->conf.headroom_pages);
        }
        if (!s.tenants && !(s.tenants = calloc(1, sizeof *s.tenants)))
                return -ENOMEM;
        *ret = s;
        s = (ResourceSnapshot) {};
        return 0;
}

/* Grants the tenant's waiting grants that extra pages (its allocation beyond its grants) cover,
 * oldest first; records what each was covered. Returns the grants made, -ENOMEM. */
static int asks_serve(Pools *m, int64_t tenant_id, uint64_t extra) {
        int made = 0;

        for (size_t i = 0; i < m->n_asks;) {
                PoolsAsk *a = &m->asks[i];
                _cleanup_free_ char *error = NULL;
                StoreGrant old = {};
                char by[64];
                NodeSize ns;
                uint64_t need;
                int r;

                if (a->tenant_id != tenant_id) {
                        i++;
                        continue;
                }
                r = store_grant_get(m->store, tenant_id, a->node, &old);
                if (r < 0 && r != -ENOENT)
                        return r;
                need = a->pages > old.pages ? a->pages - old.pages : 0;
                a->covered = old.pages + (need < extra ? need : extra);
                if (need > extra) {
                        store_grant_done(&old);
                        i++;
                        continue;
                }
                snprintf(by, sizeof by, "maio allocation (tenant %" PRId64 ")", tenant_id);
                r = store_grant_put(m->store,
                                    &(StoreGrant) { .tenant_id = tenant_id, .node = a->node, .pages = a->pages });
                if (r >= 0)
                        r = node_size(m, a->node, by, &ns, &error);
                if (r >= 0) {
                        PoolsAsk done = *a;

                        extra -= need;
                        made++;
                        ask_remove_at(m, i);
                        event(m, LOG_INFO, tenant_id, "maio-grant",
                              "Tenant %" PRId64 " holds %" PRIu64
                              " hugepages on node %u (node.%u.hugepages.2048kB = %" PRIu64
                              "), granted by the scheduler's allocation",
                              tenant_id, done.pages, done.node, done.node, ns.kept);
                        if (done.poller && !pools_poller_held_by(m, tenant_id) &&
                            pools_poller_wait_add(m, tenant_id) >= 0)
                                pools_emit(m, tenant_id, SCHED_PRIORITY_HOST, 0);
                        store_grant_done(&old);
                        continue;
                }
                /* Put back; a kernel that kept fewer pages than the allocation assumed: decide again. */
                GrantAsk g = { .tenant_id = tenant_id, .node = a->node, .pages = a->pages, .old = old };
                grant_roll_back(m, &g, by);
                store_grant_done(&old);
                if (r == -ENOSPC) {
                        m->partial_allocations_total++;
                        m->redecide = true;
                        pools_emit(m, 0, SCHED_PRIORITY_HOST, 0);
                } else
                        log_warning("Granting the waiting hugepage grant of tenant %" PRId64 " on node %u failed: %s",
                                    tenant_id, g.node, error ?: strerror(-r));
                i++;
        }
        return made;
}

int pools_hugepages_apply(void *userdata, const ResourceDemand *tenants, const uint64_t *alloc, size_t n) {
        Pools *m = userdata;
        int writes = 0;

        /* Tenants of higher priority first: if the kernel keeps fewer pages than the allocation
         * assumed, they are the ones served. */
        for (unsigned p = 0; p < 8; p++)
                for (size_t i = 0; i < n; i++) {
                        uint64_t extra = alloc[i] > tenants[i].floor ? alloc[i] - tenants[i].floor : 0;
                        int r;

                        if (tenants[i].priority != p)
                                continue;
                        r = asks_serve(m, tenants[i].tenant_id, extra);
                        if (r < 0)
                                return r;
                        writes += r;
                }
        return writes;
}

/* ---- metrics ---- */

void pools_counters(const Pools *p, PoolsCounters *ret) {
        *ret = (PoolsCounters) { .partial_allocations_total = p->partial_allocations_total };
}

void pools_metrics_write(void *userdata, FILE *f) {
        Pools *m = userdata;
        _cleanup_free_ unsigned long *ids = NULL;
        size_t n = 0;

        fputs("# HELP maiod_maio_grant_pages 2 MiB hugepages granted to tenants, per NUMA node.\n"
              "# TYPE maiod_maio_grant_pages gauge\n",
              f);
        if (detect_list_numbered(m->root, NODES_DIR, "node", "", &ids, &n) >= 0)
                for (size_t i = 0; i < n; i++) {
                        uint64_t pages = 0;

                        if (store_grant_sum(m->store, (unsigned) ids[i], &pages) >= 0)
                                fprintf(f, "maiod_maio_grant_pages{node=\"%lu\"} %" PRIu64 "\n", ids[i], pages);
                }
        fprintf(f,
                "# HELP maiod_maio_partial_allocations_total Times the kernel allocated fewer hugepages than a "
                "node's grants needed.\n# TYPE maiod_maio_partial_allocations_total counter\n"
                "maiod_maio_partial_allocations_total %" PRIu64 "\n",
                m->partial_allocations_total);
        size_t held = 0;
        for (size_t i = 0; i < m->n_pollers; i++)
                held += pools_poller_cpu_held(m, m->pollers[i]);
        fprintf(f,
                "# HELP maiod_maio_poller_cpus [pools] poller_cpus by state: held by a tenant's libmaio poller, "
                "or free.\n# TYPE maiod_maio_poller_cpus gauge\n"
                "maiod_maio_poller_cpus{state=\"held\"} %zu\nmaiod_maio_poller_cpus{state=\"free\"} %zu\n"
                "# HELP maiod_maio_poller_refusals_total Grants that asked for a poller CPU when none was free.\n"
                "# TYPE maiod_maio_poller_refusals_total counter\nmaiod_maio_poller_refusals_total %" PRIu64 "\n",
                held, m->n_pollers - held, m->poller_refusals_total);
        fprintf(f,
                "# HELP maiod_maio_waiting_grants Hugepage grants refused while short that wait for the scheduler's "
                "allocation.\n# TYPE maiod_maio_waiting_grants gauge\nmaiod_maio_waiting_grants %zu\n"
                "# HELP maiod_maio_poller_waiting Tenants waiting for a poller CPU.\n"
                "# TYPE maiod_maio_poller_waiting gauge\nmaiod_maio_poller_waiting %zu\n",
                m->n_asks, m->n_waiting);
}
