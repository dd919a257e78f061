// SPDX-License-Identifier: LGPL-2.1-or-later
/* The MFLOW eBPF loader: skeleton open/load, XDP and tc attach limited to what this object owns,
 * and typed access to the configuration, split marks, counters and the event ring buffer. */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "mflow-bpf.h"
#include "mflow.skel.h"
#include "string-table.h"

#define MFLOW_TC_HANDLE 0x4d41 /* "MA" */
#define MFLOW_TC_PRIORITY 0x4d41

struct MflowBpf {
        struct maio_mflow *skel;
        struct ring_buffer *ring;
        mflow_event_fn cb;
        void *userdata;
        int xdp_ifindex; /* 0: not attached */
        __u32 xdp_flags;
        int tc_ifindex;
        bool tc_created_hook; /* clsact was created by us: remove it on detach */
};

static const char *const mflow_xdp_mode_table[_MFLOW_XDP_MODE_MAX] = {
        [MFLOW_XDP_NATIVE] = "native",
        [MFLOW_XDP_GENERIC] = "generic",
};
DEFINE_STRING_TABLE_LOOKUP(mflow_xdp_mode, MflowXdpMode);

/* libbpf returns -errno from most calls but NULL with errno from constructors: one place for both. */
static int errno_or(int fallback) {
        return errno > 0 ? -errno : fallback;
}

void mflow_conf_default(struct mflow_conf *c) {
        *c = (struct mflow_conf) {
                .mode = MFLOW_MODE_SPLIT,
                .batch = MFLOW_DEFAULT_BATCH,
                .window_ns = MFLOW_DEFAULT_WINDOW_NS,
                .elephant_rate = MFLOW_DEFAULT_ELEPHANT_RATE,
                .idle_ns = MFLOW_DEFAULT_IDLE_NS,
                .flowlet_gap_ns = MFLOW_DEFAULT_FLOWLET_GAP_NS,
                .flowlet_k = MFLOW_DEFAULT_FLOWLET_K,
                .vxlan_ports = { MFLOW_VXLAN_PORT_IANA, MFLOW_VXLAN_PORT_LINUX },
        };
}

MflowBpf *mflow_bpf_free(MflowBpf *m) {
        if (!m)
                return NULL;
        (void) mflow_bpf_detach(m);
        ring_buffer__free(m->ring);
        maio_mflow__destroy(m->skel);
        free(m);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(MflowBpf *, mflow_bpf_free);

int mflow_bpf_open(MflowBpf **ret) {
        _cleanup_(mflow_bpf_freep) MflowBpf *m = NULL;

        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        errno = 0;
        m->skel = maio_mflow__open();
        if (!m->skel)
                return errno_or(-EINVAL);
        *ret = TAKE_PTR(m);
        return 0;
}

static int ring_cb(void *ctx, void *data, size_t size) {
        MflowBpf *m = ctx;

        if (size < sizeof(struct mflow_event) || !m->cb)
                return 0;
        return m->cb(data, m->userdata);
}

int mflow_bpf_load(MflowBpf *m) {
        struct mflow_conf c;
        int r;

        r = maio_mflow__load(m->skel);
        if (r < 0)
                return r;
        errno = 0;
        m->ring = ring_buffer__new(bpf_map__fd(m->skel->maps.maio_events), ring_cb, m, NULL);
        if (!m->ring)
                return errno_or(-ENOMEM);
        mflow_conf_default(&c);
        return mflow_bpf_set_conf(m, &c);
}

int mflow_bpf_attach(MflowBpf *m, int ifindex, MflowXdpMode mode) {
        __u32 flags = XDP_FLAGS_UPDATE_IF_NOEXIST;
        int r;

        if (ifindex <= 0 || mode < 0 || mode >= _MFLOW_XDP_MODE_MAX)
                return -EINVAL;
        if (m->xdp_ifindex)
                return -EALREADY;
        flags |= mode == MFLOW_XDP_NATIVE ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
        /* UPDATE_IF_NOEXIST: the kernel refuses (-EBUSY) when any program is attached already. */
        r = bpf_xdp_attach(ifindex, bpf_program__fd(m->skel->progs.maio_xdp), flags, NULL);
        if (r < 0)
                return r;
        m->xdp_ifindex = ifindex;
        m->xdp_flags = flags & ~XDP_FLAGS_UPDATE_IF_NOEXIST;
        return 0;
}

int mflow_bpf_attach_tc(MflowBpf *m, int ifindex) {
        DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
        DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = MFLOW_TC_HANDLE, .priority = MFLOW_TC_PRIORITY,
                            .prog_fd = bpf_program__fd(m->skel->progs.maio_tc_ingress));
        bool created;
        int r;

        if (ifindex <= 0)
                return -EINVAL;
        if (m->tc_ifindex)
                return -EALREADY;
        r = bpf_tc_hook_create(&hook);
        if (r < 0 && r != -EEXIST)
                return r;
        created = r == 0;
        /* No BPF_TC_F_REPLACE: a filter someone else put at our handle and priority stays. */
        r = bpf_tc_attach(&hook, &opts);
        if (r < 0) {
                if (created) {
                        hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
                        (void) bpf_tc_hook_destroy(&hook);
                }
                return r;
        }
        m->tc_ifindex = ifindex;
        m->tc_created_hook = created;
        return 0;
}

