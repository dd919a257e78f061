/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The etcd v3 JSON client: libcurl multi handles whose sockets and timer are sd_event
 * sources, a login that gates requests while it runs, and failover over the endpoints. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "cleanup.h"
#include "etcd.h"
#include "jsonutil.h"
#include "log.h"
#include "time-util.h"

struct EtcdRequest {
        Etcd *etcd;
        char *path;
        char *body;
        CURL *easy;
        struct curl_slist *headers;
        char *reply;
        size_t reply_n;
        bool too_big;
        unsigned tries;    /* endpoints tried for this attempt */
        bool relogged;     /* a login was done for it after an invalid token */
        bool login;        /* the auth/authenticate request itself */
        uint64_t deadline; /* CLOCK_MONOTONIC usec */
        EtcdCallback cb;
        EtcdStreamCallback scb; /* a stream (watch): each message as it arrives */
        json_tokener *tok;      /* the stream's parser; holds a message split over reads */
        size_t message_bytes;   /* bytes of the message being parsed */
        void *userdata;
        EtcdRequest *prev, *next;
};

struct Etcd {
        sd_event *event;
        CURLM *multi;
        sd_event_source *timer;
        char **endpoints;
        size_t n_endpoints, current;
        char *ca_file, *cert_file, *key_file, *username, *password;
        uint64_t max_reply_bytes;
        char *token;
        bool logging_in;
        EtcdRequest *requests; /* in flight or waiting for the login */
        uint64_t logins, failovers;
};

static char *strdup_or_null(const char *s) {
        return s && s[0] ? strdup(s) : NULL;
}

/* ---- base64 ---- */

char *etcd_b64(const void *p, size_t n) {
        char *out = malloc(4 * ((n + 2) / 3) + 1);

        if (out)
                EVP_EncodeBlock((unsigned char *) out, p, (int) n);
        return out;
}

int etcd_unb64(const char *s, char **ret, size_t *ret_n) {
        size_t len = strlen(s), pad = 0;
        _cleanup_free_ char *out = NULL;
        int n;

        if (len % 4 != 0 || len > INT32_MAX)
                return -EINVAL;
        out = malloc(len / 4 * 3 + 1);
        if (!out)
                return -ENOMEM;
        n = EVP_DecodeBlock((unsigned char *) out, (const unsigned char *) s, (int) len);
        if (n < 0)
                return -EINVAL;
        /* EVP_DecodeBlock counts the padding as zero bytes. */
        pad = len >= 1 && s[len - 1] == '=' ? 1 + (len >= 2 && s[len - 2] == '=') : 0;
        n -= (int) pad;
        out[n] = '\0';
        *ret = TAKE_PTR(out);
        *ret_n = (size_t) n;
        return 0;
}

char *etcd_prefix_end(const char *prefix) {
        char *end = strdup(prefix);
        size_t n = strlen(prefix);

        if (end && n > 0)
                end[n - 1]++;
        return end;
}

/* ---- requests ---- */

static void request_unlink(EtcdRequest *q) {
        if (q->prev)
                q->prev->next = q->next;
        else if (q->etcd && q->etcd->requests == q)
                q->etcd->requests = q->next;
        if (q->next)
                q->next->prev = q->prev;
        q->prev = q->next = NULL;
}

static void request_detach_easy(EtcdRequest *q) {
        if (!q->easy)
                return;
        curl_multi_remove_handle(q->etcd->multi, q->easy);
        curl_easy_cleanup(q->easy);
        q->easy = NULL;
        curl_slist_free_all(q->headers);
        q->headers = NULL;
        free(q->reply);
        q->reply = NULL;
        q->reply_n = 0;
        q->too_big = false;
}

static void request_free(EtcdRequest *q) {
        if (!q)
                return;
        request_detach_easy(q);
        request_unlink(q);
        if (q->tok)
                json_tokener_free(q->tok);
        free(q->path);
        free(q->body);
        free(q);
}

void etcd_cancel(EtcdRequest *q) {
        request_free(q);
}

/* Calls back and frees; the callback may issue new requests. */
static void request_finish(EtcdRequest *q, int r, json_object *reply, const char *err) {
        EtcdCallback cb = q->cb;
        void *userdata = q->userdata;

        request_free(q);
        if (cb)
                cb(userdata, r, reply, err);
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *userdata) {
        EtcdRequest *q = userdata;
        size_t n = size * nmemb;
        char *v;

        if (q->reply_n + n > q->etcd->max_reply_bytes) {
                q->too_big = true;
                return 0;
        }
        v = realloc(q->reply, q->reply_n + n + 1);
        if (!v)
                return 0;
        memcpy(v + q->reply_n, p, n);
        q->reply_n += n;
        v[q->reply_n] = '\0';
        q->reply = v;
        return n;
}

