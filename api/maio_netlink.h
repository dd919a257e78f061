/* SPDX-License-Identifier: LGPL-2.1-or-later WITH Linux-syscall-note */
/* maiod's netlink API (NETLINK_USERSOCK): the port id, the header after nlmsghdr, one command per
 * operation and the attributes. UAPI style: only linux/types.h types. See api/netlink.md. */
#ifndef _MAIO_NETLINK_H
#define _MAIO_NETLINK_H

#include <linux/types.h>

/* The port id maiod binds by default ("MAIO"): above the pid range (pid_max <= 4194304), so no
 * autobound socket can hold it. [api] netlink_port changes it. */
#define MAIO_NL_PORT 0x4d41494fU
#define MAIO_NL_VERSION 1

/* Every request and reply has this nlmsg_type (replies may also be NLMSG_ERROR or NLMSG_DONE). */
#define MAIO_NL_MSG 0x10

/* After struct nlmsghdr; attributes follow. */
struct maio_nlhdr {
        __u8 cmd;       /* enum maio_cmd */
        __u8 version;   /* MAIO_NL_VERSION */
        __u16 reserved; /* 0 */
};

/* One command per operation of the ops table (daemon/api/ops.c names each row's command), then the
 * netlink-only commands of notifications. Stable numbers, never reused. Health and version are
 * public. */
enum maio_cmd {
        MAIO_CMD_UNSPEC = 0,
        MAIO_CMD_HEALTH = 1,
        MAIO_CMD_VERSION = 2,
        MAIO_CMD_STATUS = 3,
        MAIO_CMD_METRICS = 4,
        MAIO_CMD_TENANTS_LIST = 5,
        MAIO_CMD_TENANTS_CREATE = 6,
        MAIO_CMD_TENANTS_GET = 7,
        MAIO_CMD_TENANTS_UPDATE = 8,
        MAIO_CMD_TENANTS_DELETE = 9,
        MAIO_CMD_TENANTS_EVENTS = 10,
        MAIO_CMD_EVENTS_LIST = 11,
        MAIO_CMD_KNOBS_LIST = 12,
        MAIO_CMD_KNOBS_RESTORE_ALL = 13,
        MAIO_CMD_KNOBS_GET = 14,
        MAIO_CMD_KNOBS_SET = 15,
        MAIO_CMD_KNOBS_RESTORE = 16,
        MAIO_CMD_TOPOLOGY = 17,
        MAIO_CMD_MAIO_LIST = 18,
        MAIO_CMD_MAIO_GRANT = 19,
        MAIO_CMD_MAIO_RELEASE = 20,
        MAIO_CMD_TIERING_THRESHOLDS = 21,
        MAIO_CMD_TIERING_FEEDBACK = 22,
        MAIO_CMD_TIERING_POLICY = 23,
        MAIO_CMD_TIERING_POLICY_SET = 24,
        MAIO_CMD_MODELS_GET = 25,
        MAIO_CMD_MODELS_IMPORT = 26,
        /* Netlink-only commands (no REST route), api/netlink.md "Notifications". A request; optional
         * MAIO_ATTR_ID = one tenant (else: all the caller's tenants, an administrator's: all). */
        MAIO_CMD_NOTIFY_SUBSCRIBE = 27,
        /* A request; the same attributes; no MAIO_ATTR_ID = every subscription of this port id. */
        MAIO_CMD_NOTIFY_UNSUBSCRIBE = 28,
        /* Sent by maiod, unsolicited: nlmsg_seq 0, nlmsg_pid = maiod's port id. */
        MAIO_CMD_NOTIFICATION = 29,
        MAIO_CMD_MFLOW_GET = 30,
        MAIO_CMD_MFLOW_SET = 31,
        MAIO_CMD_FLOWS_LIST = 32,
        MAIO_CMD_SCHEDULER = 33,
        MAIO_CMD_ALLOCATIONS = 34,
        MAIO_CMD_TIERING_POLICY_UPDATE = 35,
        __MAIO_CMD_MAX,
};

/* Attributes. 1..MAIO_ATTR_FIELD_MAX are the request fields of the command's operation, numbered
 * by the stable ids the ops table declares for them (api/netlink.md lists them per command):
 *   string, enum word, knob value, JSON document: NUL-terminated string (the value may not hold a NUL);
 *   integer: __s64; number: IEEE 754 double (8 bytes); boolean: __u8 0 or 1.
 * The others: */
#define MAIO_ATTR_FIELD_MAX 63
enum maio_attr {
        MAIO_ATTR_UNSPEC = 0,
        MAIO_ATTR_ID = 64,     /* __s64: the operation's {id} (tenant or model), > 0; a notification's tenant */
        MAIO_ATTR_NAME = 65,   /* string: the operation's {name} (a knob) */
        MAIO_ATTR_JSON = 66,   /* reply: string, a part of the reply's JSON document (parts concatenate);
                                * notification: string, the event's JSON object */
        MAIO_ATTR_STATUS = 67, /* reply: __u16, the HTTP status the REST API would answer */
        MAIO_ATTR_EVENT = 68,  /* notification: string, the event kind */
        /* notification: __u32, notifications to this subscriber dropped since the previous one it
         * was delivered (absent = 0) */
        MAIO_ATTR_LOST = 69,
        __MAIO_ATTR_MAX,
};

/* Largest request message accepted (header included), and the most JSON bytes one reply part holds. */
#define MAIO_NL_REQUEST_MAX 65536
#define MAIO_NL_PART_MAX 32768

#endif