static int detach_tc(MflowBpf *m) {
        DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = m->tc_ifindex, .attach_point = BPF_TC_INGRESS);
        DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = MFLOW_TC_HANDLE, .priority = MFLOW_TC_PRIORITY);
        int r;

        r = bpf_tc_detach(&hook, &opts);
        if (r == -ENOENT || r == -ENODEV)
                r = 0; /* gone with its device */
        if (m->tc_created_hook) {
                /* Destroying the hook removes the whole clsact qdisc, which we created. */
                hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
                int k = bpf_tc_hook_destroy(&hook);
                if (k < 0 && k != -ENOENT && k != -ENODEV && r == 0)
                        r = k;
        }
        m->tc_ifindex = 0;
        m->tc_created_hook = false;
        return r;
}

int mflow_bpf_detach(MflowBpf *m) {
        int r = 0;

        if (m->xdp_ifindex) {
                /* old_prog_fd makes the kernel detach only if our program is still the attached one. */
                DECLARE_LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = bpf_program__fd(m->skel->progs.maio_xdp));
                r = bpf_xdp_detach(m->xdp_ifindex, m->xdp_flags, &opts);
                if (r == -ENODEV)
                        r = 0;
                m->xdp_ifindex = 0;
        }
        if (m->tc_ifindex) {
                int k = detach_tc(m);
                if (r == 0)
                        r = k;
        }
        return r;
}

int mflow_bpf_set_conf(MflowBpf *m, const struct mflow_conf *c) {
        __u32 zero = 0;

        if (c->mode == MFLOW_MODE_INHERIT || c->mode >= _MFLOW_MODE_MAX || c->batch == 0 || c->window_ns == 0 ||
            c->idle_ns == 0)
                return -EINVAL;
        if (bpf_map_update_elem(bpf_map__fd(m->skel->maps.maio_conf), &zero, c, BPF_ANY) < 0)
                return -errno;
        return 0;
}

int mflow_bpf_set_cpu(MflowBpf *m, unsigned cpu, unsigned qsize) {
        struct bpf_cpumap_val v = {
                .qsize = qsize,
                .bpf_prog.fd = bpf_program__fd(m->skel->progs.maio_xdp_cpumap),
        };

        if (cpu >= MFLOW_MAX_CPUS || qsize == 0)
                return -EINVAL;
        if (bpf_map_update_elem(bpf_map__fd(m->skel->maps.maio_cpumap), &cpu, &v, BPF_ANY) < 0)
                return -errno;
        return 0;
}

int mflow_bpf_split(MflowBpf *m, const struct mflow_key *key, const struct mflow_split *s) {
        if (s->ncores == 0 || s->ncores > MFLOW_MAX_CORES || s->mode >= _MFLOW_MODE_MAX)
                return -EINVAL;
        for (unsigned i = 0; i < s->ncores; i++)
                if (s->cores[i] >= MFLOW_MAX_CPUS)
                        return -EINVAL;
        if (bpf_map_update_elem(bpf_map__fd(m->skel->maps.maio_split), key, s, BPF_ANY) < 0)
                return -errno;
        return 0;
}

int mflow_bpf_unsplit(MflowBpf *m, const struct mflow_key *key) {
        if (bpf_map_delete_elem(bpf_map__fd(m->skel->maps.maio_split), key) < 0)
                return -errno;
        return 0;
}

int mflow_bpf_flow(MflowBpf *m, const struct mflow_key *key, struct mflow_state *ret) {
        if (bpf_map_lookup_elem(bpf_map__fd(m->skel->maps.maio_flows), key, ret) < 0)
                return -errno;
        return 0;
}

int mflow_bpf_reorder(MflowBpf *m, const struct mflow_key *key, struct mflow_reorder *ret) {
        if (bpf_map_lookup_elem(bpf_map__fd(m->skel->maps.maio_reorder), key, ret) < 0)
                return -errno;
        return 0;
}