static int request_setup_tls(Etcd *e, CURL *c) {
        if (e->ca_file && curl_easy_setopt(c, CURLOPT_CAINFO, e->ca_file) != CURLE_OK)
                return -EINVAL;
        if (e->cert_file && curl_easy_setopt(c, CURLOPT_SSLCERT, e->cert_file) != CURLE_OK)
                return -EINVAL;
        if (e->key_file && curl_easy_setopt(c, CURLOPT_SSLKEY, e->key_file) != CURLE_OK)
                return -EINVAL;
        return 0;
}

/* Sends q to the current endpoint. Returns 0 or -ENOMEM / -ETIMEDOUT (deadline passed). */
static int request_send(EtcdRequest *q) {
        Etcd *e = q->etcd;
        _cleanup_free_ char *url = NULL, *auth = NULL;
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        long left_ms;
        CURL *c;

        if (now >= q->deadline)
                return -ETIMEDOUT;
        left_ms = q->scb ? 0 : (long) ((q->deadline - now) / 1000) + 1;
        if (asprintf(&url, "%s/v3/%s", e->endpoints[e->current], q->path) < 0) {
                url = NULL;
                return -ENOMEM;
        }
        c = q->easy = curl_easy_init();
        if (!c)
                return -ENOMEM;
        q->headers = curl_slist_append(NULL, "Content-Type: application/json");
        if (q->headers && !q->login && e->token && asprintf(&auth, "Authorization: %s", e->token) >= 0) {
                struct curl_slist *h = curl_slist_append(q->headers, auth);

                if (!h)
                        return -ENOMEM;
                q->headers = h;
        }
        if (!q->headers)
                return -ENOMEM;
        if (curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->body) != CURLE_OK ||
            curl_easy_setopt(c, CURLOPT_HTTPHEADER, q->headers) != CURLE_OK ||
            curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write) != CURLE_OK ||
            curl_easy_setopt(c, CURLOPT_WRITEDATA, q) != CURLE_OK ||
            curl_easy_setopt(c, CURLOPT_PRIVATE, q) != CURLE_OK ||
            curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, left_ms) != CURLE_OK ||
            curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, left_ms > 0 && left_ms < 1000 ? left_ms : 1000L) !=
                    CURLE_OK ||
            curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L) != CURLE_OK ||
            curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 10L) != CURLE_OK ||
            curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 5L) != CURLE_OK ||
            curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
            curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK || request_setup_tls(e, c) < 0)
                return -ENOMEM;
        if (curl_multi_add_handle(e->multi, c) != CURLM_OK)
                return -ENOMEM;
        return 0;
}

static int login_start(Etcd *e);

/* Sends q now, or parks it while a login runs. Returns 0 or -errno (q is then the caller's). */
static int request_dispatch(EtcdRequest *q) {
        Etcd *e = q->etcd;

        if (!q->login && e->username && !e->token)
                return login_start(e);
        return request_send(q);
}

/* Sends every parked request (after a login), or fails them all with r. */
static void requests_release(Etcd *e, int r, const char *err) {
        bool again = true;

        while (again) {
                again = false;
                for (EtcdRequest *q = e->requests; q; q = q->next) {
                        int k = r;

                        if (q->easy || q->login)
                                continue;
                        if (k >= 0 && (k = request_dispatch(q)) >= 0)
                                continue;
                        request_finish(q, k, NULL, err);
                        again = true; /* the list may have changed under us */
                        break;
                }
        }
}

static void on_login(void *userdata, int r, json_object *reply, const char *err) {
        Etcd *e = userdata;
        const char *token = json_object_get_string(json_object_object_get(reply, "token"));

        e->logging_in = false;
        if (r >= 0 && (!token || !token[0]))
                r = -EBADMSG;
        if (r >= 0) {
                free(e->token);
                e->token = strdup(token);
                if (!e->token)
                        r = -ENOMEM;
        }
        if (r >= 0) {
                e->logins++;
                log_debug("etcd: logged in as %s.", e->username);
        }
        requests_release(e, r, err);
}

