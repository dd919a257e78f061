/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One HTTP/1.1 exchange with maiod over its unix socket using libcurl's easy
 * interface. The only place that knows about CURLcode: http_curl_to_errno(). */

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include <curl/curl.h>

#include "http.h"
#include "macro.h"
#include "maio-config.h"

typedef struct HttpBuffer {
        char *data; /* always NUL-terminated once allocated */
        size_t size;
        size_t allocated;
        int error; /* why the write callback refused data: -EMSGSIZE or -ENOMEM */
} HttpBuffer;

static void http_buffer_done(HttpBuffer *b) {
        free(b->data);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(CURL *, curl_easy_cleanup)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct curl_slist *, curl_slist_free_all)
DEFINE_TRIVIAL_CLEANUP_FUNC(json_tokener *, json_tokener_free)

/* libcurl's error style -> -errno. os_errno is CURLINFO_OS_ERRNO (0 if unknown),
 * write_error what our write callback recorded when it stopped the transfer. */
static int http_curl_to_errno(CURLcode c, long os_errno, int write_error) {
        switch (c) {
        case CURLE_OK:
                return 0;
        case CURLE_COULDNT_CONNECT:
                return os_errno > 0 ? -(int) os_errno : -ECONNREFUSED;
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
                return os_errno > 0 ? -(int) os_errno : -ECONNRESET;
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
                return -ECONNRESET;
        case CURLE_OPERATION_TIMEDOUT:
                return -ETIMEDOUT;
        case CURLE_OUT_OF_MEMORY:
                return -ENOMEM;
        case CURLE_WRITE_ERROR:
                return write_error < 0 ? write_error : -EIO;
        case CURLE_WEIRD_SERVER_REPLY:
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
                return -EPROTO;
        case CURLE_BAD_CONTENT_ENCODING:
                return -EBADMSG;
        case CURLE_NOT_BUILT_IN:
        case CURLE_UNKNOWN_OPTION:
                return -EOPNOTSUPP;
        case CURLE_URL_MALFORMAT:
        case CURLE_BAD_FUNCTION_ARGUMENT:
                return -EINVAL;
        default:
                return -EIO;
        }
}

static size_t http_write(char *ptr, size_t size, size_t nmemb, void *userdata) {
        HttpBuffer *b = userdata;
        size_t n = size * nmemb; /* size is 1 by libcurl's contract */

        if (n > HTTP_REPLY_MAX - b->size) {
                b->error = -EMSGSIZE;
                return 0; /* anything but n aborts with CURLE_WRITE_ERROR */
        }
        if (b->size + n + 1 > b->allocated) {
                size_t want = b->allocated > 0 ? b->allocated : 4096;
                char *p;

                while (want < b->size + n + 1)
                        want *= 2;
                p = realloc(b->data, want);
                if (!p) {
                        b->error = -ENOMEM;
                        return 0;
                }
                b->data = p;
                b->allocated = want;
        }
        memcpy(b->data + b->size, ptr, n);
        b->size += n;
        b->data[b->size] = '\0';
        return n;
}

static bool http_is_space(char c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Empty body -> *ret = NULL. Anything but exactly one strict JSON value (plus
 * whitespace) is -EBADMSG. data[size] must be '\0'. */
static int http_parse_json(const char *data, size_t size, json_object **ret) {
        _cleanup_(json_tokener_freep) json_tokener *tok = NULL;
        _cleanup_json_ json_object *o = NULL;
        size_t end;

        *ret = NULL;
        if (size == 0)
                return 0;
        if (size >= INT_MAX)
                return -EMSGSIZE;

        tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);

        /* Including the NUL lets a bare trailing number terminate. */
        o = json_tokener_parse_ex(tok, data, (int) size + 1);
        if (json_tokener_get_error(tok) != json_tokener_success)
                return -EBADMSG;

        for (end = json_tokener_get_parse_end(tok); end < size; end++)
                if (!http_is_space(data[end]))
                        return -EBADMSG;

        *ret = TAKE_PTR(o);
        return 0;
}

#define HTTP_SETOPT(curl, opt, val)                                   \
        do {                                                          \
                CURLcode _c = curl_easy_setopt((curl), (opt), (val)); \
                if (_c != CURLE_OK)                                   \
                        return http_curl_to_errno(_c, 0, 0);          \
        } while (0)