int mflow_bpf_counters(MflowBpf *m, struct mflow_cpu_stats **ret, size_t *ret_n) {
        _cleanup_free_ struct mflow_cpu_stats *v = NULL;
        __u32 zero = 0;
        int n;

        n = libbpf_num_possible_cpus();
        if (n < 0)
                return n;
        v = calloc(n, sizeof(*v));
        if (!v)
                return -ENOMEM;
        if (bpf_map_lookup_elem(bpf_map__fd(m->skel->maps.maio_stats), &zero, v) < 0)
                return -errno;
        *ret = TAKE_PTR(v);
        *ret_n = n;
        return 0;
}

int mflow_bpf_events_fd(MflowBpf *m) {
        if (!m->ring)
                return -EBADF;
        return ring_buffer__epoll_fd(m->ring);
}

int mflow_bpf_events_poll(MflowBpf *m, int timeout_ms, mflow_event_fn cb, void *userdata) {
        int r;

        if (!m->ring)
                return -EBADF;
        m->cb = cb;
        m->userdata = userdata;
        r = ring_buffer__poll(m->ring, timeout_ms);
        m->cb = NULL;
        m->userdata = NULL;
        return r == -EINTR ? 0 : r;
}

static const char *addr_format(const __u8 a[16], char *buf, size_t size) {
        static const __u8 mapped[12] = { [10] = 0xff, [11] = 0xff };

        if (memcmp(a, mapped, sizeof(mapped)) == 0)
                return inet_ntop(AF_INET, a + 12, buf, size);
        return inet_ntop(AF_INET6, a, buf, size);
}

char *mflow_key_format(const struct mflow_key *k, char *buf, size_t size) {
        char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], vni[16] = "none";
        const char *proto = k->proto == 6 ? "tcp" : k->proto == 17 ? "udp" : NULL;
        char pbuf[8];

        if (!proto) {
                snprintf(pbuf, sizeof(pbuf), "%u", k->proto);
                proto = pbuf;
        }
        if (k->vni != MFLOW_VNI_NONE)
                snprintf(vni, sizeof(vni), "%u", k->vni);
        snprintf(buf, size, "%s %s:%u > %s:%u vni %s", proto, addr_format(k->src, src, sizeof(src)) ?: "?", k->sport,
                 addr_format(k->dst, dst, sizeof(dst)) ?: "?", k->dport, vni);
        return buf;
}

/* ---- pins, adoption and what a previous run left behind ---- */

#define FOREACH_MAP(m, map)                                                         \
        for (struct bpf_map *map = bpf_object__next_map((m)->skel->obj, NULL); map; \
             map = bpf_object__next_map((m)->skel->obj, map))

int mflow_bpf_set_pin_dir(MflowBpf *m, const char *dir) {
        int r;

        FOREACH_MAP(m, map) {
                _cleanup_free_ char *path = NULL;

                if (bpf_map__is_internal(map))
                        continue; /* .rodata/.bss: never pinned */
                if (asprintf(&path, "%s/%s", dir, bpf_map__name(map)) < 0)
                        return -ENOMEM;
                r = bpf_map__set_pin_path(map, path);
                if (r < 0)
                        return r;
        }
        return 0;
}

bool mflow_bpf_pins_exist(const char *dir) {
        _cleanup_free_ char *path = NULL;

        if (asprintf(&path, "%s/maio_flows", dir) < 0)
                return false;
        return access(path, F_OK) == 0;
}

int mflow_bpf_unpin(MflowBpf *m) {
        int r = 0;

        FOREACH_MAP(m, map) {
                int k;

                if (!bpf_map__pin_path(map) || !bpf_map__is_pinned(map))
                        continue;
                k = bpf_map__unpin(map, NULL);
                if (k < 0 && k != -ENOENT && r == 0)
                        r = k;
        }
        return r;
}

int mflow_bpf_unpin_dir(const char *dir) {
        static const char *const names[] = { "maio_conf",  "maio_flows",  "maio_split",  "maio_cpumap",
                                             "maio_stats", "maio_events", "maio_reorder" };
        int r = 0;

        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                _cleanup_free_ char *path = NULL;

                if (asprintf(&path, "%s/%s", dir, names[i]) < 0)
                        return -ENOMEM;
                if (unlink(path) < 0 && errno != ENOENT && r == 0)
                        r = -errno;
        }
        if (rmdir(dir) < 0 && errno != ENOENT && r == 0)
                r = -errno;
        return r;
}

int mflow_bpf_attach_replace(MflowBpf *m, int ifindex, MflowXdpMode mode, int old_prog_fd) {
        DECLARE_LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = old_prog_fd);
        __u32 flags = XDP_FLAGS_REPLACE | (mode == MFLOW_XDP_NATIVE ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE);
        int r;

        if (ifindex <= 0 || mode < 0 || mode >= _MFLOW_XDP_MODE_MAX || old_prog_fd < 0)
                return -EINVAL;
        if (m->xdp_ifindex)
                return -EALREADY;
        /* REPLACE with old_prog_fd: atomic, and refused (-EEXIST) if another program took its place. */
        r = bpf_xdp_attach(ifindex, bpf_program__fd(m->skel->progs.maio_xdp), flags, &opts);
        if (r < 0)
                return r;
        m->xdp_ifindex = ifindex;
        m->xdp_flags = flags & ~XDP_FLAGS_REPLACE;
        return 0;
}

