/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Netlink transport over NETLINK_USERSOCK: datagrams in the sd_event loop, identity from
 * SCM_CREDENTIALS (admin groups read through a pidfd), strict decoding of the maio header and
 * attributes into the op's declared fields, replies as JSON parts or NLMSG_ERROR + extended ACK. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/netlink.h>

#include "log.h"
#include "maio_netlink.h"
#include "metrics.h"
#include "netlink-internal.h"
#include "netlink.h"
#include "tenants.h"
#include "time-util.h"

/* Fairness: each wakeup drains up to NETLINK_READ_MAX datagrams into per-peer queues (a peer holds
 * at most NETLINK_PEER_QUEUE; beyond that it is told -EBUSY at once), then serves at most
 * NETLINK_SERVE_MAX of them, one per peer per round, so a flooding peer delays another peer by a
 * round, not by its backlog; the rest is served on the next loop iterations. */
#define NETLINK_READ_MAX 8192
#define NETLINK_SERVE_MAX 64
#define NETLINK_PEER_QUEUE 1024
#define NETLINK_PEERS_MAX 1024
/* A peer whose receive buffer was full is not sent to for this long (its replies are dropped and
 * counted without a system call), so a flooding peer that does not read costs little. */
#define NETLINK_CONGESTED_USEC (20 * 1000)
#define NETLINK_CONGESTED_MAX 16
#define NETLINK_MAX_GROUPS IDENTITY_MAX_GROUPS
#define NETLINK_HDR_LEN (NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct maio_nlhdr)))

typedef struct NlItem {
        struct NlItem *next;
        uint32_t portid;
        struct ucred cred;
        bool truncated;
        size_t len;
        uint8_t data[];
} NlItem;

typedef struct NlPeer {
        uint32_t portid;
        NlItem *head, *tail;
        unsigned n;
} NlPeer;

struct NetlinkServer {
        NetlinkContext ctx;
        int fd;
        uint32_t port;
        Subscriptions *subscriptions; /* notifications, sent from fd */
        sd_event_source *io;
        sd_event_source *serve;          /* defer source: more queued than one turn serves */
        NlPeer peers[NETLINK_PEERS_MAX]; /* peers with queued requests, [0, n_peers) */
        size_t n_peers;
        size_t next_peer; /* round robin position */
        struct {
                uint32_t portid;
                uint64_t until_usec;
        } congested[NETLINK_CONGESTED_MAX]; /* peers recently found with a full buffer */
        uint64_t overrun_logged_usec;       /* rate limit of the ENOBUFS log line */
        uint8_t buf[MAIO_NL_REQUEST_MAX + 4096];
};

void netlink_stats_metrics_write(void *userdata, FILE *f) {
        const NetlinkStats *st = userdata;

        metrics_u64(f, "maiod_netlink_requests_total", "counter", "Netlink requests answered.", st->requests_total);
        metrics_u64(f, "maiod_netlink_errors_total", "counter", "Netlink requests answered with an error.",
                    st->errors_total);
        metrics_u64(f, "maiod_netlink_overruns_total", "counter",
                    "Times the kernel dropped netlink datagrams for maiod (receive buffer full).", st->overruns_total);
        metrics_u64(f, "maiod_netlink_replies_dropped_total", "counter",
                    "Netlink replies dropped because the peer's buffer was full or the peer was gone.",
                    st->replies_dropped_total);
        metrics_u64(f, "maiod_netlink_subscriptions", "gauge", "Netlink notification subscriptions.",
                    st->notify.subscriptions);
        metrics_u64(f, "maiod_netlink_notifications_sent_total", "counter", "Netlink notifications delivered.",
                    st->notify.sent_total);
        metrics_u64(f, "maiod_netlink_notifications_lost_total", "counter",
                    "Netlink notifications dropped because the subscriber's receive buffer was full.",
                    st->notify.lost_total);
}

/* The netlink-only commands: no op of the table serves them. */
/* clang-format off */
static const NetlinkCommand netlink_only[] = {
        { MAIO_CMD_NOTIFY_SUBSCRIBE,   "notify.subscribe",   true },
        { MAIO_CMD_NOTIFY_UNSUBSCRIBE, "notify.unsubscribe", true },
        { MAIO_CMD_NOTIFICATION,       "notification",       false },
};
/* clang-format on */

const NetlinkCommand *netlink_commands(size_t *ret_n) {
        *ret_n = ELEMENTSOF(netlink_only);
        return netlink_only;
}

static const NetlinkCommand *netlink_command(unsigned cmd) {
        for (size_t i = 0; i < ELEMENTSOF(netlink_only); i++)
                if (netlink_only[i].cmd == cmd)
                        return &netlink_only[i];
        return NULL;
}

/* ---- decoding (pure) ---- */