static int http_setup(CURL *curl, const char *socket_path, const char *method, const char *url,
                      struct curl_slist *headers, const char *payload, HttpBuffer *reply) {

        HTTP_SETOPT(curl, CURLOPT_UNIX_SOCKET_PATH, socket_path);
        HTTP_SETOPT(curl, CURLOPT_URL, url);
        HTTP_SETOPT(curl, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_1_1);
        HTTP_SETOPT(curl, CURLOPT_HTTPHEADER, headers);
        HTTP_SETOPT(curl, CURLOPT_USERAGENT, "maioctl/" MAIO_VERSION);
        HTTP_SETOPT(curl, CURLOPT_TIMEOUT, HTTP_TIMEOUT_SEC);
        HTTP_SETOPT(curl, CURLOPT_CONNECTTIMEOUT, HTTP_TIMEOUT_SEC);
        /* No SIGALRM games: maioctl is single-threaded but signals are not libcurl's business. */
        HTTP_SETOPT(curl, CURLOPT_NOSIGNAL, 1L);
        HTTP_SETOPT(curl, CURLOPT_WRITEFUNCTION, http_write);
        HTTP_SETOPT(curl, CURLOPT_WRITEDATA, reply);

        if (payload) {
                HTTP_SETOPT(curl, CURLOPT_POSTFIELDS, payload);
                HTTP_SETOPT(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) strlen(payload));
        } else if (strcmp(method, "POST") == 0)
                HTTP_SETOPT(curl, CURLOPT_POSTFIELDS, "");

        /* POSTFIELDS made it a POST; any other verb is named explicitly. */
        if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
                HTTP_SETOPT(curl, CURLOPT_CUSTOMREQUEST, method);
        else if (strcmp(method, "GET") == 0 && payload)
                return -EINVAL;

        return 0;
}

static int http_headers(bool with_body, struct curl_slist **ret) {
        static const char *const names[] = {
                "Accept: application/json", "Content-Type: application/json",
                "Expect:", /* never wait for 100-continue */
        };
        struct curl_slist *l = NULL, *n;

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                if (i == 1 && !with_body)
                        continue;
                n = curl_slist_append(l, names[i]);
                if (!n) {
                        curl_slist_free_all(l);
                        return -ENOMEM;
                }
                l = n;
        }
        *ret = l;
        return 0;
}

int http_init(void) {
        CURLcode c = curl_global_init(CURL_GLOBAL_DEFAULT);

        return http_curl_to_errno(c, 0, 0);
}

void http_done(void) {
        curl_global_cleanup();
}

int http_request(const char *socket_path, const char *method, const char *path, json_object *body, int *ret_status,
                 json_object **ret_reply) {

        _cleanup_(curl_easy_cleanupp) CURL *curl = NULL;
        _cleanup_(curl_slist_free_allp) struct curl_slist *headers = NULL;
        _cleanup_(http_buffer_done) HttpBuffer reply = {};
        _cleanup_free_ char *url = NULL;
        const char *payload = NULL;
        long status = 0, os_errno = 0;
        CURLcode c;
        int r;

        if (!socket_path || !method || !path || path[0] != '/' || !ret_status || !ret_reply)
                return -EINVAL;
        if (strlen(socket_path) >= sizeof(((struct sockaddr_un) {}).sun_path))
                return -ENAMETOOLONG;

        if (body) {
                payload = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
                if (!payload)
                        return -ENOMEM;
        }
        if (asprintf(&url, "http://localhost%s", path) < 0)
                return -ENOMEM;

        r = http_headers(!!payload, &headers);
        if (r < 0)
                return r;
        curl = curl_easy_init();
        if (!curl)
                return -ENOMEM;
        r = http_setup(curl, socket_path, method, url, headers, payload, &reply);
        if (r < 0)
                return r;

        c = curl_easy_perform(curl);
        if (curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno) != CURLE_OK)
                os_errno = 0;
        r = http_curl_to_errno(c, os_errno, reply.error);
        if (r < 0)
                return r;
        if (curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status < 100 || status > 599)
                return -EPROTO;

        r = http_parse_json(reply.data, reply.size, ret_reply);
        if (r < 0)
                return r;
        *ret_status = (int) status;
        return 0;
}
