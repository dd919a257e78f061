/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One control connection to maiod over netlink or REST, and the REST-shaped request both carry:
 * over netlink the route names the command, the JSON body's members become the op's field
 * attributes (ids and types from api/netlink.md, through the generated route table), and an
 * NLMSG_ERROR with its "code: message" becomes REST's status and error document. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netlink.h>

#include "cleanup.h"
#include "ctl-internal.h"
#include "maio_netlink.h"
#include "time-util.h"

#include "ctl-routes.h"

/* maiod's stable error codes (daemon/base/reply.c) with REST's status and netlink's errno. */
static const struct {
        const char *code;
        unsigned status;
        int error;
} error_codes[] = {
        { "bad-request", 400, -EINVAL },
        { "invalid-json", 400, -EINVAL },
        { "unknown-field", 400, -EINVAL },
        { "wrong-type", 400, -EINVAL },
        { "missing-field", 400, -EINVAL },
        { "invalid-value", 400, -EINVAL },
        { "unauthorized", 401, -ENOKEY },
        { "forbidden", 403, -EPERM },
        { "not-found", 404, -ENOENT },
        { "method-not-allowed", 405, -EOPNOTSUPP },
        { "request-timeout", 408, -ETIMEDOUT },
        { "conflict", 409, -EEXIST },
        { "payload-too-large", 413, -E2BIG },
        { "unsupported-media-type", 415, -EMEDIUMTYPE },
        { "internal", 500, -EIO },
        { "unavailable", 503, -EAGAIN },
        { "insufficient-storage", 507, -ENOSPC },
};

unsigned ctl_error_code_status(const char *code) {
        for (size_t i = 0; code && i < ELEMENTSOF(error_codes); i++)
                if (strcmp(error_codes[i].code, code) == 0)
                        return error_codes[i].status;
        return 500;
}

int ctl_error_code_errno(const char *code) {
        for (size_t i = 0; code && i < ELEMENTSOF(error_codes); i++)
                if (strcmp(error_codes[i].code, code) == 0)
                        return error_codes[i].error;
        return -EIO;
}

const char *ctl_error_code_of_errno(int error) {
        switch (error) {
        case -EMSGSIZE:
                return "payload-too-large";
        case -EPROTO:
        case -EOPNOTSUPP:
                return "bad-request";
        case -EBUSY:
                return "unavailable";
        default:
                for (size_t i = 0; i < ELEMENTSOF(error_codes); i++)
                        if (error_codes[i].error == error)
                                return error_codes[i].code;
                return "internal";
        }
}

const char *maio_transport_to_string(maio_transport t) {
        switch (t) {
        case MAIO_TRANSPORT_AUTO:
                return "auto";
        case MAIO_TRANSPORT_NETLINK:
                return "netlink";
        case MAIO_TRANSPORT_REST:
                return "rest";
        }
        return NULL;
}

/* ---- time ---- */

int64_t ctl_now_ms(void) {
        return (int64_t) (now_usec(CLOCK_MONOTONIC) / 1000);
}

int ctl_wait_fd(int fd, short events, int64_t deadline_ms) {
        for (;;) {
                int64_t left = deadline_ms - ctl_now_ms();
                struct pollfd p = { .fd = fd, .events = events };
                int k;

                if (left <= 0)
                        return -ETIMEDOUT;
                k = poll(&p, 1, (int) left);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k > 0)
                        return 0;
        }
}

/* ---- routes ---- */

/* Matches path against a template of literal segments, "{id}" and "{name}". */
static bool route_match(const char *tmpl, const char *path, int64_t *ret_id, char ret_name[129]) {
        for (;;) {
                const char *te, *pe;
                size_t tl, pl;

                if (*tmpl != '/' || *path != '/')
                        return false;
                tmpl++, path++;
                te = strchrnul(tmpl, '/');
                pe = strchrnul(path, '/');
                tl = (size_t) (te - tmpl);
                pl = (size_t) (pe - path);
                if (tl == 4 && memcmp(tmpl, "{id}", 4) == 0 && pl > 0 && pl <= 19) {
                        char *end;
                        long long v = strtoll(path, &end, 10);

                        if (end != pe || v <= 0 || path[0] < '1' || path[0] > '9')
                                return false;
                        *ret_id = v;
                } else if (tl == 6 && memcmp(tmpl, "{name}", 6) == 0 && pl > 0 && pl <= 128) {
                        memcpy(ret_name, path, pl);
                        ret_name[pl] = '\0';
                } else if (tl != pl || memcmp(tmpl, path, tl) != 0)
                        return false;
                tmpl = te, path = pe;
                if (*tmpl == '\0' && *path == '\0')
                        return true;
        }
}

