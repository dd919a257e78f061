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
#include "pools.h"
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

/* ---- pure ---- */

/* A poller CPU handed out: to one tenant, until its grants are released or it is removed. */
typedef struct PollerHold {
        unsigned cpu;
        int64_t tenant_id;
} PollerHold;

struct Pools {
        Store *store;
        char *root;
        bool dry_run;
        Journal *journal;
        PoolsConf conf;
        uint64_t partial_allocations_total; /* the kernel kept fewer pages than the grants needed */

        unsigned *pollers; /* [pools] poller_cpus, ascending */
        size_t n_pollers;
        PollerHold *holds; /* in memory only: a restart forgets them (docs/maiod.conf.5) */
        size_t n_holds;
        uint64_t poller_refusals_total; /* pollers asked for when none was free */
};

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

static void poller_release(Pools *m, int64_t tenant_id, const char *why);

void pools_tenant_exited(void *userdata, int64_t tenant_id) {
        poller_release(userdata, tenant_id, "its process exited");
}

void pools_tenant_removed(void *userdata, int64_t tenant_id) {
        poller_release(userdata, tenant_id, "the tenant was removed");
        (void) pools_sync(userdata, "maio reserve (tenant removed)");
}

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

#define event(m, level, tenant_id, kind, ...)                                                    \
        do {                                                                                     \
                char _field_[32];                                                                \
                snprintf(_field_, sizeof _field_, "TENANT=%" PRId64, (int64_t) (tenant_id));     \
                store_event_log((m)->store, (level), _field_, (tenant_id), (kind), __VA_ARGS__); \
        } while (0)

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
static int node_size(Pools *m, unsigned node, const char *by, NodeSize *ret, char **ret_error) {
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
        ret->headroom = ret->granted > 0 ? m->conf.headroom_pages : 0;
        ret->target = pools_target_pages(ret->original, ret->granted, ret->headroom);
        if (ret->target == ret->original)
                return node_give_back(m, &k, has_row, ret, ret_error);
        return node_grow(m, &k, has_row ? &row : NULL, by, ret, ret_error);
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

/* ---- poller CPUs ---- */

#define CPU_ONLINE "sys/devices/system/cpu/online"

static bool poller_online(const unsigned *online, size_t n_online, unsigned cpu) {
        for (size_t i = 0; i < n_online; i++)
                if (online[i] == cpu)
                        return true;
        return false;
}

/* The host's online CPUs; -errno when cpu/online cannot be read. */
static int cpus_online(Pools *m, unsigned **ret, size_t *ret_n, char **ret_text) {
        _cleanup_free_ char *text = NULL;
        int r;

        r = detect_read_text_at(m->root, &text, CPU_ONLINE);
        if (r >= 0)
                r = detect_nodelist_parse(text, ret, ret_n);
        if (r >= 0 && ret_text)
                *ret_text = TAKE_PTR(text);
        return r;
}

int pools_check_pollers(Pools *m, char *error, size_t size) {
        _cleanup_free_ unsigned *online = NULL;
        _cleanup_free_ char *text = NULL;
        size_t n = 0;
        int r;

        if (m->n_pollers == 0)
                return 0;
        r = cpus_online(m, &online, &n, &text);
        if (r < 0) {
                snprintf(error, size, "[pools] poller_cpus: cannot read the online CPUs (%s): %s", CPU_ONLINE,
                         strerror(-r));
                return -EINVAL;
        }
        for (size_t i = 0; i < m->n_pollers; i++)
                if (!poller_online(online, n, m->pollers[i])) {
                        snprintf(error, size, "[pools] poller_cpus: CPU %u is not online (online: %s)", m->pollers[i],
                                 text);
                        return -EINVAL;
                }
        if (m->n_pollers >= n) {
                snprintf(error, size, "[pools] poller_cpus: all %zu online CPUs (%s) would be pollers; leave one", n,
                         text);
                return -EINVAL;
        }
        return 0;
}

static PollerHold *poller_held_by(Pools *m, int64_t tenant_id) {
        for (size_t i = 0; i < m->n_holds; i++)
                if (m->holds[i].tenant_id == tenant_id)
                        return &m->holds[i];
        return NULL;
}

static bool poller_cpu_held(Pools *m, unsigned cpu) {
        for (size_t i = 0; i < m->n_holds; i++)
                if (m->holds[i].cpu == cpu)
                        return true;
        return false;
}

/* The rule (docs/maiod.conf.5.scd, libmaio(3)): a tenant holds at most one poller CPU, and asking
 * again gives the same one; otherwise the lowest configured CPU that is online and held by no
 * tenant, first come first served. A held CPU is never taken back for a tenant of higher priority:
 * the kernel's poller thread cannot be moved (PF_NO_SETAFFINITY) and the tenant's ring would
 * keep polling there. Returns the CPU, or -1 with the reason; -ENOMEM. */
static int poller_assign(Pools *m, int64_t tenant_id, char *reason, size_t size) {
        _cleanup_free_ unsigned *online = NULL;
        size_t n_online = 0;
        PollerHold *h = poller_held_by(m, tenant_id);
        int r;

        if (h)
                return (int) h->cpu;
        if (m->n_pollers == 0) {
                snprintf(reason, size, "no poller CPUs are configured ([pools] poller_cpus)");
                return -1;
        }
        r = cpus_online(m, &online, &n_online, NULL);
        if (r == -ENOMEM)
                return r;
        for (size_t i = 0; i < m->n_pollers; i++) {
                unsigned cpu = m->pollers[i];

                if (poller_cpu_held(m, cpu) || (r >= 0 && !poller_online(online, n_online, cpu)))
                        continue;
                h = reallocarray(m->holds, m->n_holds + 1, sizeof(*m->holds));
                if (!h)
                        return -ENOMEM;
                m->holds = h;
                m->holds[m->n_holds++] = (PollerHold) { .cpu = cpu, .tenant_id = tenant_id };
                event(m, LOG_INFO, tenant_id, "maio-poller", "Tenant %" PRId64 " holds poller CPU %u", tenant_id, cpu);
                return (int) cpu;
        }
        m->poller_refusals_total++;
        size_t len = (size_t) snprintf(reason, size, "all %zu poller CPUs are held (", m->n_pollers);
        for (size_t i = 0; i < m->n_holds && len < size; i++)
                len += (size_t) snprintf(reason + len, size - len, "%sCPU %u: tenant %" PRId64, i ? ", " : "",
                                         m->holds[i].cpu, m->holds[i].tenant_id);
        if (len < size)
                snprintf(reason + len, size - len, ")");
        event(m, LOG_NOTICE, tenant_id, "maio-poller-none", "Tenant %" PRId64 " asked for a poller CPU: %s", tenant_id,
              reason);
        return -1;
}

static void poller_release(Pools *m, int64_t tenant_id, const char *why) {
        PollerHold *h = poller_held_by(m, tenant_id);

        if (!h)
                return;
        event(m, LOG_INFO, tenant_id, "maio-poller-release", "Tenant %" PRId64 " gave poller CPU %u back: %s",
              tenant_id, h->cpu, why);
        *h = m->holds[--m->n_holds];
}

json_object *pools_pollers_to_json(Pools *m) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object(), *held = json_object_new_array();
        char list[256] = "";
        size_t len = 0, free_n = 0;

        if (!o || !held)
                return NULL;
        for (size_t i = 0; i < m->n_pollers && len < sizeof list; i++) {
                len += (size_t) snprintf(list + len, sizeof list - len, "%s%u", i ? "," : "", m->pollers[i]);
                free_n += !poller_cpu_held(m, m->pollers[i]);
        }
        for (size_t i = 0; i < m->n_holds; i++) {
                json_object *h = json_object_new_object();

                if (!h || json_add_int(h, "cpu", m->holds[i].cpu, true) < 0 ||
                    json_add_int(h, "tenant_id", m->holds[i].tenant_id, true) < 0 || json_append(held, h) < 0)
                        return NULL;
        }
        if (json_add_string(o, "configured", list) < 0 || json_add(o, "held", TAKE_PTR(held)) < 0 ||
            json_add_int(o, "free", (int64_t) free_n, true) < 0)
                return NULL;
        return TAKE_PTR(o);
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
        PollerHold *h = poller_held_by(m, g->tenant_id);
        int cpu = h ? (int) h->cpu : -1;

        if (g->poller && !h)
                cpu = poller_assign(m, g->tenant_id, why, sizeof why);
        if (cpu == -ENOMEM)
                return cpu;
        if (json_add_int(o, "poller_cpu", cpu, cpu >= 0) < 0 ||
            (cpu < 0 && json_add_string(o, "poller_reason", why) < 0))
                return -ENOMEM;
        return reply_json(reply, 200, TAKE_PTR(o));
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
        /* The intent is committed first: a crash during the write leaves a grant the next start sizes for. */
        r = store_grant_put(m->store, &want);
        if (r == -ENOENT)
                return reply_error(reply, REPLY_NOT_FOUND, "No tenant %" PRId64, g->tenant_id);
        if (r < 0)
                return r;
        snprintf(by, sizeof by, "maio grant (tenant %" PRId64 ")", g->tenant_id);
        r = node_size(m, g->node, by, &ns, &error);
        if (r >= 0) {
                event(m, LOG_INFO, g->tenant_id, "maio-grant",
                      "Tenant %" PRId64 " holds %" PRIu64 " hugepages on node %u (node.%u.hugepages.2048kB = %" PRIu64
                      ")",
                      g->tenant_id, g->pages, g->node, g->node, ns.kept);
                return grant_reply(m, reply, g);
        }
        grant_roll_back(m, g, by);
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
                poller_release(m, id, "its grants were released");
                release_resize(m, id, gs, n);
                for (size_t i = 0; i < n; i++)
                        pages += gs[i].pages;
                if (n > 0)
                        event(m, LOG_INFO, id, "maio-release",
                              "Tenant %" PRId64 " released %" PRIu64 " hugepages on %zu node(s)", id, pages, n);
                r = release_reply(reply, id, gs, n);
        }
        store_grants_free(gs, n);
        return r;
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
                held += poller_cpu_held(m, m->pollers[i]);
        fprintf(f,
                "# HELP maiod_maio_poller_cpus [pools] poller_cpus by state: held by a tenant's libmaio poller, "
                "or free.\n# TYPE maiod_maio_poller_cpus gauge\n"
                "maiod_maio_poller_cpus{state=\"held\"} %zu\nmaiod_maio_poller_cpus{state=\"free\"} %zu\n"
                "# HELP maiod_maio_poller_refusals_total Grants that asked for a poller CPU when none was free.\n"
                "# TYPE maiod_maio_poller_refusals_total counter\nmaiod_maio_poller_refusals_total %" PRIu64 "\n",
                held, m->n_pollers - held, m->poller_refusals_total);
}
