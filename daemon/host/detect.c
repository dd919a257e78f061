/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Feature detection: io_uring and BPF by real probes, everything else (DAMON,
 * NUMA, memory tiers, hugepages, NUMA balancing) read below a root directory. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <liburing.h>

#include "cleanup.h"
#include "detect.h"
#include "jsonutil.h"
#include "log.h"

/* sysfs and procfs attributes are at most one page; anything longer is not what we expect. */
#define READ_MAX 4096
/* Above any NR_CPUS/MAX_NUMNODES a kernel is built with; bounds the member count. */
#define NODELIST_MEMBER_MAX (1UL << 20)
/* nr_kdamonds comes from a file; do not let a bogus value make us stat millions of paths. */
#define KDAMONDS_SCAN_MAX 1024U
/* Tiny rings: the probes only ask whether the kernel accepts the setup. */
#define PROBE_RING_ENTRIES 4U
#define PROBE_BUF_RING_ENTRIES 8U
#define PROBE_BUF_GROUP 0

static void strv_free(char **l) {
        if (!l)
                return;
        for (char **p = l; *p; p++)
                free(*p);
        free(l);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(DIR *, closedir);


/* ---- paths and files below root ---- */

int detect_root_path(const char *root, const char *rel, char **ret) {
        size_t n;

        if (!root)
                root = "";
        n = strlen(root);
        while (n > 0 && root[n - 1] == '/')
                n--;
        while (*rel == '/')
                rel++;
        if (asprintf(ret, "%.*s/%s", (int) n, root, rel) < 0) {
                *ret = NULL;
                return -ENOMEM;
        }
        return 0;
}

static _printf_(3, 0) int path_buildv(const char *root, char **ret, const char *fmt, va_list ap) {
        _cleanup_free_ char *rel = NULL;

        if (vasprintf(&rel, fmt, ap) < 0) {
                rel = NULL;
                return -ENOMEM;
        }
        return detect_root_path(root, rel, ret);
}

/* Reads a whole small file, dropping trailing newlines and blanks as the kernel appends them. */
static int read_text(const char *path, char **ret) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        char *shrunk;
        size_t n = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        buf = malloc(READ_MAX + 1);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t k = read(fd, buf + n, READ_MAX + 1 - n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
                if (n > READ_MAX)
                        return -EFBIG;
        }
        buf[n] = '\0';
        if (strlen(buf) != n)
                return -EBADMSG;
        while (n > 0 && isspace((unsigned char) buf[n - 1]))
                buf[--n] = '\0';
        /* Some results are kept for the daemon's lifetime; do not keep a page each. */
        shrunk = realloc(buf, n + 1);
        if (shrunk)
                buf = shrunk;
        *ret = TAKE_PTR(buf);
        return 0;
}

int detect_read_text_at(const char *root, char **ret, const char *fmt, ...) {
        _cleanup_free_ char *p = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = path_buildv(root, &p, fmt, ap);
        va_end(ap);
        if (r < 0)
                return r;
        r = read_text(p, ret);
        if (r < 0 && r != -ENOMEM)
                log_debug_errno(r, "Cannot read %s: %m", p);
        return r;
}

/* Strict decimal: digits only, no sign or blanks, no overflow. */
static int parse_ulong(const char *s, unsigned long *ret) {
        unsigned long v;
        char *end;

        if (!isdigit((unsigned char) s[0]))
                return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        if (*end != '\0')
                return -EINVAL;
        *ret = v;
        return 0;
}

int detect_read_ulong_at(const char *root, unsigned long *ret, const char *fmt, ...) {
        _cleanup_free_ char *p = NULL, *text = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = path_buildv(root, &p, fmt, ap);
        va_end(ap);
        if (r < 0)
                return r;
        r = read_text(p, &text);
        if (r >= 0)
                r = parse_ulong(text, ret);
        if (r < 0 && r != -ENOMEM)
                log_debug_errno(r, "Cannot read a number from %s: %m", p);
        return r;
}

/* Returns 1 if the path exists (with the wanted type when is_dir), 0 if not, -ENOMEM. */
static int exists_at(const char *root, bool is_dir, const char *rel) {
        _cleanup_free_ char *p = NULL;
        struct stat st;
        int r;

        r = detect_root_path(root, rel, &p);
        if (r < 0)
                return r;
        if (stat(p, &st) < 0) {
                log_debug_errno(errno, "Cannot stat %s: %m", p);
                return 0;
        }
        return is_dir ? S_ISDIR(st.st_mode) : 1;
}

