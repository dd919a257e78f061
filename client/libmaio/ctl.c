/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libmaio's control client (maio/ctl.h): open over netlink or REST, the tenant and tiering calls as
 * REST-shaped requests either transport carries (ctl-conn.c), their replies into plain structs, and
 * notifications on a netlink socket of their own. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/netlink.h>

#include "cleanup.h"
#include "ctl-internal.h"
#include "maio_netlink.h"

struct maio_ctl {
        CtlConn conn;
        CtlNl notify; /* the subscription's socket; fd < 0 until maio_ctl_subscribe */
        char *runtime_dir;
        uint32_t port;
        int timeout_ms;
};

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

int maio_ctl_open(const maio_ctl_config *cfg, maio_ctl **ret) {
        maio_ctl_config def = {};
        _cleanup_free_ char *socket_path = NULL;
        const char *env = getenv("MAIOD_SOCKET");
        maio_ctl *c;
        int r;

        if (!ret)
                return -EINVAL;
        cfg = cfg ? cfg : &def;
        if (!maio_transport_to_string(cfg->transport) || cfg->timeout_ms < 0)
                return -EINVAL;
        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->notify.fd = -EBADF;
        c->port = cfg->netlink_port;
        c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : CTL_TIMEOUT_MS_DEFAULT;
        c->runtime_dir = strdup(cfg->runtime_dir ? cfg->runtime_dir : CTL_RUNTIME_DIR_DEFAULT);
        if (cfg->socket_path)
                socket_path = strdup(cfg->socket_path);
        else if (env && env[0])
                socket_path = strdup(env);
        else if (c->runtime_dir && asprintf(&socket_path, "%s/maiod.sock", c->runtime_dir) < 0)
                socket_path = NULL;
        if (!c->runtime_dir || !socket_path) {
                free(c->runtime_dir);
                free(c);
                return -ENOMEM;
        }
        r = ctl_conn_open(&c->conn, cfg->transport, c->runtime_dir, c->port, socket_path, c->timeout_ms);
        if (r < 0) {
                free(c->runtime_dir);
                free(c);
                return r;
        }
        *ret = c;
        return 0;
}

maio_ctl *maio_ctl_close(maio_ctl *c) {
        if (!c)
                return NULL;
        ctl_conn_close(&c->conn);
        if (c->notify.buf)
                ctl_nl_close(&c->notify);
        free(c->runtime_dir);
        free(c);
        return NULL;
}

maio_transport maio_ctl_transport(const maio_ctl *c) {
        return c->conn.transport;
}

const char *maio_ctl_error(const maio_ctl *c) {
        return c->conn.error;
}

/* One request whose success is a 2xx; an error reply becomes its code's errno and c->error. */
static int ctl_call(maio_ctl *c, const char *method, const char *path, json_object *body, json_object **ret) {
        _cleanup_(json_object_putp) json_object *reply = NULL;
        json_object *e, *code, *message;
        int status, r;

        r = ctl_conn_request(&c->conn, method, path, body, &status, &reply);
        if (r < 0)
                return r;
        if (status >= 200 && status < 300) {
                if (ret)
                        *ret = TAKE_PTR(reply);
                return 0;
        }
        if (!json_object_object_get_ex(reply, "error", &e) || !json_object_object_get_ex(e, "code", &code) ||
            !json_object_object_get_ex(e, "message", &message)) {
                snprintf(c->conn.error, sizeof c->conn.error, "maiod answered status %d without an error document",
                         status);
                return -EIO;
        }
        snprintf(c->conn.error, sizeof c->conn.error, "%s: %s", json_object_get_string(code),
                 json_object_get_string(message));
        return ctl_error_code_errno(json_object_get_string(code));
}

/* ---- replies into structs ---- */

static int64_t get_int(json_object *o, const char *key, int64_t absent) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
                return absent;
        return json_object_get_int64(v);
}

static double get_double(json_object *o, const char *key) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) ||
            !(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)))
                return NAN;
        return json_object_get_double(v);
}

