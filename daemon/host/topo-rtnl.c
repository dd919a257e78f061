/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The rtnetlink side of the topology, over libnl-3: one RTM_GETLINK dump for
 * what sysfs does not say (link kind, attached XDP program), its stand-in file
 * below fixture roots, and the RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR and
 * RTNLGRP_IPV6_IFADDR subscription in the event loop. */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "cleanup.h"
#include "log.h"
#include "topo.h"

/* Room for a burst of link messages (each carries the full link state, ~1-2 KiB). */
#define WATCH_RCVBUF (1024 * 1024)
/* A dump the kernel marks inconsistent (links changed meanwhile) is asked again, this often. */
#define DUMP_TRIES 3

struct TopoWatch {
        struct nl_sock *sock;
        sd_event_source *io;
        sd_event_source *timer;
        uint64_t delay_usec;
        TopoWatchFn fn;
        void *userdata;
        TopoWatchCounts burst; /* messages of the burst the timer is armed for */
        TopoWatchCounts total;
};

static const int nle_to_errno[NLE_MAX + 1] = {
        [NLE_SUCCESS] = 0,
        [NLE_FAILURE] = EIO,
        [NLE_INTR] = EINTR,
        [NLE_BAD_SOCK] = EBADF,
        [NLE_AGAIN] = EAGAIN,
        [NLE_NOMEM] = ENOMEM,
        [NLE_EXIST] = EEXIST,
        [NLE_INVAL] = EINVAL,
        [NLE_RANGE] = ERANGE,
        [NLE_MSGSIZE] = EMSGSIZE,
        [NLE_OPNOTSUPP] = EOPNOTSUPP,
        [NLE_AF_NOSUPPORT] = EAFNOSUPPORT,
        [NLE_OBJ_NOTFOUND] = ENOENT,
        [NLE_NOATTR] = ENODATA,
        [NLE_MISSING_ATTR] = EINVAL,
        [NLE_AF_MISMATCH] = EINVAL,
        [NLE_SEQ_MISMATCH] = EPROTO,
        [NLE_MSG_OVERFLOW] = EOVERFLOW,
        [NLE_MSG_TRUNC] = EMSGSIZE,
        [NLE_NOADDR] = EADDRNOTAVAIL,
        [NLE_SRCRT_NOSUPPORT] = EOPNOTSUPP,
        [NLE_MSG_TOOSHORT] = EBADMSG,
        [NLE_MSGTYPE_NOSUPPORT] = EOPNOTSUPP,
        [NLE_OBJ_MISMATCH] = EINVAL,
        [NLE_NOCACHE] = ENOENT,
        [NLE_BUSY] = EBUSY,
        [NLE_PROTO_MISMATCH] = EPROTONOSUPPORT,
        [NLE_NOACCESS] = EACCES,
        [NLE_PERM] = EPERM,
        [NLE_PKTLOC_FILE] = ENOENT,
        [NLE_PARSE_ERR] = EBADMSG,
        [NLE_NODEV] = ENODEV,
        [NLE_IMMUTABLE] = EROFS,
        [NLE_DUMP_INTR] = EINTR,
        [NLE_ATTRSIZE] = EBADMSG,
};

int topo_rtnl_errno(int nlerr) {
        int e = nlerr < 0 ? -nlerr : nlerr;

        if (e == 0)
                return 0;
        if (e > NLE_MAX || nle_to_errno[e] == 0)
                return -EIO;
        return -nle_to_errno[e];
}

void topo_links_free(TopoLink *links, size_t n) {
        for (size_t i = 0; links && i < n; i++) {
                free(links[i].name);
                free(links[i].kind);
        }
        free(links);
}

typedef struct LinkList {
        TopoLink *links;
        size_t n, allocated;
        int error; /* first failure inside a callback (-ENOMEM) */
} LinkList;

static void link_list_done(LinkList *l) {
        topo_links_free(l->links, l->n);
        *l = (LinkList) {};
}

/* Appends a link, taking name and kind (freed on failure). Returns 0 or -ENOMEM. */
static int link_list_add(LinkList *l, char *name, char *kind, TopoXdpMode mode, uint32_t prog_id, bool native) {
        if (!name)
                goto fail;
        if (l->n == l->allocated) {
                size_t na = l->allocated ? l->allocated * 2 : 16;
                TopoLink *nl = reallocarray(l->links, na, sizeof(*nl));

                if (!nl)
                        goto fail;
                l->links = nl;
                l->allocated = na;
        }
        l->links[l->n++] = (TopoLink) {
                .name = name, .kind = kind, .xdp_mode = mode, .xdp_prog_id = prog_id, .xdp_native_attached = native
        };
        return 0;
fail:
        free(name);
        free(kind);
        return -ENOMEM;
}