/* "<prefix><decimal><suffix>" -> the number; anything else is -EINVAL. */
static int parse_numbered_name(const char *name, const char *prefix, const char *suffix, unsigned long *ret) {
        size_t lp = strlen(prefix), ls = strlen(suffix), ln = strlen(name);
        _cleanup_free_ char *digits = NULL;

        if (ln <= lp + ls || strncmp(name, prefix, lp) != 0 || strcmp(name + ln - ls, suffix) != 0)
                return -EINVAL;
        digits = strndup(name + lp, ln - lp - ls);
        if (!digits)
                return -ENOMEM;
        return parse_ulong(digits, ret);
}

static int cmp_ulong(const void *a, const void *b) {
        unsigned long x = *(const unsigned long *) a, y = *(const unsigned long *) b;

        return (x > y) - (x < y);
}

int detect_list_numbered(const char *root, const char *rel, const char *prefix, const char *suffix, unsigned long **ret,
                         size_t *ret_n) {
        _cleanup_(closedirp) DIR *d = NULL;
        _cleanup_free_ unsigned long *nums = NULL;
        _cleanup_free_ char *p = NULL;
        size_t n = 0, allocated = 0;
        struct dirent *de;
        int r;

        r = detect_root_path(root, rel, &p);
        if (r < 0)
                return r;
        d = opendir(p);
        if (!d)
                log_debug_errno(errno, "Cannot open directory %s, treating as empty: %m", p);
        while (d && (errno = 0, de = readdir(d))) {
                unsigned long v;

                r = parse_numbered_name(de->d_name, prefix, suffix, &v);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        continue;
                if (n == allocated) {
                        size_t na = allocated ? allocated * 2 : 8;
                        unsigned long *t = reallocarray(nums, na, sizeof(*nums));
                        if (!t)
                                return -ENOMEM;
                        nums = t;
                        allocated = na;
                }
                nums[n++] = v;
        }
        if (d && errno != 0)
                log_debug_errno(errno, "Failed to read directory %s, using what was read: %m", p);
        if (n > 0)
                qsort(nums, n, sizeof(*nums), cmp_ulong);
        *ret = TAKE_PTR(nums);
        *ret_n = n;
        return 0;
}

/* ---- nodelist ---- */

static int take_member(const char **p, unsigned long *ret) {
        unsigned long v;
        char *end;

        if (!isdigit((unsigned char) **p))
                return -EINVAL;
        errno = 0;
        v = strtoul(*p, &end, 10);
        if (errno == ERANGE || v > NODELIST_MEMBER_MAX)
                return -ERANGE;
        *p = end;
        *ret = v;
        return 0;
}

typedef int (*NodelistRangeFn)(unsigned long lo, unsigned long hi, void *userdata);

/* Validates s as detect_nodelist_count() documents, handing each range to fn (if
 * not NULL). Returns 0 and the member count, -EINVAL, -ERANGE, or fn's failure. */
static int nodelist_walk(const char *s, NodelistRangeFn fn, void *userdata, unsigned long *ret_count) {
        unsigned long count = 0, prev_hi = 0;
        bool first = true;
        const char *p = s;
        int r;

        if (!s || *s == '\0')
                return -EINVAL;
        for (;;) {
                unsigned long lo, hi;

                r = take_member(&p, &lo);
                if (r < 0)
                        return r;
                hi = lo;
                if (*p == '-') {
                        p++;
                        r = take_member(&p, &hi);
                        if (r < 0)
                                return r;
                        if (hi < lo)
                                return -EINVAL;
                }
                /* The kernel prints ascending, disjoint ranges; anything else would double-count. */
                if (!first && lo <= prev_hi)
                        return -EINVAL;
                if (fn) {
                        r = fn(lo, hi, userdata);
                        if (r < 0)
                                return r;
                }
                count += hi - lo + 1;
                prev_hi = hi;
                first = false;
                if (*p == '\0')
                        break;
                if (*p != ',')
                        return -EINVAL;
                p++;
        }
        *ret_count = count;
        return 0;
}