_printf_(3, 4) static int fail(char *err, size_t size, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        vsnprintf(err, size, format, ap);
        va_end(ap);
        return -EINVAL;
}

static const Field *field_of(const Op *op, unsigned id) {
        for (size_t i = 0; op->body && i < op->body->n; i++)
                if (op->body->fields[i].id == id)
                        return &op->body->fields[i];
        return NULL;
}

/* A string attribute: NUL-terminated, no NUL before the end. */
static int attr_string(const struct nlattr *a, const char **ret) {
        const char *s = (const char *) a + NLA_HDRLEN;
        size_t n = a->nla_len - NLA_HDRLEN;

        if (n == 0 || s[n - 1] != '\0' || strlen(s) != n - 1)
                return -EINVAL;
        *ret = s;
        return 0;
}

/* One field attribute into its JSON member (the decoder of the ops table checks ranges). */
static int attr_field(const Field *f, const struct nlattr *a, unsigned json_max_depth, json_object **ret, char *err,
                      size_t err_size) {
        const void *p = (const uint8_t *) a + NLA_HDRLEN;
        size_t n = a->nla_len - NLA_HDRLEN;
        const char *s;
        int64_t i;
        double d;

        switch (f->type) {
        case FIELD_INT:
                if (n != sizeof i)
                        return fail(err, err_size, "Attribute %u (%s) must be 8 bytes (__s64)", f->id, f->name);
                memcpy(&i, p, sizeof i);
                *ret = json_object_new_int64(i);
                break;
        case FIELD_DOUBLE:
                if (n != sizeof d)
                        return fail(err, err_size, "Attribute %u (%s) must be 8 bytes (double)", f->id, f->name);
                memcpy(&d, p, sizeof d);
                if (!isfinite(d))
                        return fail(err, err_size, "Attribute %u (%s) must be a finite number", f->id, f->name);
                *ret = json_object_new_double(d);
                break;
        case FIELD_BOOL:
                if (n != 1 || *(const uint8_t *) p > 1)
                        return fail(err, err_size, "Attribute %u (%s) must be one byte, 0 or 1", f->id, f->name);
                *ret = json_object_new_boolean(*(const uint8_t *) p);
                break;
        case FIELD_JSON: {
                json_tokener *tok;

                if (attr_string(a, &s) < 0)
                        return fail(err, err_size, "Attribute %u (%s) must be a NUL-terminated string", f->id, f->name);
                tok = json_tokener_new_ex((int) json_max_depth + 1);
                if (!tok)
                        return -ENOMEM;
                *ret = json_tokener_parse_ex(tok, s, (int) strlen(s) + 1);
                i = json_tokener_get_error(tok) != json_tokener_success;
                json_tokener_free(tok);
                if (i) {
                        json_object_put(*ret);
                        return fail(err, err_size, "Attribute %u (%s) must hold one JSON document", f->id, f->name);
                }
                if (!*ret) /* JSON null */
                        return 0;
                break;
        }
        default: /* strings, enum words and knob values */
                if (attr_string(a, &s) < 0)
                        return fail(err, err_size, "Attribute %u (%s) must be a NUL-terminated string", f->id, f->name);
                *ret = json_object_new_string(s);
                break;
        }
        return *ret ? 0 : -ENOMEM;
}

/* MAIO_ATTR_ID: an __s64 > 0. */
static int attr_id(const struct nlattr *a, int64_t *ret, char *err, size_t err_size) {
        int64_t id;

        if (a->nla_len != NLA_HDRLEN + sizeof id)
                return fail(err, err_size, "MAIO_ATTR_ID must be 8 bytes (__s64)");
        memcpy(&id, (const uint8_t *) a + NLA_HDRLEN, sizeof id);
        if (id <= 0)
                return fail(err, err_size, "MAIO_ATTR_ID must be a positive identifier");
        *ret = id;
        return 0;
}

/* The path parameters as attributes: MAIO_ATTR_ID for {id}, MAIO_ATTR_NAME for {name}. */
static int attr_param(const Op *op, const struct nlattr *a, OpParams *params, bool *seen, char *err, size_t err_size) {
        const char *s;
        int r;

        if (a->nla_type == MAIO_ATTR_ID && strstr(op->path, "{id}")) {
                r = attr_id(a, &params->ids[0], err, err_size);
                if (r < 0)
                        return r;
        } else if (a->nla_type == MAIO_ATTR_NAME && strstr(op->path, "{name}")) {
                if (attr_string(a, &s) < 0 || ops_param_name(s, strlen(s), params) < 0)
                        return fail(err, err_size, "MAIO_ATTR_NAME must be 1-%d characters of A-Z a-z 0-9 . _ -",
                                    OP_NAME_MAX);
        } else
                return fail(err, err_size, "Attribute %u is not one of %s's", a->nla_type, op->name);
        *seen = true;
        return 0;
}

