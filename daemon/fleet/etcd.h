/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A client of etcd's v3 JSON gateway (/v3/...) on libcurl's multi interface driven by the
 * daemon's sd_event loop: every call is a request with a callback, none blocks. It logs in
 * (auth/authenticate) when a user is configured and again when etcd calls the token invalid,
 * and moves to the next endpoint when one cannot be reached. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <systemd/sd-event.h>

typedef struct Etcd Etcd;
typedef struct EtcdRequest EtcdRequest;

typedef struct EtcdConf {
        const char *endpoints;                      /* comma-separated base URLs, e.g. "http://10.0.0.1:2379" */
        const char *ca_file, *cert_file, *key_file; /* NULL or "" none */
        const char *username, *password;            /* NULL or "" no auth */
        uint64_t max_reply_bytes;                   /* larger answers fail with -EFBIG */
} EtcdConf;

/* Called once per request with 0 and etcd's answer (borrowed: valid during the call), or a
 * -errno: -EHOSTUNREACH (no endpoint answered), -ETIMEDOUT, -EACCES (permission denied or
 * authentication failed), -EFBIG (answer too large), -EBADMSG (not JSON), -EIO (another etcd
 * error, message in *err). The request is gone after the call. */
typedef void (*EtcdCallback)(void *userdata, int r, json_object *reply, const char *err);

/* Returns 0 or -errno (-EINVAL: no endpoint). */
int etcd_new(sd_event *event, const EtcdConf *conf, Etcd **ret);
/* Cancels every request without calling back. Accepts NULL; returns NULL. */
Etcd *etcd_free(Etcd *e);

/* POSTs body (borrowed, serialised now) to /v3/<path> with a deadline of timeout_ms. *ret (may be
 * NULL) lets the caller cancel it before its callback. Returns 0 or -ENOMEM. */
int etcd_call(Etcd *e, const char *path, json_object *body, uint64_t timeout_ms, EtcdCallback cb, void *userdata,
              EtcdRequest **ret);
/* Called with 0 and each message of a stream (borrowed); returning < 0 ends the stream (no
 * further call). When the stream ends otherwise, called once more with -EPIPE (the member
 * closed it or went away), -EBADMSG or -EFBIG and no message. */
typedef int (*EtcdStreamCallback)(void *userdata, int r, json_object *msg);

/* Opens a watch stream (POST /v3/watch with body, e.g. {"create_request":{...}}) with no
 * deadline; TCP keepalive notices a member that vanished. Returns 0 and *ret, or -ENOMEM. */
int etcd_watch(Etcd *e, json_object *body, EtcdStreamCallback cb, void *userdata, EtcdRequest **ret);
/* Cancels a request without calling back. Accepts NULL. */
void etcd_cancel(EtcdRequest *q);

/* Requests in flight or waiting for a token. */
size_t etcd_pending(const Etcd *e);
/* The endpoint requests go to now. */
const char *etcd_endpoint(const Etcd *e);
/* Counters: logins done, endpoint switches. */
void etcd_counters(const Etcd *e, uint64_t *ret_logins, uint64_t *ret_failovers);

/* base64 helpers for keys and values: returns a malloc'd string or NULL on OOM. decode returns
 * 0 and a malloc'd, NUL-terminated buffer, or -EINVAL / -ENOMEM. */
char *etcd_b64(const void *p, size_t n);
int etcd_unb64(const char *s, char **ret, size_t *ret_n);
/* The prefix's range end: the prefix with its last byte raised (etcd's convention). NULL on OOM. */
char *etcd_prefix_end(const char *prefix);
