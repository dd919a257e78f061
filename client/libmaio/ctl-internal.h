/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The control client's transports, shared by libmaio's maio_ctl_* calls and by maioctl: a netlink
 * connection that checks who answers (ctl-netlink.c), a kept-alive HTTP/1.1 connection over the
 * REST unix socket (ctl-rest.c), and a REST-shaped request either can carry (ctl-conn.c). Not
 * installed; nothing here is exported from libmaio. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "maio/ctl.h"

#define CTL_ERROR_MAX 640
#define CTL_TIMEOUT_MS_DEFAULT 5000
#define CTL_RUNTIME_DIR_DEFAULT "/run/maiod"

/* ---- the route table (generated from api/netlink.md) ---- */

typedef enum CtlFieldType {
        CTL_FIELD_STRING,
        CTL_FIELD_S64,
        CTL_FIELD_DOUBLE,
        CTL_FIELD_U8,
        CTL_FIELD_JSON,
} CtlFieldType;

#define CTL_ROUTE_FIELDS_MAX 24

typedef struct CtlRouteField {
        uint8_t id;
        const char *name;
        CtlFieldType type;
} CtlRouteField;

typedef struct CtlRoute {
        const char *name; /* the op, e.g. "tenants.get" */
        uint8_t cmd;      /* enum maio_cmd */
        const char *method, *path;
        size_t n_fields;
        CtlRouteField fields[CTL_ROUTE_FIELDS_MAX];
        size_t n_reply; /* typed reply attributes (api/netlink.md, "Typed replies"); 0: JSON */
        CtlRouteField reply[CTL_ROUTE_FIELDS_MAX];
} CtlRoute;

/* The route of method and path: 0 and *ret, *ret_id (the {id}, 0 without), ret_name (the {name},
 * "" without; OP_NAME_MAX + 1 bytes); -ENOENT when no operation has that route. */
int ctl_route(const char *method, const char *path, const CtlRoute **ret, int64_t *ret_id, char ret_name[129]);

/* ---- netlink ---- */

typedef struct CtlNlReply {
        int error;       /* 0, or the negative errno of NLMSG_ERROR */
        unsigned status; /* MAIO_ATTR_STATUS */
        char *text;      /* the MAIO_ATTR_JSON parts concatenated (malloc'ed), NULL without */
        size_t text_len;
        uint8_t *typed; /* the typed reply attributes (ids 1..MAIO_ATTR_FIELD_MAX) as received (malloc'ed) */
        size_t typed_len;
        char message[CTL_ERROR_MAX]; /* the extended-ACK message of an error */
} CtlNlReply;

typedef struct CtlNl {
        int fd;
        uint32_t port; /* maiod's port id */
        pid_t pid;     /* maiod's pid, as announced */
        uint32_t seq;
        int timeout_ms;
        uint8_t *buf; /* CTL_NL_BUF bytes: requests and received datagrams */
} CtlNl;

#define CTL_NL_BUF (128u * 1024u)

/* Reads RUNTIME_DIR/maiod.netlink ("PORT PID\n", a root-owned file). Returns 0, -ENOENT (maiod does
 * not serve netlink), -EPERM (not owned by root), -EBADMSG. */
int ctl_nl_announcement(const char *runtime_dir, uint32_t *ret_port, pid_t *ret_pid, char *err, size_t err_size);
/* Opens an autobound NETLINK_USERSOCK socket with SO_PASSCRED for maiod at port (0: the announced
 * one), whose replies must come from uid 0 and the announced pid. Returns 0 or -errno (err says
 * why). */
int ctl_nl_open(CtlNl *nl, const char *runtime_dir, uint32_t port, int timeout_ms, char *err, size_t err_size);
void ctl_nl_close(CtlNl *nl);

/* A request under construction in nl->buf. */
void ctl_nl_begin(CtlNl *nl, uint8_t cmd, uint16_t flags);
int ctl_nl_put(CtlNl *nl, uint16_t type, const void *data, size_t n);
int ctl_nl_put_s64(CtlNl *nl, uint16_t type, int64_t v);
int ctl_nl_put_string(CtlNl *nl, uint16_t type, const char *s);

/* Sends the request built in nl->buf and collects its reply (all parts; with NLM_F_ACK up to the
 * ACK). Returns 0 with *ret filled (an NLMSG_ERROR is ret->error, not a failure), -EPERM for a
 * reply that is not maiod's (err says whose), -ETIMEDOUT, or -errno. Free ret with
 * ctl_nl_reply_done(). */
int ctl_nl_transact(CtlNl *nl, CtlNlReply *ret, char *err, size_t err_size);
void ctl_nl_reply_done(CtlNlReply *r);

/* Whether a datagram from `from` with credentials cred (have: any were attached) is maiod's:
 * 0, or -EPERM with err saying why. */
int ctl_nl_check_sender(const CtlNl *nl, uint32_t from, const struct ucred *cred, bool have, char *err,
                        size_t err_size);

/* ---- REST over the unix socket ---- */

typedef struct CtlRest {
        int fd; /* -1 between connections */
        char *path;
        int timeout_ms;
        char *buf;
        size_t cap;
} CtlRest;

int ctl_rest_open(CtlRest *rest, const char *path, int timeout_ms);
void ctl_rest_close(CtlRest *rest);
/* One exchange on the kept-alive connection (reconnecting once if maiod closed it while idle).
 * Returns 0 with *ret_status and *ret_body (malloc'ed, NUL-terminated, NULL when empty) or -errno. */
int ctl_rest_exchange(CtlRest *rest, const char *method, const char *path, const char *body, int *ret_status,
                      char **ret_body, size_t *ret_len);

/* ---- time (ctl-conn.c) ---- */

int64_t ctl_now_ms(void); /* CLOCK_MONOTONIC */
/* Waits until fd has events or the deadline (ctl_now_ms() time) passes. Returns 0, -ETIMEDOUT or
 * -errno. */
int ctl_wait_fd(int fd, short events, int64_t deadline_ms);

/* ---- the connection either way ---- */

typedef struct CtlConn {
        maio_transport transport; /* NETLINK or REST once open */
        CtlNl nl;
        CtlRest rest;
        char error[CTL_ERROR_MAX];
} CtlConn;

/* Opens transport t (AUTO: netlink, then REST) and checks maiod answers health. Returns 0 or -errno
 * (c->error says why). */
int ctl_conn_open(CtlConn *c, maio_transport t, const char *runtime_dir, uint32_t port, const char *socket_path,
                  int timeout_ms);
void ctl_conn_close(CtlConn *c);
/* One REST-shaped request: method, path and JSON body (borrowed, may be NULL), over either
 * transport. Returns 0 when maiod answered: *ret_status is REST's status (over netlink the one
 * MAIO_ATTR_STATUS carries, or an error code's), *ret_reply the reply document (an error:
 * {"error":{"code","message"}}; NULL without one). Returns -errno when there was no answer, or an
 * answer not from maiod (-EPERM), or one that is not JSON (-EBADMSG); c->error says why. */
int ctl_conn_request(CtlConn *c, const char *method, const char *path, json_object *body, int *ret_status,
                     json_object **ret_reply);

/* The HTTP status and errno of maiod's stable error codes; status 500 and -EIO for an unknown one. */
unsigned ctl_error_code_status(const char *code);
int ctl_error_code_errno(const char *code);
/* The stable code REST would give for a netlink errno without one (decoder errors). */
const char *ctl_error_code_of_errno(int error);