int detect_nodelist_count(const char *s, unsigned *ret) {
        unsigned long count;
        int r;

        r = nodelist_walk(s, NULL, NULL, &count);
        if (r < 0)
                return r;
        *ret = (unsigned) count;
        return 0;
}

typedef struct NodelistFill {
        unsigned *members;
        size_t n;
} NodelistFill;

static int nodelist_fill(unsigned long lo, unsigned long hi, void *userdata) {
        NodelistFill *f = userdata;

        for (unsigned long v = lo; v <= hi; v++)
                f->members[f->n++] = (unsigned) v;
        return 0;
}

int detect_nodelist_parse(const char *s, unsigned **ret, size_t *ret_n) {
        _cleanup_free_ unsigned *members = NULL;
        NodelistFill fill = {};
        unsigned long count;
        int r;

        if (s && *s == '\0') {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        /* Validate and count first, so the fill pass cannot overrun. */
        r = nodelist_walk(s, NULL, NULL, &count);
        if (r < 0)
                return r;
        members = calloc(count, sizeof(*members));
        if (!members)
                return -ENOMEM;
        fill.members = members;
        r = nodelist_walk(s, nodelist_fill, &fill, &count);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(members);
        *ret_n = fill.n;
        return 0;
}

/* ---- io_uring probes (real system calls, not below root) ---- */

static bool probe_send_zc(struct io_uring *ring) {
        struct io_uring_probe *probe;
        bool ok;

        probe = io_uring_get_probe_ring(ring);
        if (!probe) {
                log_debug("io_uring opcode probe failed, assuming no SEND_ZC.");
                return false;
        }
        ok = io_uring_opcode_supported(probe, IORING_OP_SEND_ZC);
        io_uring_free_probe(probe);
        return ok;
}

static bool probe_buf_ring(struct io_uring *ring) {
        struct io_uring_buf_reg reg = {};
        size_t len = (size_t) sysconf(_SC_PAGESIZE);
        void *mem;
        int r;

        /* The kernel wants the ring page-aligned; one anonymous page holds a few entries. */
        mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (mem == MAP_FAILED) {
                log_debug_errno(errno, "Cannot map a page for the buffer ring probe: %m");
                return false;
        }
        reg.ring_addr = (uint64_t) (uintptr_t) mem;
        reg.ring_entries = PROBE_BUF_RING_ENTRIES;
        reg.bgid = PROBE_BUF_GROUP;
        r = io_uring_register_buf_ring(ring, &reg, 0);
        if (r < 0)
                log_debug_errno(r, "io_uring provided-buffer ring registration refused: %m");
        else
                (void) io_uring_unregister_buf_ring(ring, PROBE_BUF_GROUP);
        (void) munmap(mem, len);
        return r >= 0;
}

static bool probe_sqpoll(void) {
        struct io_uring_params params = {
                .flags = IORING_SETUP_SQPOLL,
                .sq_thread_idle = 1, /* ms; the poller thread should not outlive the probe */
        };
        struct io_uring ring;
        int r;

        r = io_uring_queue_init_params(PROBE_RING_ENTRIES, &ring, &params);
        if (r < 0) {
                log_debug_errno(r, "io_uring SQPOLL setup refused: %m");
                return false;
        }
        io_uring_queue_exit(&ring);
        return true;
}

/* A disabled io_uring (kernel.io_uring_disabled, ENOSYS, EPERM) fails the first
 * setup, which leaves all four false. */
static void probe_io_uring(Features *f) {
        struct io_uring ring;
        int r;

        r = io_uring_queue_init(PROBE_RING_ENTRIES, &ring, 0);
        if (r < 0) {
                log_debug_errno(r, "io_uring setup failed, treating io_uring as unavailable: %m");
                return;
        }
        f->io_uring = true;
        f->io_uring_send_zc = probe_send_zc(&ring);
        f->io_uring_buf_ring = probe_buf_ring(&ring);
        io_uring_queue_exit(&ring);
        f->io_uring_sqpoll = probe_sqpoll();
}

/* ---- BPF probes ---- */

static int libbpf_print_nothing(enum libbpf_print_level level, const char *fmt, va_list ap) {
        return 0;
}

static bool probe_bpf_prog_type(enum bpf_prog_type type, const char *name) {
        int r;

        r = libbpf_probe_bpf_prog_type(type, NULL);
        if (r < 0)
                log_debug_errno(r, "Probing BPF program type %s failed: %m", name);
        else if (r == 0)
                log_debug("BPF program type %s cannot be loaded (unsupported or not permitted).", name);
        return r > 0;
}

static void probe_bpf(Features *f) {
        libbpf_print_fn_t saved;

        /* A failed probe is an answer, not something libbpf should print to stderr. */
        saved = libbpf_set_print(libbpf_print_nothing);
        f->bpf_prog_load = probe_bpf_prog_type(BPF_PROG_TYPE_SOCKET_FILTER, "socket_filter");
        f->bpf_xdp = probe_bpf_prog_type(BPF_PROG_TYPE_XDP, "xdp");
        (void) libbpf_set_print(saved);
}

/* ---- facts below root ---- */

void detect_damon_set_owned(Features *f, const unsigned *owned, size_t n_owned) {
        unsigned foreign = 0;

        for (unsigned i = 0; i < f->damon_kdamonds_running; i++) {
                bool mine = false;

                for (size_t j = 0; j < n_owned && !mine; j++)
                        mine = owned[j] == f->damon_running_ids[i];
                if (!mine)
                        foreign++;
        }
        f->damon_kdamonds_foreign = foreign;
}

static int detect_damon(const char *root, Features *f) {
        _cleanup_free_ unsigned *ids = NULL;
        unsigned long nr;
        unsigned n = 0, scan;
        int r;

        r = exists_at(root, true, "sys/kernel/mm/damon/admin");
        if (r <= 0)
                return r;
        f->damon_sysfs = true;

        r = detect_read_ulong_at(root, &nr, "sys/kernel/mm/damon/admin/kdamonds/nr_kdamonds");
        if (r < 0)
                return r == -ENOMEM ? r : 0;
        f->damon_kdamonds = nr > UINT_MAX ? UINT_MAX : (unsigned) nr;
        scan = f->damon_kdamonds < KDAMONDS_SCAN_MAX ? f->damon_kdamonds : KDAMONDS_SCAN_MAX;
        if (scan < f->damon_kdamonds)
                log_debug("nr_kdamonds is %u, looking at the first %u only.", f->damon_kdamonds, scan);
        if (scan == 0)
                return 0;

        ids = calloc(scan, sizeof(*ids));
        if (!ids)
                return -ENOMEM;
        for (unsigned i = 0; i < scan; i++) {
                _cleanup_free_ char *state = NULL;

                r = detect_read_text_at(root, &state, "sys/kernel/mm/damon/admin/kdamonds/%u/state", i);
                if (r == -ENOMEM)
                        return r;
                if (r >= 0 && strcmp(state, "on") == 0)
                        ids[n++] = i;
        }
        if (n > 0)
                f->damon_running_ids = TAKE_PTR(ids);
        f->damon_kdamonds_running = n;
        detect_damon_set_owned(f, NULL, 0);
        return 0;
}

static int detect_memory_tiers(const char *root, Features *f) {
        _cleanup_free_ unsigned long *ids = NULL;
        _cleanup_(strv_freep) char **tiers = NULL;
        size_t n, k = 0;
        int r;

        r = detect_list_numbered(root, "sys/devices/virtual/memory_tiering", "memory_tier", "", &ids, &n);
        if (r < 0 || n == 0)
                return r;
        tiers = calloc(n + 1, sizeof(*tiers));
        if (!tiers)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *nodes = NULL;
                char *line;

                r = detect_read_text_at(root, &nodes, "sys/devices/virtual/memory_tiering/memory_tier%lu/nodelist",
                                        ids[i]);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        continue;
                if (asprintf(&line, "memory_tier%lu: %s", ids[i], nodes) < 0)
                        return -ENOMEM;
                tiers[k++] = line;
        }
        if (k > 0)
                f->memory_tiers = TAKE_PTR(tiers);
        return 0;
}