/* A netlink-only request's attributes: at most one MAIO_ATTR_ID, into params->ids[0]. */
static int decode_command_attrs(const NetlinkCommand *c, const uint8_t *p, size_t n, OpParams *params, char *err,
                                size_t err_size) {
        while (n > 0) {
                const struct nlattr *a = (const struct nlattr *) p;
                int r;

                if (n < NLA_HDRLEN || a->nla_len < NLA_HDRLEN || a->nla_len > n)
                        return fail(err, err_size, "Attribute runs past the end of the message");
                if (a->nla_type != MAIO_ATTR_ID)
                        return fail(err, err_size, "Attribute %u is not one of %s's", a->nla_type, c->name);
                if (params->ids[0] != 0)
                        return fail(err, err_size, "Attribute %u given twice", a->nla_type);
                r = attr_id(a, &params->ids[0], err, err_size);
                if (r < 0)
                        return r;
                if ((size_t) NLA_ALIGN(a->nla_len) >= n)
                        break;
                p += NLA_ALIGN(a->nla_len);
                n -= NLA_ALIGN(a->nla_len);
        }
        return 0;
}

/* Walks the attributes after the headers into params and body. */
static int decode_attrs(const Op *op, const uint8_t *p, size_t n, unsigned json_max_depth, OpParams *params,
                        json_object *body, char *err, size_t err_size) {
        bool seen_id = false, seen_name = false;
        uint64_t seen_fields = 0;

        while (n > 0) {
                const struct nlattr *a = (const struct nlattr *) p;
                const Field *f;
                json_object *v = NULL;
                int r;

                if (n < NLA_HDRLEN || a->nla_len < NLA_HDRLEN || a->nla_len > n)
                        return fail(err, err_size, "Attribute runs past the end of the message");
                if (a->nla_type & (NLA_F_NESTED | NLA_F_NET_BYTEORDER))
                        return fail(err, err_size, "Attribute %u: nested or net-byte-order attributes are not used",
                                    a->nla_type & NLA_TYPE_MASK);
                if (a->nla_type >= 1 && a->nla_type <= MAIO_ATTR_FIELD_MAX) {
                        f = field_of(op, a->nla_type);
                        if (!f)
                                return fail(err, err_size, "Attribute %u is not a field of %s", a->nla_type, op->name);
                        if (seen_fields & (UINT64_C(1) << a->nla_type))
                                return fail(err, err_size, "Attribute %u (%s) given twice", a->nla_type, f->name);
                        seen_fields |= UINT64_C(1) << a->nla_type;
                        r = attr_field(f, a, json_max_depth, &v, err, err_size);
                        if (r < 0)
                                return r;
                        json_object_object_add(body, f->name, v);
                } else {
                        bool *seen = a->nla_type == MAIO_ATTR_ID ? &seen_id : &seen_name;

                        if (*seen)
                                return fail(err, err_size, "Attribute %u given twice", a->nla_type);
                        r = attr_param(op, a, params, seen, err, err_size);
                        if (r < 0)
                                return r;
                }
                if ((size_t) NLA_ALIGN(a->nla_len) >= n)
                        break;
                p += NLA_ALIGN(a->nla_len);
                n -= NLA_ALIGN(a->nla_len);
        }
        if (strstr(op->path, "{id}") && !seen_id)
                return fail(err, err_size, "%s needs MAIO_ATTR_ID", op->name);
        if (strstr(op->path, "{name}") && !seen_name)
                return fail(err, err_size, "%s needs MAIO_ATTR_NAME", op->name);
        return 0;
}