/* ---- the live dump ---- */

static struct nla_policy link_policy[IFLA_MAX + 1] = {
        [IFLA_IFNAME] = { .type = NLA_STRING, .maxlen = IFNAMSIZ },
        [IFLA_LINKINFO] = { .type = NLA_NESTED },
        [IFLA_XDP] = { .type = NLA_NESTED },
};

static struct nla_policy linkinfo_policy[IFLA_INFO_MAX + 1] = {
        [IFLA_INFO_KIND] = { .type = NLA_STRING },
};

static struct nla_policy xdp_policy[IFLA_XDP_MAX + 1] = {
        [IFLA_XDP_ATTACHED] = { .type = NLA_U8 },     [IFLA_XDP_PROG_ID] = { .type = NLA_U32 },
        [IFLA_XDP_DRV_PROG_ID] = { .type = NLA_U32 }, [IFLA_XDP_SKB_PROG_ID] = { .type = NLA_U32 },
        [IFLA_XDP_HW_PROG_ID] = { .type = NLA_U32 },
};

static TopoXdpMode xdp_mode_from_attached(uint8_t attached) {
        switch (attached) {
        case XDP_ATTACHED_NONE:
                return TOPO_XDP_NONE;
        case XDP_ATTACHED_DRV:
                return TOPO_XDP_DRIVER;
        case XDP_ATTACHED_SKB:
                return TOPO_XDP_GENERIC;
        case XDP_ATTACHED_HW:
                return TOPO_XDP_OFFLOAD;
        case XDP_ATTACHED_MULTI:
                return TOPO_XDP_MULTI;
        default:
                return TOPO_XDP_UNKNOWN;
        }
}

static uint32_t attr_u32(struct nlattr *a) {
        return a ? nla_get_u32(a) : 0;
}

/* IFLA_XDP: the attach mode and one program id (single mode: IFLA_XDP_PROG_ID;
 * several modes at once: the driver one first, then generic, then offload). */
static void parse_xdp(struct nlattr *xdp, TopoXdpMode *mode, uint32_t *prog_id, bool *native) {
        struct nlattr *tb[IFLA_XDP_MAX + 1];

        *mode = TOPO_XDP_NONE;
        *prog_id = 0;
        *native = false;
        if (!xdp)
                return;
        if (nla_parse_nested(tb, IFLA_XDP_MAX, xdp, xdp_policy) < 0 || !tb[IFLA_XDP_ATTACHED]) {
                *mode = TOPO_XDP_UNKNOWN;
                return;
        }
        *mode = xdp_mode_from_attached(nla_get_u8(tb[IFLA_XDP_ATTACHED]));
        *prog_id = attr_u32(tb[IFLA_XDP_PROG_ID]) ?: attr_u32(tb[IFLA_XDP_DRV_PROG_ID])
                        ?: attr_u32(tb[IFLA_XDP_SKB_PROG_ID]) ?: attr_u32(tb[IFLA_XDP_HW_PROG_ID]);
        *native = *mode == TOPO_XDP_DRIVER || attr_u32(tb[IFLA_XDP_DRV_PROG_ID]) != 0;
}

/* IFLA_LINKINFO/IFLA_INFO_KIND, e.g. "veth"; *ret NULL when there is none. Returns 0 or -ENOMEM. */
static int link_kind(struct nlattr *linkinfo, char **ret) {
        struct nlattr *tb[IFLA_INFO_MAX + 1];

        *ret = NULL;
        if (!linkinfo || nla_parse_nested(tb, IFLA_INFO_MAX, linkinfo, linkinfo_policy) < 0 || !tb[IFLA_INFO_KIND])
                return 0;
        /* nla_strdup() copies at most the attribute, terminated or not. */
        *ret = nla_strdup(tb[IFLA_INFO_KIND]);
        return *ret ? 0 : -ENOMEM;
}