static int detect_numa(const char *root, Features *f) {
        _cleanup_free_ char *list = NULL;
        unsigned n;
        int r;

        r = detect_read_text_at(root, &list, "sys/devices/system/node/has_memory");
        if (r == -ENOMEM)
                return r;
        if (r >= 0) {
                r = detect_nodelist_count(list, &n);
                if (r < 0)
                        log_debug_errno(r, "Malformed has_memory \"%s\", ignoring: %m", list);
                else {
                        f->numa_nodes = n;
                        f->numa_nodes_list = TAKE_PTR(list);
                }
        }
        return detect_memory_tiers(root, f);
}

static int detect_hugepages(const char *root, Features *f) {
        _cleanup_free_ unsigned long *sizes = NULL;
        _cleanup_free_ HugepageSize *hp = NULL;
        size_t n;
        int r;

        r = detect_list_numbered(root, "sys/kernel/mm/hugepages", "hugepages-", "kB", &sizes, &n);
        if (r < 0 || n == 0)
                return r;
        hp = calloc(n, sizeof(*hp));
        if (!hp)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                hp[i].size_kb = sizes[i];
                r = detect_read_ulong_at(root, &hp[i].total, "sys/kernel/mm/hugepages/hugepages-%lukB/nr_hugepages",
                                         sizes[i]);
                if (r == -ENOMEM)
                        return r;
                r = detect_read_ulong_at(root, &hp[i].free, "sys/kernel/mm/hugepages/hugepages-%lukB/free_hugepages",
                                         sizes[i]);
                if (r == -ENOMEM)
                        return r;
        }
        f->hugepages = TAKE_PTR(hp);
        f->n_hugepages = n;
        return 0;
}