int netlink_decode(const void *msg, size_t len, unsigned json_max_depth, const Op **ret_op, OpParams *ret_params,
                   json_object **ret_body, char *err, size_t err_size) {
        const struct nlmsghdr *nlh = msg;
        const struct maio_nlhdr *mh;
        _cleanup_(json_object_putp) json_object *body = NULL;
        OpParams params = {};
        const Op *op;
        int r;

        if (len < NLMSG_HDRLEN || nlh->nlmsg_len < NLMSG_HDRLEN || nlh->nlmsg_len > len)
                return fail(err, err_size, "Truncated message: nlmsg_len does not fit the datagram");
        if (nlh->nlmsg_len > MAIO_NL_REQUEST_MAX) {
                op = nlh->nlmsg_len >= NETLINK_HDR_LEN ? ops_by_cmd(((const struct maio_nlhdr *) NLMSG_DATA(nlh))->cmd)
                                                       : NULL;
                if (op)
                        snprintf(err, err_size, "Message over %u bytes; send %s over REST (%s %s)", MAIO_NL_REQUEST_MAX,
                                 op->name, op->method, op->path);
                else
                        snprintf(err, err_size, "Message over %u bytes; large documents go over REST",
                                 MAIO_NL_REQUEST_MAX);
                return -EMSGSIZE;
        }
        if (nlh->nlmsg_type != MAIO_NL_MSG)
                return fail(err, err_size, "Unknown message type %u", nlh->nlmsg_type);
        if (nlh->nlmsg_len < NETLINK_HDR_LEN)
                return fail(err, err_size, "Truncated message: no maio header");
        mh = (const struct maio_nlhdr *) NLMSG_DATA(nlh);
        if (mh->version != MAIO_NL_VERSION || mh->reserved != 0) {
                snprintf(err, err_size, "Unsupported protocol version %u (this maiod speaks %u)", mh->version,
                         MAIO_NL_VERSION);
                return -EPROTO;
        }
        op = mh->cmd != MAIO_CMD_UNSPEC ? ops_by_cmd(mh->cmd) : NULL;
        if (!op) {
                const NetlinkCommand *c = netlink_command(mh->cmd);

                if (c && !c->request) {
                        snprintf(err, err_size, "Command %u (%s) is sent by maiod, not a request", c->cmd, c->name);
                        return -EOPNOTSUPP;
                }
                if (!c) {
                        snprintf(err, err_size, "Unknown command %u", mh->cmd);
                        return -EOPNOTSUPP;
                }
                r = decode_command_attrs(c, (const uint8_t *) nlh + NETLINK_HDR_LEN, nlh->nlmsg_len - NETLINK_HDR_LEN,
                                         &params, err, err_size);
                if (r < 0)
                        return r;
                *ret_op = NULL;
                *ret_params = params;
                *ret_body = NULL;
                return 0;
        }
        body = json_object_new_object();
        if (!body)
                return -ENOMEM;
        r = decode_attrs(op, (const uint8_t *) nlh + NETLINK_HDR_LEN, nlh->nlmsg_len - NETLINK_HDR_LEN, json_max_depth,
                         &params, body, err, err_size);
        if (r < 0)
                return r;
        *ret_op = op;
        *ret_params = params;
        *ret_body = op->body ? TAKE_PTR(body) : NULL;
        return 0;
}

/* ---- identity ---- */

int nl_peer_pidfd(pid_t pid, uid_t uid, gid_t *groups, size_t max, size_t *ret_n) {
        _cleanup_close_ int pidfd = -EBADF;
        _cleanup_fclose_ FILE *f = NULL;
        char path[64], line[1024];
        size_t n = 0;
        bool uid_ok = false;

        if (pid <= 0)
                return -ESRCH;
        pidfd = pidfd_open(pid, 0);
        if (pidfd < 0)
                return errno == ENOMEM ? -ENOMEM : -ESRCH;
        snprintf(path, sizeof path, "/proc/%d/status", (int) pid);
        f = fopen(path, "re");
        while (f && fgets(line, sizeof line, f)) {
                unsigned long v;
                char *p, *end;

                if (strncmp(line, "Uid:", 4) == 0)
                        uid_ok = strtoul(line + 4, NULL, 10) == uid;
                else if (strncmp(line, "Groups:", 7) == 0)
                        for (p = line + 7; groups && n < max; p = end) {
                                v = strtoul(p, &end, 10);
                                if (end == p)
                                        break;
                                groups[n++] = (gid_t) v;
                        }
        }
        if (!uid_ok || nl_pidfd_exited(pidfd))
                return -ESRCH; /* exited (or unreadable) meanwhile: what was read may be another process's */
        if (ret_n)
                *ret_n = n;
        return TAKE_FD(pidfd);
}

bool nl_pidfd_exited(int pidfd) {
        return poll(&(struct pollfd) { .fd = pidfd, .events = POLLIN }, 1, 0) != 0;
}

/* Supplementary groups of pid, if it still is the process that sent with uid (none otherwise). */
static size_t peer_groups(pid_t pid, uid_t uid, gid_t *groups, size_t max) {
        size_t n = 0;
        int fd = nl_peer_pidfd(pid, uid, groups, max, &n);

        if (fd < 0)
                return 0;
        safe_close(fd);
        return n;
}

static Identity identity_of(const NetlinkServer *s, const struct ucred *cred) {
        gid_t groups[NETLINK_MAX_GROUPS];
        size_t n = 0;
        Identity id;

        if (cred->uid != 0 && (s->ctx.conf->have_admin_gid || s->ctx.conf->need_groups))
                n = peer_groups(cred->pid, cred->uid, groups, NETLINK_MAX_GROUPS);
        id = (Identity) {
                .kind = IDENTITY_PEER,
                .uid = cred->uid,
                .gid = cred->gid,
                .pid = cred->pid,
                .admin = http_is_admin(s->ctx.conf, cred->uid, cred->gid, groups, n),
                .n_groups = (unsigned) n,
        };
        memcpy(id.groups, groups, n * sizeof(gid_t));
        return id;
}