static int on_dump_link(struct nl_msg *msg, void *userdata) {
        struct nlmsghdr *h = nlmsg_hdr(msg);
        struct nlattr *tb[IFLA_MAX + 1];
        LinkList *l = userdata;
        TopoXdpMode mode;
        uint32_t prog_id;
        char *kind;
        bool native;
        int r;

        if (h->nlmsg_type != RTM_NEWLINK || l->error < 0)
                return NL_SKIP;
        r = nlmsg_parse(h, sizeof(struct ifinfomsg), tb, IFLA_MAX, link_policy);
        if (r < 0 || !tb[IFLA_IFNAME]) {
                log_debug_errno(topo_rtnl_errno(r ?: -NLE_MISSING_ATTR), "Skipping a malformed RTM_NEWLINK: %m");
                return NL_SKIP;
        }
        r = link_kind(tb[IFLA_LINKINFO], &kind);
        if (r < 0) {
                l->error = r;
                return NL_SKIP;
        }
        parse_xdp(tb[IFLA_XDP], &mode, &prog_id, &native);
        r = link_list_add(l, nla_strdup(tb[IFLA_IFNAME]), kind, mode, prog_id, native);
        if (r < 0)
                l->error = r;
        return NL_OK;
}

static void nl_socket_freep(struct nl_sock **s) {
        nl_socket_free(*s); /* accepts NULL */
}

static int dump_once(LinkList *l) {
        _cleanup_(nl_socket_freep) struct nl_sock *sock = NULL;
        struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
        int r;

        sock = nl_socket_alloc();
        if (!sock)
                return -ENOMEM;
        r = nl_connect(sock, NETLINK_ROUTE);
        if (r >= 0)
                r = nl_socket_modify_cb(sock, NL_CB_VALID, NL_CB_CUSTOM, on_dump_link, l);
        if (r >= 0)
                r = nl_send_simple(sock, RTM_GETLINK, NLM_F_DUMP, &ifi, sizeof ifi);
        if (r >= 0)
                r = nl_recvmsgs_default(sock);
        if (r < 0)
                return topo_rtnl_errno(r);
        return l->error;
}

static int dump_links(TopoLink **ret, size_t *ret_n) {
        LinkList l = {};
        int r = -EINTR;

        for (unsigned i = 0; i < DUMP_TRIES && r == -EINTR; i++) {
                link_list_done(&l);
                r = dump_once(&l);
        }
        if (r < 0) {
                link_list_done(&l);
                return r;
        }
        *ret = l.links;
        *ret_n = l.n;
        return 0;
}

/* ---- the fixture stand-in ---- */

/* "NAME KIND MODE PROG_ID" ("-" for no kind); '#' starts a comment line. */
static int parse_fixture_line(const char *line, LinkList *l) {
        char name[256], kind[64], mode_name[16], *kind_copy = NULL;
        unsigned long prog_id;
        int mode;

        if (sscanf(line, "%255s %63s %15s %lu", name, kind, mode_name, &prog_id) != 4 || prog_id > UINT32_MAX)
                return -EINVAL;
        mode = topo_xdp_mode_from_string(mode_name);
        if (mode < 0)
                return mode;
        if (strcmp(kind, "-") != 0) {
                kind_copy = strdup(kind);
                if (!kind_copy)
                        return -ENOMEM;
        }
        return link_list_add(l, strdup(name), kind_copy, (TopoXdpMode) mode, (uint32_t) prog_id,
                             mode == TOPO_XDP_DRIVER);
}

static int fixture_links(const char *root, TopoLink **ret, size_t *ret_n) {
        _cleanup_free_ char *text = NULL;
        LinkList l = {};
        size_t lineno = 0;
        int r;

        /* At most a page, like any file read below root: that bounds the list too. */
        r = detect_read_text_at(root, &text, "rtnetlink/links");
        if (r < 0)
                return r;
        for (char *line = text, *next; line; line = next) {
                const char *start;

                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                lineno++;
                start = line + strspn(line, " \t");
                if (*start == '\0' || *start == '#')
                        continue;
                r = parse_fixture_line(start, &l);
                if (r < 0) {
                        if (r != -ENOMEM)
                                log_debug("rtnetlink/links:%zu is malformed, ignoring the file.", lineno);
                        link_list_done(&l);
                        return r;
                }
        }
        *ret = l.links;
        *ret_n = l.n;
        return 0;
}

int topo_rtnl_links(const char *root, TopoLink **ret, size_t *ret_n) {
        *ret = NULL;
        *ret_n = 0;
        return topo_root_is_live(root) ? dump_links(ret, ret_n) : fixture_links(root, ret, ret_n);
}