static int detect_numa_balancing(const char *root, Features *f) {
        unsigned long mode;
        int r;

        f->numa_balancing = -1;
        r = detect_read_ulong_at(root, &mode, "proc/sys/kernel/numa_balancing");
        if (r == -ENOMEM)
                return r;
        if (r >= 0 && mode > 3)
                log_debug("Unknown numa_balancing mode %lu, treating as absent.", mode);
        else if (r >= 0)
                f->numa_balancing = (int) mode;

        r = exists_at(root, false, "proc/sys/kernel/numa_balancing_promote_rate_limit_MBps");
        if (r < 0)
                return r;
        f->numa_balancing_tiering = r > 0;
        return 0;
}

const char *detect_numa_balancing_to_string(int mode) {
        switch (mode) {
        case -1:
                return "absent";
        case 0:
                return "disabled";
        case 1:
                return "normal";
        case 2:
                return "memory-tiering";
        case 3:
                return "normal+memory-tiering";
        default:
                return NULL;
        }
}

void detect_done(Features *f) {
        if (!f)
                return;
        free(f->damon_running_ids);
        free(f->numa_nodes_list);
        strv_free(f->memory_tiers);
        free(f->hugepages);
        *f = (Features) { .numa_balancing = -1 };
}

int detect_run(const char *root, Features *ret) {
        _cleanup_(detect_done) Features f = { .numa_balancing = -1 };
        int r;

        if (!root || !*root)
                root = "/";
        probe_io_uring(&f);
        probe_bpf(&f);

        r = detect_damon(root, &f);
        if (r >= 0)
                r = detect_numa(root, &f);
        if (r >= 0)
                r = detect_hugepages(root, &f);
        if (r >= 0)
                r = detect_numa_balancing(root, &f);
        if (r < 0)
                return r;

        *ret = f;
        f = (Features) {};
        return 0;
}

/* ---- output ---- */


/* Adds the booleans named in keys[] from values[]; one call per section keeps the builders flat. */
static int json_add_bools(json_object *o, const char *const *keys, const bool *values, size_t n) {
        for (size_t i = 0; i < n; i++) {
                int r = json_add(o, keys[i], json_object_new_boolean(values[i]));
                if (r < 0)
                        return r;
        }
        return 0;
}