/* ---- replies ---- */

static void send_to(NetlinkServer *s, uint32_t portid, const void *buf, size_t len) {
        struct sockaddr_nl to = { .nl_family = AF_NETLINK, .nl_pid = portid };
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        size_t slot = portid % NETLINK_CONGESTED_MAX;

        if (s->congested[slot].portid == portid && now < s->congested[slot].until_usec) {
                s->ctx.stats->replies_dropped_total++;
                return;
        }
        if (sendto(s->fd, buf, len, MSG_DONTWAIT, (struct sockaddr *) &to, sizeof to) < 0) {
                s->ctx.stats->replies_dropped_total++;
                log_debug_errno(errno, "Netlink reply to port %" PRIu32 " dropped: %m", portid);
                if (errno == EAGAIN || errno == ENOBUFS) {
                        s->congested[slot].portid = portid;
                        s->congested[slot].until_usec = now + NETLINK_CONGESTED_USEC;
                }
        }
}

/* NLMSG_ERROR for req with error (0: an ACK) and, for an error, the extended-ACK message. */
static void send_error(NetlinkServer *s, uint32_t portid, const struct nlmsghdr *req, int error, const char *msg) {
        uint8_t buf[NLMSG_SPACE(sizeof(struct nlmsgerr)) + NLA_HDRLEN + NLA_ALIGN(REPLY_MESSAGE_MAX + 64)] = {};
        struct nlmsghdr *nlh = (struct nlmsghdr *) buf;
        struct nlmsgerr *e = NLMSG_DATA(nlh);
        size_t len = NLMSG_SPACE(sizeof *e);

        *nlh = (struct nlmsghdr) { .nlmsg_type = NLMSG_ERROR, .nlmsg_seq = req->nlmsg_seq, .nlmsg_pid = s->port };
        e->error = error;
        e->msg = *req; /* the header only: NLM_F_CAPPED */
        nlh->nlmsg_flags = NLM_F_CAPPED;
        if (error < 0 && msg && msg[0]) {
                len = nl_put_attr(buf, len, NLMSGERR_ATTR_MSG, msg, strnlen(msg, REPLY_MESSAGE_MAX + 63), true);
                nlh->nlmsg_flags |= NLM_F_ACK_TLVS;
        }
        nlh->nlmsg_len = (uint32_t) len;
        send_to(s, portid, buf, len);
}

/* One member of a typed reply as the attribute of its field at buf + len (room bytes left): a null
 * member as an empty attribute. Returns the new length, or 0 when it does not fit. */
static size_t put_typed(uint8_t *buf, size_t len, size_t room, const Field *f, json_object *v) {
        const char *str = NULL;
        int64_t i;
        double d;
        uint8_t b;

        if (!v)
                return len + NLA_HDRLEN <= room ? nl_put_attr(buf, len, f->id, "", 0, false) : 0;
        switch (f->type) {
        case FIELD_INT:
                i = json_object_get_int64(v);
                return len + NLA_HDRLEN + sizeof i <= room ? nl_put_attr(buf, len, f->id, &i, sizeof i, false) : 0;
        case FIELD_DOUBLE:
                /* The value REST prints (tierd_json_number rounds its text), not the unrounded double. */
                d = strtod(json_object_get_string(v), NULL);
                return len + NLA_HDRLEN + sizeof d <= room ? nl_put_attr(buf, len, f->id, &d, sizeof d, false) : 0;
        case FIELD_BOOL:
                b = json_object_get_boolean(v);
                return len + NLA_HDRLEN + 4 <= room ? nl_put_attr(buf, len, f->id, &b, sizeof b, false) : 0;
        case FIELD_JSON:
                str = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
                break;
        default:
                str = json_object_get_string(v);
                break;
        }
        if (!str || len + NLA_HDRLEN + NLA_ALIGN(strlen(str) + 1) > room || strlen(str) + 1 > UINT16_MAX - NLA_HDRLEN)
                return 0;
        return nl_put_attr(buf, len, f->id, str, strlen(str), true);
}

/* The reply of an op with typed reply fields: MAIO_ATTR_STATUS and one attribute per member of the
 * JSON document. Returns false (nothing sent) when a member is not declared or it does not fit one
 * message: the caller sends the JSON document instead. */