static bool get_bool(json_object *o, const char *key) {
        json_object *v;

        return json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

static void get_string(json_object *o, const char *key, char *buf, size_t size) {
        json_object *v;

        buf[0] = '\0';
        if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
                snprintf(buf, size, "%s", json_object_get_string(v));
}

static int bad_reply(maio_ctl *c, const char *what) {
        snprintf(c->conn.error, sizeof c->conn.error, "maiod's reply lacks %s", what);
        return -EBADMSG;
}

static int tenant_from_json(maio_ctl *c, json_object *o, maio_tenant *t) {
        *t = (maio_tenant) { .id = get_int(o, "id", 0) };
        if (t->id <= 0)
                return bad_reply(c, "the tenant id");
        get_string(o, "name", t->name, sizeof t->name);
        t->priority = (int) get_int(o, "priority", -1);
        get_string(o, "workload_class", t->workload_class, sizeof t->workload_class);
        t->uid = (uid_t) get_int(o, "uid", -1);
        t->pid = (pid_t) get_int(o, "pid", 0);
        get_string(o, "cgroup", t->cgroup, sizeof t->cgroup);
        get_string(o, "token", t->token, sizeof t->token);
        return 0;
}

static int thresholds_from_json(maio_ctl *c, json_object *o, maio_thresholds *t) {
        *t = (maio_thresholds) { .tenant_id = get_int(o, "tenant_id", 0), .episode = get_int(o, "episode", 0) };
        if (t->tenant_id <= 0 || t->episode <= 0)
                return bad_reply(c, "the tenant and episode of the thresholds");
        get_string(o, "policy", t->policy, sizeof t->policy);
        get_string(o, "rule", t->rule, sizeof t->rule);
        t->access_rate = get_double(o, "access_rate");
        t->burst_duration = get_double(o, "burst_duration");
        t->action = (int) get_int(o, "action", -1);
        t->explored = get_bool(o, "explored");
        t->applied = get_bool(o, "applied");
        t->model_id = get_int(o, "model_id", 0);
        t->model_version = get_int(o, "model_version", 0);
        get_string(o, "backend", t->backend, sizeof t->backend);
        return 0;
}

/* ---- tenants ---- */

static int add_member(json_object *o, const char *key, json_object *v) {
        if (!v)
                return -ENOMEM;
        json_object_object_add(o, key, v);
        return 0;
}

int maio_ctl_register(maio_ctl *c, const maio_tenant_spec *spec, maio_tenant *ret) {
        _cleanup_(json_object_putp) json_object *body = json_object_new_object(), *reply = NULL;
        maio_tenant t;
        int r;

        if (!c || !spec || !spec->name)
                return -EINVAL;
        if (!body)
                return -ENOMEM;
        r = add_member(body, "name", json_object_new_string(spec->name));
        if (r >= 0 && spec->priority >= 0)
                r = add_member(body, "priority", json_object_new_int64(spec->priority));
        if (r >= 0 && spec->workload_class)
                r = add_member(body, "workload_class", json_object_new_string(spec->workload_class));
        if (r >= 0 && spec->pid > 0)
                r = add_member(body, "pid", json_object_new_int64(spec->pid));
        if (r >= 0 && spec->cgroup)
                r = add_member(body, "cgroup", json_object_new_string(spec->cgroup));
        if (r >= 0)
                r = ctl_call(c, "POST", "/v1/tenants", body, &reply);
        if (r >= 0)
                r = tenant_from_json(c, reply, &t);
        if (r >= 0 && ret)
                *ret = t;
        return r;
}

int maio_ctl_tenant_get(maio_ctl *c, int64_t id, maio_tenant *ret) {
        _cleanup_(json_object_putp) json_object *reply = NULL;
        char path[64];
        int r;

        if (!c || id <= 0 || !ret)
                return -EINVAL;
        snprintf(path, sizeof path, "/v1/tenants/%" PRId64, id);
        r = ctl_call(c, "GET", path, NULL, &reply);
        return r < 0 ? r : tenant_from_json(c, reply, ret);
}

int maio_ctl_unregister(maio_ctl *c, int64_t id) {
        char path[64];

        if (!c || id <= 0)
                return -EINVAL;
        snprintf(path, sizeof path, "/v1/tenants/%" PRId64, id);
        return ctl_call(c, "DELETE", path, NULL, NULL);
}

/* ---- tiering ---- */

int maio_ctl_thresholds(maio_ctl *c, int64_t tenant_id, maio_thresholds *ret) {
        _cleanup_(json_object_putp) json_object *reply = NULL;
        char path[64];
        int r;

        if (!c || tenant_id <= 0 || !ret)
                return -EINVAL;
        snprintf(path, sizeof path, "/v1/tenants/%" PRId64 "/thresholds", tenant_id);
        r = ctl_call(c, "GET", path, NULL, &reply);
        return r < 0 ? r : thresholds_from_json(c, reply, ret);
}

int maio_ctl_feedback(maio_ctl *c, int64_t tenant_id, const maio_feedback *fb, maio_feedback_result *ret) {
        _cleanup_(json_object_putp) json_object *body = json_object_new_object(), *reply = NULL;
        json_object *next;
        char path[64];
        int r;

        if (!c || tenant_id <= 0 || !fb || fb->episode <= 0)
                return -EINVAL;
        if (!body)
                return -ENOMEM;
        r = add_member(body, "episode", json_object_new_int64(fb->episode));
        if (r >= 0 && !isnan(fb->completion_time_s))
                r = add_member(body, "completion_time_s", json_object_new_double(fb->completion_time_s));
        if (r >= 0 && !isnan(fb->requests_per_s))
                r = add_member(body, "requests_per_s", json_object_new_double(fb->requests_per_s));
        snprintf(path, sizeof path, "/v1/tenants/%" PRId64 "/feedback", tenant_id);
        if (r >= 0)
                r = ctl_call(c, "POST", path, body, &reply);
        if (r < 0 || !ret)
                return r;
        ret->reward = get_double(reply, "reward");
        if (!json_object_object_get_ex(reply, "next", &next))
                return bad_reply(c, "the next thresholds");
        return thresholds_from_json(c, next, &ret->next);
}

/* ---- notifications ---- */

static int subscription(maio_ctl *c, uint8_t cmd, int64_t tenant_id) {
        _cleanup_(ctl_nl_reply_done) CtlNlReply nr = {};
        int r;

        if (!c || tenant_id < 0)
                return -EINVAL;
        c->conn.error[0] = '\0';
        if (c->conn.transport != MAIO_TRANSPORT_NETLINK) {
                snprintf(c->conn.error, sizeof c->conn.error, "Notifications are served over netlink only");
                return -EOPNOTSUPP;
        }
        if (!c->notify.buf) {
                r = ctl_nl_open(&c->notify, c->runtime_dir, c->conn.nl.port, c->timeout_ms, c->conn.error,
                                sizeof c->conn.error);
                if (r < 0)
                        return r;
        }
        ctl_nl_begin(&c->notify, cmd, NLM_F_ACK);
        r = tenant_id > 0 ? ctl_nl_put_s64(&c->notify, MAIO_ATTR_ID, tenant_id) : 0;
        if (r >= 0)
                r = ctl_nl_transact(&c->notify, &nr, c->conn.error, sizeof c->conn.error);
        if (r >= 0 && nr.error != 0) {
                snprintf(c->conn.error, sizeof c->conn.error, "%s", nr.message[0] ? nr.message : strerror(-nr.error));
                r = nr.error;
        }
        return r;
}

int maio_ctl_subscribe(maio_ctl *c, int64_t tenant_id) {
        return subscription(c, MAIO_CMD_NOTIFY_SUBSCRIBE, tenant_id);
}

int maio_ctl_unsubscribe(maio_ctl *c, int64_t tenant_id) {
        if (c && !c->notify.buf)
                return 0; /* never subscribed */
        return subscription(c, MAIO_CMD_NOTIFY_UNSUBSCRIBE, tenant_id);
}

int maio_ctl_notify_fd(const maio_ctl *c) {
        return c && c->notify.buf ? c->notify.fd : -EBADF;
}

void maio_notification_clear(maio_notification *n) {
        if (!n)
                return;
        free(n->detail);
        *n = (maio_notification) {};
}

/* The attributes of a notification message into n. */
static int notification_parse(const struct nlmsghdr *nlh, maio_notification *n) {
        const uint8_t *p = (const uint8_t *) nlh + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct maio_nlhdr));
        size_t left = nlh->nlmsg_len - (size_t) (p - (const uint8_t *) nlh);

        *n = (maio_notification) {};
        while (left >= NLA_HDRLEN) {
                const struct nlattr *a = (const struct nlattr *) p;
                const char *d = (const char *) a + NLA_HDRLEN;
                size_t len;

                if (a->nla_len < NLA_HDRLEN || a->nla_len > left)
                        return -EBADMSG;
                len = a->nla_len - NLA_HDRLEN;
                if (a->nla_type == MAIO_ATTR_EVENT && len > 0 && d[len - 1] == '\0')
                        snprintf(n->kind, sizeof n->kind, "%s", d);
                else if (a->nla_type == MAIO_ATTR_ID && len == sizeof n->tenant_id)
                        memcpy(&n->tenant_id, d, len);
                else if (a->nla_type == MAIO_ATTR_LOST && len == sizeof n->lost)
                        memcpy(&n->lost, d, len);
                else if (a->nla_type == MAIO_ATTR_JSON && len > 0 && d[len - 1] == '\0' && !n->detail) {
                        n->detail = strdup(d);
                        if (!n->detail)
                                return -ENOMEM;
                }
                if ((size_t) NLA_ALIGN(a->nla_len) >= left)
                        break;
                p += NLA_ALIGN(a->nla_len);
                left -= NLA_ALIGN(a->nla_len);
        }
        if (!n->kind[0] || n->tenant_id <= 0) {
                maio_notification_clear(n);
                return -EBADMSG;
        }
        return 0;
}