/* ---- the link watch ---- */

static void watch_schedule(TopoWatch *w) {
        int enabled = SD_EVENT_OFF;

        (void) sd_event_source_get_enabled(w->timer, &enabled);
        if (enabled != SD_EVENT_OFF)
                return; /* already due: this message is part of the same burst */
        (void) sd_event_source_set_time_relative(w->timer, w->delay_usec);
        (void) sd_event_source_set_enabled(w->timer, SD_EVENT_ONESHOT);
}

static int on_watch_msg(struct nl_msg *msg, void *userdata) {
        TopoWatch *w = userdata;
        uint16_t type = nlmsg_hdr(msg)->nlmsg_type;

        /* What changed does not matter beyond its kind: the whole topology is read again. */
        if (type == RTM_NEWADDR || type == RTM_DELADDR) {
                w->burst.addresses++;
                w->total.addresses++;
        } else {
                w->burst.links++;
                w->total.links++;
        }
        return NL_OK;
}

static int on_watch_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        TopoWatch *w = userdata;
        int r;

        r = nl_recvmsgs_default(w->sock);
        if (r < 0 && r != -NLE_AGAIN)
                /* ENOBUFS (an overrun, as NLE_NOMEM) lost events: re-reading covers them too. */
                log_debug_errno(topo_rtnl_errno(r), "Receiving rtnetlink link events failed, re-reading anyway: %m");
        watch_schedule(w);
        return 0;
}

static int on_watch_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        TopoWatch *w = userdata;
        TopoWatchCounts burst = w->burst;

        w->burst = (TopoWatchCounts) {};
        w->fn(w->userdata, &burst);
        return 0;
}

TopoWatchCounts topo_watch_counts(const TopoWatch *w) {
        return w ? w->total : (TopoWatchCounts) {};
}

TopoWatch *topo_watch_free(TopoWatch *w) {
        if (!w)
                return NULL;
        sd_event_source_disable_unref(w->io);
        sd_event_source_disable_unref(w->timer);
        nl_socket_free(w->sock);
        free(w);
        return NULL;
}

static inline void topo_watch_freep(TopoWatch **w) {
        topo_watch_free(*w);
}

static int watch_socket(TopoWatch *w) {
        int r;

        w->sock = nl_socket_alloc();
        if (!w->sock)
                return -ENOMEM;
        /* Multicast notifications carry no sequence numbers of ours. */
        nl_socket_disable_seq_check(w->sock);
        r = nl_socket_modify_cb(w->sock, NL_CB_VALID, NL_CB_CUSTOM, on_watch_msg, w);
        if (r >= 0)
                r = nl_connect(w->sock, NETLINK_ROUTE);
        if (r >= 0)
                r = nl_socket_add_memberships(w->sock, RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, 0);
        /* A kernel without IPv6 has no such group: links and IPv4 addresses are still followed. */
        if (r >= 0 && nl_socket_add_membership(w->sock, RTNLGRP_IPV6_IFADDR) < 0)
                log_debug("Cannot subscribe to IPv6 address changes, ignoring.");
        if (r >= 0)
                r = nl_socket_set_nonblocking(w->sock);
        if (r >= 0 && nl_socket_set_buffer_size(w->sock, WATCH_RCVBUF, 0) < 0)
                log_debug("Cannot enlarge the rtnetlink receive buffer, ignoring.");
        return topo_rtnl_errno(r < 0 ? r : 0);
}

int topo_watch_new(sd_event *event, uint64_t delay_usec, TopoWatchFn fn, void *userdata, TopoWatch **ret) {
        _cleanup_(topo_watch_freep) TopoWatch *w = NULL;
        int r;

        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        *w = (TopoWatch) { .delay_usec = delay_usec, .fn = fn, .userdata = userdata };
        r = watch_socket(w);
        if (r < 0)
                return r;
        r = sd_event_add_io(event, &w->io, nl_socket_get_fd(w->sock), EPOLLIN, on_watch_io, w);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(w->io, "rtnl-link");
        r = sd_event_add_time_relative(event, &w->timer, CLOCK_MONOTONIC, delay_usec, delay_usec / 10, on_watch_timer,
                                       w);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(w->timer, "rtnl-link-debounce");
        r = sd_event_source_set_enabled(w->timer, SD_EVENT_OFF);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(w);
        return 0;
}