static bool send_typed(NetlinkServer *s, uint32_t portid, const struct nlmsghdr *req, const Op *op, const Reply *reply,
                       uint8_t *buf, size_t size) {
        struct nlmsghdr *nlh = (struct nlmsghdr *) buf;
        uint16_t status = (uint16_t) reply->status;
        size_t len = NETLINK_HDR_LEN;

        if (!op->reply || !reply->json || !json_object_is_type(reply->json, json_type_object))
                return false;
        *nlh = (struct nlmsghdr) { .nlmsg_type = MAIO_NL_MSG, .nlmsg_seq = req->nlmsg_seq, .nlmsg_pid = s->port };
        *(struct maio_nlhdr *) NLMSG_DATA(nlh) = (struct maio_nlhdr) { .cmd = op->cmd, .version = MAIO_NL_VERSION };
        len = nl_put_attr(buf, len, MAIO_ATTR_STATUS, &status, sizeof status, false);
        json_object_object_foreach(reply->json, key, v) {
                const Field *f = NULL;

                for (size_t k = 0; k < op->reply->n && !f; k++)
                        if (strcmp(op->reply->fields[k].name, key) == 0)
                                f = &op->reply->fields[k];
                if (!f || !(len = put_typed(buf, len, size, f, v))) {
                        log_debug("netlink %s: reply member %s has no typed attribute, sending JSON", op->name, key);
                        return false;
                }
        }
        nlh->nlmsg_len = (uint32_t) len;
        send_to(s, portid, buf, len);
        if (req->nlmsg_flags & NLM_F_ACK)
                send_error(s, portid, req, 0, NULL);
        return true;
}

/* The reply document in parts of at most MAIO_NL_PART_MAX bytes (each a NUL-terminated string);
 * more than one part makes a multi-part reply ending in NLMSG_DONE. Ops that declare typed reply
 * fields answer with attributes instead (send_typed); op is NULL for a netlink-only command. */