static int login_start(Etcd *e) {
        _cleanup_(json_object_putp) json_object *b = NULL;
        EtcdRequest *q = NULL;
        int r;

        if (e->logging_in)
                return 0;
        b = json_object_new_object();
        if (!b || json_object_object_add(b, "name", json_object_new_string(e->username)) < 0 ||
            json_object_object_add(b, "password", json_object_new_string(e->password ?: "")) < 0)
                r = -ENOMEM;
        else
                r = etcd_call(e, "auth/authenticate", b, 5000, on_login, e, &q);
        if (r < 0)
                e->logging_in = false;
        return r;
}

/* etcd's error message mapped to -errno; sets *ret_relogin for an invalid or expired token. */
static int etcd_error(json_object *reply, const char **ret_msg, bool *ret_relogin) {
        const char *msg = json_object_get_string(json_object_object_get(reply, "message"));

        *ret_msg = msg;
        *ret_relogin = false;
        if (!msg)
                return -EBADMSG;
        if (strstr(msg, "invalid auth token") || strstr(msg, "user name is empty") ||
            strstr(msg, "revision of auth store is old")) {
                *ret_relogin = true;
                return -EACCES;
        }
        if (strstr(msg, "permission denied") || strstr(msg, "authentication failed"))
                return -EACCES;
        return -EIO;
}

/* A reply arrived (HTTP status code): calls back, or logs in again and resends. */
static void request_answered(EtcdRequest *q, long code) {
        Etcd *e = q->etcd;
        _cleanup_(json_object_putp) json_object *j = NULL;
        const char *msg = NULL;
        bool relogin;
        int r;

        j = q->reply ? json_tokener_parse(q->reply) : NULL;
        if (!j || !json_object_is_type(j, json_type_object)) {
                request_finish(q, -EBADMSG, NULL, "not a JSON object");
                return;
        }
        if (code == 200 && !json_object_object_get_ex(j, "error", NULL)) {
                request_finish(q, 0, j, NULL);
                return;
        }
        r = etcd_error(j, &msg, &relogin);
        if (relogin && !q->login && !q->relogged && e->username) {
                /* The token expired or the auth store moved on: log in again and resend once. */
                q->relogged = true;
                request_detach_easy(q);
                free(e->token);
                e->token = NULL;
                r = request_dispatch(q);
                if (r < 0)
                        request_finish(q, r, NULL, NULL);
                return;
        }
        request_finish(q, r, NULL, msg);
}

/* The endpoint did not answer: the next one, while there are untried ones and time. */
static void request_failed(EtcdRequest *q, CURLcode cc) {
        Etcd *e = q->etcd;
        int r;

        request_detach_easy(q);
        if (cc == CURLE_OPERATION_TIMEDOUT && now_usec(CLOCK_MONOTONIC) >= q->deadline) {
                request_finish(q, -ETIMEDOUT, NULL, curl_easy_strerror(cc));
                return;
        }
        if (++q->tries >= e->n_endpoints) {
                request_finish(q, -EHOSTUNREACH, NULL, curl_easy_strerror(cc));
                return;
        }
        log_debug("etcd: %s did not answer (%s), trying the next endpoint.", e->endpoints[e->current],
                  curl_easy_strerror(cc));
        e->current = (e->current + 1) % e->n_endpoints;
        e->failovers++;
        r = request_send(q);
        if (r < 0)
                request_finish(q, r, NULL, NULL);
}

/* Parses what a stream received and hands each complete message over. Returns true when a
 * callback ran (the request list may have changed), false when nothing was complete. */
static bool stream_deliver(EtcdRequest *q) {
        _cleanup_(json_object_putp) json_object *msg = NULL;
        enum json_tokener_error err;
        const char *reason;
        size_t used;
        int r;

        if (q->reply_n == 0)
                return false;
        msg = json_tokener_parse_ex(q->tok, q->reply, (int) q->reply_n);
        err = json_tokener_get_error(q->tok);
        used = msg ? json_tokener_get_parse_end(q->tok) : q->reply_n;
        q->message_bytes += used;
        memmove(q->reply, q->reply + used, q->reply_n - used);
        q->reply_n -= used;
        if (!msg && err == json_tokener_continue && q->message_bytes <= q->etcd->max_reply_bytes)
                return false;
        json_tokener_reset(q->tok);
        q->message_bytes = 0;
        if (!msg) {
                EtcdStreamCallback cb = q->scb;
                void *userdata = q->userdata;

                request_free(q);
                cb(userdata, -EBADMSG, NULL);
                return true;
        }
        /* A watch refused for its token says so in the message: the next request logs in again. */
        reason = json_object_get_string(json_object_object_get(json_object_object_get(msg, "result"), "cancel_reason"));
        if (reason && strstr(reason, "invalid auth token")) {
                free(q->etcd->token);
                q->etcd->token = NULL;
        }
        r = q->scb(q->userdata, 0, msg);
        if (r < 0)
                request_free(q);
        return true;
}