static json_object *json_io_uring(const Features *f) {
        static const char *const keys[] = { "available", "sqpoll", "send_zc", "buf_ring" };
        const bool values[] = { f->io_uring, f->io_uring_sqpoll, f->io_uring_send_zc, f->io_uring_buf_ring };
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();

        if (!o || json_add_bools(o, keys, values, ELEMENTSOF(keys)) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static json_object *json_bpf(const Features *f) {
        static const char *const keys[] = { "prog_load", "xdp" };
        const bool values[] = { f->bpf_prog_load, f->bpf_xdp };
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();

        if (!o || json_add_bools(o, keys, values, ELEMENTSOF(keys)) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static json_object *json_damon(const Features *f) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();

        if (!o || json_add(o, "sysfs", json_object_new_boolean(f->damon_sysfs)) < 0 ||
            json_add(o, "kdamonds", json_object_new_int64(f->damon_kdamonds)) < 0 ||
            json_add(o, "running", json_object_new_int64(f->damon_kdamonds_running)) < 0 ||
            json_add(o, "foreign", json_object_new_int64(f->damon_kdamonds_foreign)) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static json_object *json_numa(const Features *f) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        _cleanup_(json_object_putp) json_object *tiers = json_object_new_array();

        if (!o || !tiers)
                return NULL;
        for (char **t = f->memory_tiers; t && *t; t++)
                if (json_append(tiers, json_object_new_string(*t)) < 0)
                        return NULL;
        if (json_add(o, "nodes", json_object_new_int64(f->numa_nodes)) < 0 ||
            json_add_string(o, "nodes_list", f->numa_nodes_list) < 0 ||
            json_add(o, "memory_tiers", TAKE_PTR(tiers)) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static json_object *json_hugepages(const Features *f) {
        _cleanup_(json_object_putp) json_object *a = json_object_new_array();

        if (!a)
                return NULL;
        for (size_t i = 0; i < f->n_hugepages; i++) {
                const HugepageSize *h = &f->hugepages[i];
                _cleanup_(json_object_putp) json_object *o = json_object_new_object();

                if (!o || json_add(o, "size_kb", json_object_new_uint64(h->size_kb)) < 0 ||
                    json_add(o, "total", json_object_new_uint64(h->total)) < 0 ||
                    json_add(o, "free", json_object_new_uint64(h->free)) < 0 || json_append(a, TAKE_PTR(o)) < 0)
                        return NULL;
        }
        return TAKE_PTR(a);
}

static json_object *json_numa_balancing(const Features *f) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();

        if (!o || json_add(o, "mode", json_object_new_int(f->numa_balancing)) < 0 ||
            json_add_string(o, "mode_name", detect_numa_balancing_to_string(f->numa_balancing)) < 0 ||
            json_add(o, "tiering_available", json_object_new_boolean(f->numa_balancing_tiering)) < 0)
                return NULL;
        return TAKE_PTR(o);
}

json_object *detect_to_json(const Features *f) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();

        if (!o || json_add(o, "io_uring", json_io_uring(f)) < 0 || json_add(o, "bpf", json_bpf(f)) < 0 ||
            json_add(o, "damon", json_damon(f)) < 0 || json_add(o, "numa", json_numa(f)) < 0 ||
            json_add(o, "hugepages", json_hugepages(f)) < 0 ||
            json_add(o, "numa_balancing", json_numa_balancing(f)) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static const char *yes_no(bool b) {
        return b ? "yes" : "no";
}

int detect_summary(const Features *f, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        FILE *s;
        const char *nb = detect_numa_balancing_to_string(f->numa_balancing);

        s = open_memstream(&buf, &len);
        if (!s)
                return -ENOMEM;
        fprintf(s, "io_uring=%s sqpoll=%s send_zc=%s buf_ring=%s bpf=%s xdp=%s", yes_no(f->io_uring),
                yes_no(f->io_uring_sqpoll), yes_no(f->io_uring_send_zc), yes_no(f->io_uring_buf_ring),
                yes_no(f->bpf_prog_load), yes_no(f->bpf_xdp));
        if (f->damon_sysfs)
                fprintf(s, " damon=%u/%u/%u(kdamonds/running/foreign)", f->damon_kdamonds, f->damon_kdamonds_running,
                        f->damon_kdamonds_foreign);
        else
                fputs(" damon=no", s);
        fprintf(s, " numa_nodes=%u(%s)", f->numa_nodes, f->numa_nodes_list ?: "?");
        for (char **t = f->memory_tiers; t && *t; t++)
                fprintf(s, " [%s]", *t);
        fputs(" hugepages=", s);
        for (size_t i = 0; i < f->n_hugepages; i++)
                fprintf(s, "%s%lukB:%lu/%lu", i > 0 ? "," : "", f->hugepages[i].size_kb, f->hugepages[i].free,
                        f->hugepages[i].total);
        if (f->n_hugepages == 0)
                fputs("none", s);
        fprintf(s, " numa_balancing=%s tiering=%s", nb ?: "?", yes_no(f->numa_balancing_tiering));
        if (ferror(s)) {
                fclose(s);
                return -ENOMEM;
        }
        if (fclose(s) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        return 0;
}