int maio_ctl_notification_read(maio_ctl *c, maio_notification *ret) {
        if (!c || !ret)
                return -EINVAL;
        if (!c->notify.buf)
                return -EBADF;
        for (;;) {
                uint8_t control[CMSG_SPACE(sizeof(struct ucred))];
                struct sockaddr_nl from = {};
                struct iovec iov = { .iov_base = c->notify.buf, .iov_len = CTL_NL_BUF };
                struct msghdr mh = { .msg_name = &from,
                                     .msg_namelen = sizeof from,
                                     .msg_iov = &iov,
                                     .msg_iovlen = 1,
                                     .msg_control = control,
                                     .msg_controllen = sizeof control };
                const struct nlmsghdr *nlh = (const struct nlmsghdr *) c->notify.buf;
                struct ucred cred = {};
                bool have = false;
                ssize_t n = recvmsg(c->notify.fd, &mh, MSG_DONTWAIT);
                int r;

                if (n < 0)
                        return errno == EINTR ? -EAGAIN : -errno;
                if (from.nl_pid != c->notify.port)
                        continue; /* not from maiod's port id */
                for (struct cmsghdr *m = CMSG_FIRSTHDR(&mh); m; m = CMSG_NXTHDR(&mh, m))
                        if (m->cmsg_level == SOL_SOCKET && m->cmsg_type == SCM_CREDENTIALS &&
                            m->cmsg_len == CMSG_LEN(sizeof cred)) {
                                memcpy(&cred, CMSG_DATA(m), sizeof cred);
                                have = true;
                        }
                r = ctl_nl_check_sender(&c->notify, from.nl_pid, &cred, have, c->conn.error, sizeof c->conn.error);
                if (r < 0)
                        return r;
                /* maiod sends each notification in a datagram of its own, sequence number 0. */
                if (!NLMSG_OK(nlh, (int) n) || nlh->nlmsg_type != MAIO_NL_MSG || nlh->nlmsg_seq != 0 ||
                    nlh->nlmsg_len < NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct maio_nlhdr)))
                        continue; /* a late reply or ACK of a (un)subscription */
                if (((const struct maio_nlhdr *) NLMSG_DATA(nlh))->cmd != MAIO_CMD_NOTIFICATION)
                        continue;
                return notification_parse(nlh, ret);
        }
}