/* Delivers the messages every stream received, one callback at a time. */
static void streams_pump(Etcd *e) {
        bool again = true;

        while (again) {
                again = false;
                for (EtcdRequest *q = e->requests; q; q = q->next)
                        if (q->scb && q->easy && stream_deliver(q)) {
                                again = true; /* q may be gone: start over */
                                break;
                        }
        }
}

/* A stream ended (the member went away, or it answered an error): its callback's last call.
 * Bytes not delivered yet are dropped: a watcher resumes from the last revision it saw. */
static void stream_ended(EtcdRequest *q, int r) {
        EtcdStreamCallback cb = q->scb;
        void *userdata = q->userdata;

        request_free(q);
        cb(userdata, r, NULL);
}

static void multi_check(Etcd *e) {
        CURLMsg *msg;
        int left;

        while ((msg = curl_multi_info_read(e->multi, &left))) {
                EtcdRequest *q = NULL;
                long code = 0;

                if (msg->msg != CURLMSG_DONE)
                        continue;
                (void) curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &q);
                if (!q)
                        continue;
                if (q->scb) {
                        stream_ended(q, q->too_big ? -EFBIG : -EPIPE);
                        continue;
                }
                if (q->too_big) {
                        request_finish(q, -EFBIG, NULL, "reply too large");
                        continue;
                }
                if (msg->data.result != CURLE_OK) {
                        request_failed(q, msg->data.result);
                        continue;
                }
                (void) curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &code);
                request_answered(q, code);
        }
}

/* ---- curl and sd_event ---- */

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Etcd *e = userdata;
        int action = 0, running;

        if (revents & (EPOLLIN | EPOLLHUP))
                action |= CURL_CSELECT_IN;
        if (revents & EPOLLOUT)
                action |= CURL_CSELECT_OUT;
        if (revents & EPOLLERR)
                action |= CURL_CSELECT_ERR;
        (void) curl_multi_socket_action(e->multi, fd, action, &running);
        streams_pump(e);
        multi_check(e);
        return 0;
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
        Etcd *e = userp;
        sd_event_source *s = socketp;
        uint32_t events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);

        if (what == CURL_POLL_REMOVE) {
                sd_event_source_disable_unref(s);
                curl_multi_assign(e->multi, fd, NULL);
                return 0;
        }
        if (!s) {
                if (sd_event_add_io(e->event, &s, fd, events, on_io, e) < 0)
                        return -1;
                (void) sd_event_source_set_description(s, "fleet-etcd-io");
                curl_multi_assign(e->multi, fd, s);
                return 0;
        }
        return sd_event_source_set_io_events(s, events) < 0 ? -1 : 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Etcd *e = userdata;
        int running;

        (void) curl_multi_socket_action(e->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        streams_pump(e);
        multi_check(e);
        return 0;
}

static int on_timer_change(CURLM *multi, long timeout_ms, void *userp) {
        Etcd *e = userp;

        if (timeout_ms < 0)
                return sd_event_source_set_enabled(e->timer, SD_EVENT_OFF) < 0 ? -1 : 0;
        if (sd_event_source_set_time_relative(e->timer, (uint64_t) timeout_ms * 1000) < 0 ||
            sd_event_source_set_enabled(e->timer, SD_EVENT_ONESHOT) < 0)
                return -1;
        return 0;
}

/* ---- lifecycle ---- */

static int endpoints_split(Etcd *e, const char *list) {
        _cleanup_free_ char *copy = strdup(list);
        char *save = NULL;

        if (!copy)
                return -ENOMEM;
        for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
                char **v = reallocarray(e->endpoints, e->n_endpoints + 1, sizeof *v);
                size_t n = strlen(t);

                if (!v)
                        return -ENOMEM;
                e->endpoints = v;
                while (n > 0 && t[n - 1] == '/')
                        t[--n] = '\0';
                e->endpoints[e->n_endpoints] = strdup(t);
                if (!e->endpoints[e->n_endpoints])
                        return -ENOMEM;
                e->n_endpoints++;
        }
        return e->n_endpoints > 0 ? 0 : -EINVAL;
}