static void send_reply(NetlinkServer *s, uint32_t portid, const struct nlmsghdr *req, uint8_t cmd, const Op *op,
                       const Reply *reply) {
        static uint8_t buf[NETLINK_HDR_LEN + 2 * NLA_HDRLEN + 8 + NLA_ALIGN(MAIO_NL_PART_MAX + 1)];
        uint16_t status = (uint16_t) reply->status;
        const char *doc;
        size_t total, off = 0;
        bool multi;

        if (op && send_typed(s, portid, req, op, reply, buf, sizeof buf))
                return;
        doc = reply->json ? json_object_to_json_string_ext(reply->json,
                                                           JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
                          : reply->text;
        total = doc ? strlen(doc) : 0;
        multi = total > MAIO_NL_PART_MAX;
        do {
                struct nlmsghdr *nlh = (struct nlmsghdr *) buf;
                size_t part = total - off > MAIO_NL_PART_MAX ? MAIO_NL_PART_MAX : total - off, len = NETLINK_HDR_LEN;

                *nlh = (struct nlmsghdr) { .nlmsg_type = MAIO_NL_MSG,
                                           .nlmsg_flags = multi ? NLM_F_MULTI : 0,
                                           .nlmsg_seq = req->nlmsg_seq,
                                           .nlmsg_pid = s->port };
                *(struct maio_nlhdr *) NLMSG_DATA(nlh) = (struct maio_nlhdr) { .cmd = cmd, .version = MAIO_NL_VERSION };
                if (off == 0)
                        len = nl_put_attr(buf, len, MAIO_ATTR_STATUS, &status, sizeof status, false);
                if (doc) {
                        len = nl_put_attr(buf, len, MAIO_ATTR_JSON, doc + off, part, true);
                }
                nlh->nlmsg_len = (uint32_t) len;
                send_to(s, portid, buf, len);
                off += part;
        } while (off < total);
        if (multi) {
                struct nlmsghdr done = { .nlmsg_len = NLMSG_HDRLEN,
                                         .nlmsg_type = NLMSG_DONE,
                                         .nlmsg_flags = NLM_F_MULTI,
                                         .nlmsg_seq = req->nlmsg_seq,
                                         .nlmsg_pid = s->port };
                send_to(s, portid, &done, sizeof done);
        }
        if (req->nlmsg_flags & NLM_F_ACK)
                send_error(s, portid, req, 0, NULL);
}

/* ---- serving ---- */

/* notify.subscribe and notify.unsubscribe of portid, for tenant id (0: all). */
static int handle_subscription(NetlinkServer *s, uint8_t cmd, uint32_t portid, int64_t id, const Identity *who,
                               Reply *reply) {
        _cleanup_(tenant_done) Tenant t = {};
        int r;

        if (cmd == MAIO_CMD_NOTIFY_UNSUBSCRIBE)
                return subscriptions_remove(s->subscriptions, portid, who, id, reply);
        if (id > 0) { /* another uid's tenant does not exist, as over REST */
                r = tenants_get_visible(s->ctx.ops->tenants, who, id, &t);
                if (r == -ENOENT)
                        return reply_error(reply, REPLY_NOT_FOUND, "No tenant %" PRId64, id);
                if (r < 0)
                        return reply_errno(reply, r, NULL);
        }
        return subscriptions_add(s->subscriptions, portid, who, id, reply);
}

static void handle_message(NetlinkServer *s, const struct nlmsghdr *nlh, size_t len, uint32_t portid,
                           const Identity *who) {
        _cleanup_(json_object_putp) json_object *body = NULL;
        char err[REPLY_MESSAGE_MAX + 64] = "";
        Reply reply = {};
        OpParams params;
        const Op *op;
        uint8_t cmd;
        int r;

        s->ctx.stats->requests_total++;
        r = netlink_decode(nlh, len, s->ctx.ops->json_max_depth, &op, &params, &body, err, sizeof err);
        if (r < 0) {
                s->ctx.stats->errors_total++;
                send_error(s, portid, nlh, r, err);
                return;
        }
        cmd = op ? op->cmd : ((const struct maio_nlhdr *) NLMSG_DATA(nlh))->cmd;
        if (op)
                r = ops_call_object(s->ctx.ops, op, &params, who, body, &reply);
        else
                r = handle_subscription(s, cmd, portid, params.ids[0], who, &reply);
        if (r < 0 || reply.code != REPLY_OK) {
                s->ctx.stats->errors_total++;
                snprintf(err, sizeof err, "%s: %s", reply_error_to_string(reply.code), reply.message);
                send_error(s, portid, nlh, reply.error < 0 ? reply.error : -EIO, err);
        } else
                send_reply(s, portid, nlh, cmd, op, &reply);
        log_debug("netlink %s from port %" PRIu32 " uid %u -> %u", op ? op->name : netlink_command(cmd)->name, portid,
                  (unsigned) who->uid, reply.status);
        reply_done(&reply);
}

static void note_overrun(NetlinkServer *s) {
        uint64_t now = now_usec(CLOCK_MONOTONIC);

        s->ctx.stats->overruns_total++;
        if (now - s->overrun_logged_usec >= 10 * USEC_PER_SEC) {
                log_warning("The kernel dropped netlink requests for maiod (receive buffer full, %" PRIu64
                            " times so far); raise [api] netlink_rcvbuf if this persists.",
                            s->ctx.stats->overruns_total);
                s->overrun_logged_usec = now;
        }
}

/* One datagram: every message in it, answered in order. */
static void handle_datagram(NetlinkServer *s, size_t n, uint32_t portid, const struct ucred *cred, bool truncated) {
        Identity who = identity_of(s, cred);
        const struct nlmsghdr *nlh = (const struct nlmsghdr *) s->buf;

        if (truncated) {
                if (n >= NLMSG_HDRLEN)
                        send_error(s, portid, nlh, -EMSGSIZE, "Message too large; large documents go over REST");
                s->ctx.stats->errors_total++;
                return;
        }
        while (n >= NLMSG_HDRLEN) {
                size_t this = nlh->nlmsg_len < NLMSG_HDRLEN || nlh->nlmsg_len > n ? n : NLMSG_ALIGN(nlh->nlmsg_len);

                handle_message(s, nlh, n, portid, &who);
                if (this >= n)
                        break;
                n -= this;
                nlh = (const struct nlmsghdr *) ((const uint8_t *) nlh + this);
        }
}

static NlPeer *peer_find(NetlinkServer *s, uint32_t portid) {
        for (size_t i = 0; i < s->n_peers; i++)
                if (s->peers[i].portid == portid)
                        return &s->peers[i];
        if (s->n_peers >= NETLINK_PEERS_MAX)
                return NULL;
        s->peers[s->n_peers] = (NlPeer) { .portid = portid };
        return &s->peers[s->n_peers++];
}

/* Queues one datagram for its peer; a peer over its share is told -EBUSY now. */
static void enqueue(NetlinkServer *s, size_t n, uint32_t portid, const struct ucred *cred, bool truncated) {
        NlPeer *p = peer_find(s, portid);
        NlItem *it;

        if (!p || p->n >= NETLINK_PEER_QUEUE || !(it = malloc(sizeof *it + n))) {
                if (n >= NLMSG_HDRLEN) {
                        s->ctx.stats->requests_total++;
                        s->ctx.stats->errors_total++;
                        send_error(s, portid, (const struct nlmsghdr *) s->buf, -EBUSY,
                                   "Too many requests queued from this port id; wait for the replies");
                }
                return;
        }
        *it = (NlItem) { .portid = portid, .cred = *cred, .truncated = truncated, .len = n };
        memcpy(it->data, s->buf, n);
        if (p->tail)
                p->tail->next = it;
        else
                p->head = it;
        p->tail = it;
        p->n++;
}

/* Serves up to NETLINK_SERVE_MAX queued datagrams, one per peer per round. Returns whether any
 * remain. */
static bool serve(NetlinkServer *s) {
        unsigned served = 0;

        while (s->n_peers > 0 && served < NETLINK_SERVE_MAX) {
                NlPeer *p;
                NlItem *it;

                if (s->next_peer >= s->n_peers)
                        s->next_peer = 0;
                p = &s->peers[s->next_peer];
                it = p->head;
                p->head = it->next;
                if (!p->head)
                        p->tail = NULL;
                p->n--;
                memcpy(s->buf, it->data, it->len);
                handle_datagram(s, it->len, it->portid, &it->cred, it->truncated);
                free(it);
                served++;
                if (p->n == 0) /* the last peer takes its place */
                        s->peers[s->next_peer] = s->peers[--s->n_peers];
                else
                        s->next_peer++;
        }
        return s->n_peers > 0;
}

static void serve_and_reschedule(NetlinkServer *s) {
        if (serve(s))
                (void) sd_event_source_set_enabled(s->serve, SD_EVENT_ONESHOT);
}

static int netlink_on_serve(sd_event_source *es, void *userdata) {
        serve_and_reschedule(userdata);
        return 0;
}

static int netlink_on_io(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        NetlinkServer *s = userdata;

        for (unsigned i = 0; i < NETLINK_READ_MAX; i++) {
                uint8_t control[CMSG_SPACE(sizeof(struct ucred))];
                struct sockaddr_nl from = {};
                struct iovec iov = { .iov_base = s->buf, .iov_len = sizeof s->buf };
                struct msghdr mh = { .msg_name = &from,
                                     .msg_namelen = sizeof from,
                                     .msg_iov = &iov,
                                     .msg_iovlen = 1,
                                     .msg_control = control,
                                     .msg_controllen = sizeof control };
                struct ucred cred = { .pid = 0, .uid = (uid_t) -1, .gid = (gid_t) -1 };
                ssize_t n = recvmsg(s->fd, &mh, MSG_DONTWAIT);

                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                break;
                        if (errno == ENOBUFS) {
                                note_overrun(s);
                                continue;
                        }
                        log_warning_errno(errno, "Netlink receive failed, continuing: %m");
                        break;
                }
                for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
                            c->cmsg_len == CMSG_LEN(sizeof cred))
                                memcpy(&cred, CMSG_DATA(c), sizeof cred);
                /* Only unicasts from user space with credentials; the kernel (port 0) sends none here. */
                if (from.nl_pid == 0 || cred.uid == (uid_t) -1)
                        continue;
                enqueue(s, (size_t) n, from.nl_pid, &cred, mh.msg_flags & MSG_TRUNC);
        }
        serve_and_reschedule(s);
        return 0;
}