int ctl_route(const char *method, const char *path, const CtlRoute **ret, int64_t *ret_id, char ret_name[129]) {
        for (size_t i = 0; i < ELEMENTSOF(ctl_routes); i++) {
                *ret_id = 0;
                ret_name[0] = '\0';
                if (strcmp(ctl_routes[i].method, method) == 0 &&
                    route_match(ctl_routes[i].path, path, ret_id, ret_name)) {
                        *ret = &ctl_routes[i];
                        return 0;
                }
        }
        return -ENOENT;
}

/* ---- netlink requests from REST's shape ---- */

/* One body member as the attribute of its field. */
static int put_field(CtlConn *c, const CtlRouteField *f, json_object *v) {
        int64_t i;
        double d;
        uint8_t b;

        switch (f->type) {
        case CTL_FIELD_S64:
                if (!json_object_is_type(v, json_type_int))
                        break;
                i = json_object_get_int64(v);
                return ctl_nl_put(&c->nl, f->id, &i, sizeof i);
        case CTL_FIELD_DOUBLE:
                if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
                        break;
                d = json_object_get_double(v);
                return ctl_nl_put(&c->nl, f->id, &d, sizeof d);
        case CTL_FIELD_U8:
                if (!json_object_is_type(v, json_type_boolean))
                        break;
                b = json_object_get_boolean(v);
                return ctl_nl_put(&c->nl, f->id, &b, sizeof b);
        case CTL_FIELD_JSON:
                return ctl_nl_put_string(&c->nl, f->id, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
        case CTL_FIELD_STRING:
                if (json_object_is_type(v, json_type_string))
                        return ctl_nl_put_string(&c->nl, f->id, json_object_get_string(v));
                /* A knob value may be given as a number, as over REST. */
                if (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double))
                        return ctl_nl_put_string(&c->nl, f->id, json_object_get_string(v));
                break;
        }
        snprintf(c->error, sizeof c->error, "wrong-type: Field %s has the wrong type for its netlink attribute",
                 f->name);
        return -EINVAL;
}

static int build_netlink(CtlConn *c, const CtlRoute *route, int64_t id, const char *name, json_object *body) {
        int r = 0;

        ctl_nl_begin(&c->nl, route->cmd, 0);
        if (strstr(route->path, "{id}"))
                r = ctl_nl_put_s64(&c->nl, MAIO_ATTR_ID, id);
        if (r >= 0 && strstr(route->path, "{name}"))
                r = ctl_nl_put_string(&c->nl, MAIO_ATTR_NAME, name);
        if (r < 0 || !body)
                return r;
        if (!json_object_is_type(body, json_type_object)) {
                snprintf(c->error, sizeof c->error, "bad-request: The request body must be a JSON object");
                return -EINVAL;
        }
        json_object_object_foreach(body, key, v) {
                const CtlRouteField *f = NULL;

                for (size_t i = 0; i < route->n_fields && !f; i++)
                        if (strcmp(route->fields[i].name, key) == 0)
                                f = &route->fields[i];
                if (!f) {
                        snprintf(c->error, sizeof c->error, "unknown-field: %s takes no field %s", route->name, key);
                        return -EINVAL;
                }
                if (!v) /* JSON null: as absent */
                        continue;
                r = put_field(c, f, v);
                if (r < 0)
                        return r;
        }
        return 0;
}

static json_object *error_document(const char *code, const char *message) {
        json_object *o = json_object_new_object(), *e = json_object_new_object();

        if (!o || !e) {
                json_object_put(o);
                json_object_put(e);
                return NULL;
        }
        json_object_object_add(e, "code", json_object_new_string(code));
        json_object_object_add(e, "message", json_object_new_string(message));
        json_object_object_add(o, "error", e);
        return o;
}

/* An NLMSG_ERROR as REST's status and error document: the extended-ACK message is "code: message"
 * for the op's errors; the decoder's errors carry only a message, their code follows the errno. */