int etcd_new(sd_event *event, const EtcdConf *conf, Etcd **ret) {
        Etcd *e = calloc(1, sizeof *e);
        int r;

        if (!e)
                return -ENOMEM;
        e->event = sd_event_ref(event);
        e->max_reply_bytes = conf->max_reply_bytes;
        e->ca_file = strdup_or_null(conf->ca_file);
        e->cert_file = strdup_or_null(conf->cert_file);
        e->key_file = strdup_or_null(conf->key_file);
        e->username = strdup_or_null(conf->username);
        e->password = strdup_or_null(conf->password);
        r = endpoints_split(e, conf->endpoints ?: "");
        if (r >= 0)
                r = (e->multi = curl_multi_init()) ? 0 : -ENOMEM;
        if (r >= 0)
                r = sd_event_add_time_relative(event, &e->timer, CLOCK_MONOTONIC, UINT64_MAX / 2, 1000, on_timer, e);
        if (r >= 0) {
                (void) sd_event_source_set_description(e->timer, "fleet-etcd-timer");
                r = sd_event_source_set_enabled(e->timer, SD_EVENT_OFF);
        }
        if (r >= 0 && (curl_multi_setopt(e->multi, CURLMOPT_SOCKETFUNCTION, on_socket) != CURLM_OK ||
                       curl_multi_setopt(e->multi, CURLMOPT_SOCKETDATA, e) != CURLM_OK ||
                       curl_multi_setopt(e->multi, CURLMOPT_TIMERFUNCTION, on_timer_change) != CURLM_OK ||
                       curl_multi_setopt(e->multi, CURLMOPT_TIMERDATA, e) != CURLM_OK))
                r = -ENOMEM;
        if (r < 0) {
                etcd_free(e);
                return r;
        }
        *ret = e;
        return 0;
}

Etcd *etcd_free(Etcd *e) {
        if (!e)
                return NULL;
        while (e->requests)
                request_free(e->requests);
        if (e->multi)
                curl_multi_cleanup(e->multi);
        sd_event_source_disable_unref(e->timer);
        for (size_t i = 0; i < e->n_endpoints; i++)
                free(e->endpoints[i]);
        free(e->endpoints);
        free(e->ca_file);
        free(e->cert_file);
        free(e->key_file);
        free(e->username);
        free(e->password);
        free(e->token);
        sd_event_unref(e->event);
        free(e);
        return NULL;
}

int etcd_call(Etcd *e, const char *path, json_object *body, uint64_t timeout_ms, EtcdCallback cb, void *userdata,
              EtcdRequest **ret) {
        EtcdRequest *q = calloc(1, sizeof *q);
        int r;

        if (!q)
                return -ENOMEM;
        q->etcd = e;
        q->cb = cb;
        q->userdata = userdata;
        q->login = strcmp(path, "auth/authenticate") == 0;
        q->deadline = now_usec(CLOCK_MONOTONIC) + timeout_ms * 1000;
        q->path = strdup(path);
        q->body = strdup(json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN));
        if (!q->path || !q->body) {
                request_free(q);
                return -ENOMEM;
        }
        q->next = e->requests;
        if (e->requests)
                e->requests->prev = q;
        e->requests = q;
        if (q->login)
                e->logging_in = true;
        r = request_dispatch(q);
        if (r < 0) {
                request_free(q);
                return r;
        }
        if (ret)
                *ret = q;
        return 0;
}

int etcd_watch(Etcd *e, json_object *body, EtcdStreamCallback cb, void *userdata, EtcdRequest **ret) {
        EtcdRequest *q = calloc(1, sizeof *q);
        int r;

        if (!q)
                return -ENOMEM;
        q->etcd = e;
        q->scb = cb;
        q->userdata = userdata;
        q->deadline = UINT64_MAX;
        q->path = strdup("watch");
        q->body = strdup(json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN));
        q->tok = json_tokener_new();
        if (!q->path || !q->body || !q->tok) {
                request_free(q);
                return -ENOMEM;
        }
        q->next = e->requests;
        if (e->requests)
                e->requests->prev = q;
        e->requests = q;
        r = request_dispatch(q);
        if (r < 0) {
                request_free(q);
                return r;
        }
        *ret = q;
        return 0;
}

size_t etcd_pending(const Etcd *e) {
        size_t n = 0;

        for (EtcdRequest *q = e->requests; q; q = q->next)
                n++;
        return n;
}

const char *etcd_endpoint(const Etcd *e) {
        return e->endpoints[e->current];
}

void etcd_counters(const Etcd *e, uint64_t *ret_logins, uint64_t *ret_failovers) {
        *ret_logins = e->logins;
        *ret_failovers = e->failovers;
}