int mflow_xdp_query(int ifindex, __u32 *ret_id, MflowXdpMode *ret_mode) {
        DECLARE_LIBBPF_OPTS(bpf_xdp_query_opts, opts);
        int r;

        r = bpf_xdp_query(ifindex, 0, &opts);
        if (r < 0)
                return r;
        *ret_id = 0;
        *ret_mode = _MFLOW_XDP_MODE_INVALID;
        if (opts.attach_mode == XDP_ATTACHED_DRV) {
                *ret_id = opts.drv_prog_id;
                *ret_mode = MFLOW_XDP_NATIVE;
        } else if (opts.attach_mode == XDP_ATTACHED_SKB) {
                *ret_id = opts.skb_prog_id;
                *ret_mode = MFLOW_XDP_GENERIC;
        } else if (opts.attach_mode != XDP_ATTACHED_NONE)
                *ret_id = opts.prog_id ?: opts.hw_prog_id ?: opts.drv_prog_id ?: opts.skb_prog_id;
        return 0;
}

int mflow_prog_get(__u32 id, char *name, size_t size) {
        struct bpf_prog_info info = {};
        __u32 len = sizeof(info);
        int fd, r;

        fd = bpf_prog_get_fd_by_id(id);
        if (fd < 0)
                return -errno;
        r = bpf_obj_get_info_by_fd(fd, &info, &len);
        if (r < 0) {
                r = -errno;
                close(fd);
                return r;
        }
        snprintf(name, size, "%s", info.name);
        return fd;
}

int mflow_xdp_detach_prog(int ifindex, MflowXdpMode mode, int prog_fd) {
        DECLARE_LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = prog_fd);
        int r;

        r = bpf_xdp_detach(ifindex, mode == MFLOW_XDP_NATIVE ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE, &opts);
        return r == -ENODEV ? 0 : r;
}

int mflow_tc_detach_orphan(int ifindex, bool destroy_hook) {
        DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
        DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = MFLOW_TC_HANDLE, .priority = MFLOW_TC_PRIORITY);
        char name[32] = "";
        int r, fd;

        r = bpf_tc_query(&hook, &opts);
        if (r == -ENOENT || r == -ENODEV || r == -EINVAL)
                return 0; /* no filter (or no clsact) there */
        if (r < 0)
                return r;
        fd = mflow_prog_get(opts.prog_id, name, sizeof(name));
        if (fd >= 0)
                close(fd);
        if (strcmp(name, "maio_tc_ingress") != 0)
                return -EBUSY; /* someone else's filter at our handle: left alone */
        opts.prog_id = 0;
        opts.prog_fd = 0;
        opts.flags = 0;
        r = bpf_tc_detach(&hook, &opts);
        if (r < 0 && r != -ENOENT)
                return r;
        if (destroy_hook) {
                hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
                (void) bpf_tc_hook_destroy(&hook);
        }
        return 0;
}

void mflow_bpf_own_tc_hook(MflowBpf *m) {
        m->tc_created_hook = true;
}

bool mflow_bpf_tc_hook_created(const MflowBpf *m) {
        return m->tc_created_hook;
}

__u32 mflow_bpf_prog_id(MflowBpf *m) {
        struct bpf_prog_info info = {};
        __u32 len = sizeof(info);

        if (bpf_obj_get_info_by_fd(bpf_program__fd(m->skel->progs.maio_xdp), &info, &len) < 0)
                return 0;
        return info.id;
}

int mflow_bpf_split_foreach(MflowBpf *m, int (*cb)(const struct mflow_key *k, const struct mflow_split *s, void *ud),
                            void *userdata) {
        int fd = bpf_map__fd(m->skel->maps.maio_split);
        struct mflow_key key, next;
        bool first = true;
        int r;

        for (;;) {
                struct mflow_split s;

                if (bpf_map_get_next_key(fd, first ? NULL : &key, &next) < 0)
                        return errno == ENOENT ? 0 : -errno;
                first = false;
                key = next;
                if (bpf_map_lookup_elem(fd, &key, &s) < 0)
                        continue;
                r = cb(&key, &s, userdata);
                if (r < 0)
                        return r;
        }
}

int mflow_bpf_flow_forget(MflowBpf *m, const struct mflow_key *key) {
        if (bpf_map_delete_elem(bpf_map__fd(m->skel->maps.maio_flows), key) < 0)
                return -errno;
        return 0;
}