NetlinkServer *netlink_server_free(NetlinkServer *s) {
        if (!s)
                return NULL;
        subscriptions_free(s->subscriptions);
        sd_event_source_disable_unref(s->io);
        sd_event_source_disable_unref(s->serve);
        for (size_t i = 0; i < s->n_peers; i++)
                while (s->peers[i].head) {
                        NlItem *it = s->peers[i].head;

                        s->peers[i].head = it->next;
                        free(it);
                }
        safe_close(s->fd);
        free(s);
        return NULL;
}

int netlink_server_new(sd_event *event, const NetlinkContext *ctx, uint32_t port, unsigned rcvbuf,
                       NetlinkServer **ret) {
        _cleanup_(netlink_server_freep) NetlinkServer *s = NULL;
        struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_pid = port };
        int one = 1, r;

        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->ctx = *ctx;
        s->port = port;
        s->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_USERSOCK);
        if (s->fd < 0)
                return -errno;
        if (setsockopt(s->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0)
                return -errno;
        /* SO_RCVBUFFORCE needs CAP_NET_ADMIN; without it the kernel's cap applies. */
        if (setsockopt(s->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0 &&
            setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) < 0)
                log_debug_errno(errno, "Cannot size the netlink receive buffer, ignoring: %m");
        (void) setsockopt(s->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
        if (bind(s->fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                return -errno;
        r = subscriptions_new(event, s->fd, port, ctx->subscriptions, &s->ctx.stats->notify, &s->subscriptions);
        if (r < 0)
                return r;
        r = sd_event_add_io(event, &s->io, s->fd, EPOLLIN, netlink_on_io, s);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(s->io, "netlink");
        r = sd_event_add_defer(event, &s->serve, netlink_on_serve, s);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(s->serve, "netlink-serve");
        (void) sd_event_source_set_enabled(s->serve, SD_EVENT_OFF);
        *ret = TAKE_PTR(s);
        return 0;
}

Notifier netlink_server_notifier(NetlinkServer *s) {
        return (Notifier) { .fn = subscriptions_notify, .userdata = s->subscriptions };
}

json_object *netlink_server_notifications_to_json(NetlinkServer *s, const Identity *who) {
        return subscriptions_to_json(s->subscriptions, who);
}
