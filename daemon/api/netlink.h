/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Netlink transport (NETLINK_USERSOCK, api/maio_netlink.h): the second thin transport over the
 * ops table. Identity from SCM_CREDENTIALS, strict attribute decoding into the op's declared fields,
 * replies as MAIO_NL_MSG messages or NLMSG_ERROR with an extended-ACK message. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>
#include <systemd/sd-event.h>

#include "http.h"
#include "notify.h"
#include "ops.h"
#include "subscriptions.h"

typedef struct NetlinkServer NetlinkServer;

typedef struct NetlinkStats {
        uint64_t requests_total;        /* messages answered */
        uint64_t errors_total;          /* of which with an error */
        uint64_t overruns_total;        /* the kernel dropped datagrams for maiod (ENOBUFS) */
        uint64_t replies_dropped_total; /* a peer's buffer was full or the peer was gone */
        SubscriptionStats notify;       /* notifications */
} NetlinkStats;

/* A command without an op of the table (api/maio_netlink.h): the notifications'. */
typedef struct NetlinkCommand {
        uint8_t cmd;
        const char *name; /* "notify.subscribe" */
        bool request;     /* a client sends it (else maiod does: MAIO_CMD_NOTIFICATION) */
} NetlinkCommand;

/* The netlink-only commands, for docs and the spec test. Never NULL. */
const NetlinkCommand *netlink_commands(size_t *ret_n);

/* What the server runs requests with; all borrowed and alive until it is freed. */
typedef struct NetlinkContext {
        const Ops *ops;
        const HttpConf *conf;                   /* the admin group */
        const SubscriptionsConf *subscriptions; /* their limits */
        NetlinkStats *stats;
} NetlinkContext;

/* Binds NETLINK_USERSOCK port id `port` with SO_PASSCRED and a receive buffer of rcvbuf bytes and
 * serves it from event. Returns 0, -EADDRINUSE when another socket holds the port id, or -errno. */
int netlink_server_new(sd_event *event, const NetlinkContext *ctx, uint32_t port, unsigned rcvbuf, NetlinkServer **ret);
/* Accepts NULL; returns NULL. */
NetlinkServer *netlink_server_free(NetlinkServer *s);
static inline void netlink_server_freep(NetlinkServer **s) {
        netlink_server_free(*s);
}

/* Where modules announce events for s's subscribers (notify.h); valid until s is freed. */
Notifier netlink_server_notifier(NetlinkServer *s);
/* Status of the notifications for who (subscriptions_to_json()). NULL on OOM. */
json_object *netlink_server_notifications_to_json(NetlinkServer *s, const Identity *who);

/* The netlink counters (a MetricsWriteFn over NetlinkStats). */
void netlink_stats_metrics_write(void *userdata, FILE *f);

/* Decodes one request message (pure: no I/O). len is what the datagram holds from nlh on.
 * Returns 0 with the op, its path parameters and a new body object (NULL for an op without body
 * fields); for a netlink-only request (the header's cmd is one of netlink_commands()) the op is
 * NULL and its optional MAIO_ATTR_ID is in ids[0] (0 when absent); or a negative errno with a message in err: -EINVAL
 * malformed (lengths, attributes, strings, duplicates), -EPROTO wrong version, -EOPNOTSUPP unknown command, -EMSGSIZE
 * too large. */
int netlink_decode(const void *nlh, size_t len, unsigned json_max_depth, const Op **ret_op, OpParams *ret_params,
                   json_object **ret_body, char *err, size_t err_size);