static int netlink_error(const CtlNlReply *nr, int *ret_status, json_object **ret_reply) {
        const char *colon = strstr(nr->message, ": ");
        char code[32];
        const char *message = nr->message;

        if (colon && (size_t) (colon - nr->message) < sizeof code &&
            strspn(nr->message, "abcdefghijklmnopqrstuvwxyz-") == (size_t) (colon - nr->message)) {
                snprintf(code, sizeof code, "%.*s", (int) (colon - nr->message), nr->message);
                message = colon + 2;
        } else
                snprintf(code, sizeof code, "%s", ctl_error_code_of_errno(nr->error));
        *ret_status = (int) ctl_error_code_status(code);
        *ret_reply = error_document(code, message[0] ? message : strerror(-nr->error));
        return *ret_reply ? 0 : -ENOMEM;
}

static int parse_document(CtlConn *c, const char *text, size_t len, json_object **ret) {
        json_tokener *tok;
        json_object *o;
        bool ok;

        *ret = NULL;
        if (!text || len == 0)
                return 0;
        tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        o = json_tokener_parse_ex(tok, text, (int) len);
        ok = json_tokener_get_error(tok) == json_tokener_success && json_tokener_get_parse_end(tok) == len;
        json_tokener_free(tok);
        if (!ok) {
                json_object_put(o);
                snprintf(c->error, sizeof c->error, "maiod's reply is not a JSON document");
                return -EBADMSG;
        }
        *ret = o;
        return 0;
}

/* One typed reply attribute as the JSON value of its member. */
static int typed_value(CtlConn *c, const CtlRouteField *f, const uint8_t *p, size_t n, json_object **ret) {
        int64_t i;
        double d;

        *ret = NULL;
        if (n == 0)
                return 0; /* null */
        switch (f->type) {
        case CTL_FIELD_S64:
                if (n != sizeof i)
                        break;
                memcpy(&i, p, sizeof i);
                *ret = json_object_new_int64(i);
                return *ret ? 0 : -ENOMEM;
        case CTL_FIELD_DOUBLE:
                if (n != sizeof d)
                        break;
                memcpy(&d, p, sizeof d);
                *ret = json_object_new_double(d);
                return *ret ? 0 : -ENOMEM;
        case CTL_FIELD_U8:
                if (n != 1 || p[0] > 1)
                        break;
                *ret = json_object_new_boolean(p[0]);
                return *ret ? 0 : -ENOMEM;
        case CTL_FIELD_STRING:
                if (p[n - 1] != '\0' || strlen((const char *) p) != n - 1)
                        break;
                *ret = json_object_new_string((const char *) p);
                return *ret ? 0 : -ENOMEM;
        case CTL_FIELD_JSON:
                if (p[n - 1] != '\0' || strlen((const char *) p) != n - 1)
                        break;
                return parse_document(c, (const char *) p, n - 1, ret);
        }
        snprintf(c->error, sizeof c->error, "maiod's typed reply attribute %u (%s) is malformed", f->id, f->name);
        return -EBADMSG;
}

/* REST's document from a typed reply: one member per attribute, in the order received. */
static int typed_document(CtlConn *c, const CtlRoute *route, const CtlNlReply *nr, json_object **ret) {
        json_object *o = json_object_new_object();
        const uint8_t *p = nr->typed;
        size_t left = nr->typed_len;

        if (!o)
                return -ENOMEM;
        while (left >= NLA_HDRLEN) {
                const struct nlattr *a = (const struct nlattr *) p;
                const CtlRouteField *f = NULL;
                json_object *v = NULL;
                int r = -EBADMSG;

                for (size_t k = 0; k < route->n_reply && !f; k++)
                        if (route->reply[k].id == a->nla_type)
                                f = &route->reply[k];
                if (f)
                        r = typed_value(c, f, p + NLA_HDRLEN, a->nla_len - NLA_HDRLEN, &v);
                else
                        snprintf(c->error, sizeof c->error, "maiod's reply of %s has an unknown attribute %u",
                                 route->name, a->nla_type);
                if (r < 0) {
                        json_object_put(o);
                        return r;
                }
                json_object_object_add(o, f->name, v);
                p += NLA_ALIGN(a->nla_len);
                left -= NLA_ALIGN(a->nla_len);
        }
        *ret = o;
        return 0;
}

static int request_netlink(CtlConn *c, const char *method, const char *path, json_object *body, int *ret_status,
                           json_object **ret_reply) {
        _cleanup_(ctl_nl_reply_done) CtlNlReply nr = {};
        const CtlRoute *route;
        char name[129];
        int64_t id;
        int r;

        if (ctl_route(method, path, &route, &id, name) < 0) {
                *ret_status = 404;
                *ret_reply = error_document("not-found", "No such operation over netlink");
                return *ret_reply ? 0 : -ENOMEM;
        }
        r = build_netlink(c, route, id, name, body);
        if (r == -EMSGSIZE)
                snprintf(c->error, sizeof c->error,
                         "payload-too-large: The request does not fit a netlink message; send %s over REST (%s %s)",
                         route->name, route->method, route->path);
        if (r < 0)
                return r;
        r = ctl_nl_transact(&c->nl, &nr, c->error, sizeof c->error);
        if (r < 0)
                return r;
        if (nr.error != 0)
                return netlink_error(&nr, ret_status, ret_reply);
        *ret_status = (int) nr.status;
        if (!nr.text && nr.typed)
                return typed_document(c, route, &nr, ret_reply);
        return parse_document(c, nr.text, nr.text_len, ret_reply);
}

static int request_rest(CtlConn *c, const char *method, const char *path, json_object *body, int *ret_status,
                        json_object **ret_reply) {
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r;

        r = ctl_rest_exchange(&c->rest, method, path,
                              body ? json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN) : NULL, ret_status,
                              &text, &len);
        if (r < 0) {
                snprintf(c->error, sizeof c->error, "No exchange with maiod over %s: %s", c->rest.path, strerror(-r));
                return r;
        }
        return parse_document(c, text, len, ret_reply);
}

int ctl_conn_request(CtlConn *c, const char *method, const char *path, json_object *body, int *ret_status,
                     json_object **ret_reply) {
        c->error[0] = '\0';
        *ret_reply = NULL;
        if (c->transport == MAIO_TRANSPORT_NETLINK)
                return request_netlink(c, method, path, body, ret_status, ret_reply);
        return request_rest(c, method, path, body, ret_status, ret_reply);
}

/* ---- open ---- */

static int check_health(CtlConn *c) {
        json_object *reply = NULL;
        int status, r;

        r = ctl_conn_request(c, "GET", "/v1/health", NULL, &status, &reply);
        json_object_put(reply);
        if (r >= 0 && status != 200) {
                snprintf(c->error, sizeof c->error, "maiod answered health with status %d", status);
                r = -EIO;
        }
        return r;
}

static int open_netlink(CtlConn *c, const char *runtime_dir, uint32_t port, int timeout_ms) {
        int r;

        c->transport = MAIO_TRANSPORT_NETLINK;
        r = ctl_nl_open(&c->nl, runtime_dir, port, timeout_ms, c->error, sizeof c->error);
        if (r >= 0)
                r = check_health(c);
        if (r < 0)
                ctl_nl_close(&c->nl);
        return r;
}

static int open_rest(CtlConn *c, const char *socket_path, int timeout_ms) {
        int r;

        c->transport = MAIO_TRANSPORT_REST;
        r = ctl_rest_open(&c->rest, socket_path, timeout_ms);
        if (r < 0) {
                snprintf(c->error, sizeof c->error, "Cannot connect to maiod at %s: %s", socket_path, strerror(-r));
                ctl_rest_close(&c->rest);
                return r;
        }
        r = check_health(c);
        if (r < 0)
                ctl_rest_close(&c->rest);
        return r;
}

int ctl_conn_open(CtlConn *c, maio_transport t, const char *runtime_dir, uint32_t port, const char *socket_path,
                  int timeout_ms) {
        char why[CTL_ERROR_MAX];
        int r;

        *c = (CtlConn) { .nl.fd = -EBADF, .rest.fd = -EBADF };
        switch (t) {
        case MAIO_TRANSPORT_NETLINK:
                return open_netlink(c, runtime_dir, port, timeout_ms);
        case MAIO_TRANSPORT_REST:
                return open_rest(c, socket_path, timeout_ms);
        case MAIO_TRANSPORT_AUTO:
                r = open_netlink(c, runtime_dir, port, timeout_ms);
                if (r >= 0)
                        return r;
                snprintf(why, sizeof why, "%s", c->error);
                r = open_rest(c, socket_path, timeout_ms);
                if (r < 0) {
                        char rest_why[CTL_ERROR_MAX];

                        snprintf(rest_why, sizeof rest_why, "%s", c->error);
                        snprintf(c->error, sizeof c->error, "netlink: %.300s; REST: %.300s", why, rest_why);
                }
                return r;
        }
        return -EINVAL;
}

void ctl_conn_close(CtlConn *c) {
        if (c->transport == MAIO_TRANSPORT_NETLINK)
                ctl_nl_close(&c->nl);
        else if (c->transport == MAIO_TRANSPORT_REST)
                ctl_rest_close(&c->rest);
        c->transport = MAIO_TRANSPORT_AUTO;
}
