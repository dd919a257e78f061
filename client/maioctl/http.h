/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One HTTP/1.1 exchange with maiod over its unix socket (libcurl), JSON in and out.
 * Every libcurl error is turned into a -errno here and nowhere else. */
#pragma once

#include <json-c/json.h>

/* Connect plus the whole exchange must finish within this many seconds. */
#define HTTP_TIMEOUT_SEC 30L
/* Replies larger than this are refused (maiod's largest is a few hundred KiB). */
#define HTTP_REPLY_MAX (16u * 1024u * 1024u)

/* Set up and tear down libcurl for the process. http_init() returns 0 or -ENOMEM/-EIO. */
int http_init(void);
void http_done(void);

/* Sends METHOD PATH (e.g. "GET", "/v1/tenants") to the daemon listening on socket_path,
 * with body (if not NULL) as an application/json request body.
 * On success returns 0: *ret_status is the HTTP status (whatever it is, 4xx/5xx included)
 * and *ret_reply the parsed JSON reply, or NULL when the reply has no body.
 * Returns -errno when the exchange could not be completed: the errno of connect(2)
 * (-ENOENT, -ECONNREFUSED, -EACCES, ...), -ENAMETOOLONG (socket path too long for
 * sockaddr_un), -ETIMEDOUT, -ECONNRESET (closed without a complete reply), -EPROTO (not
 * HTTP), -EBADMSG (body is not JSON), -EMSGSIZE (over HTTP_REPLY_MAX), -ENOMEM, -EIO. */
int http_request(const char *socket_path, const char *method, const char *path, json_object *body, int *ret_status,
                 json_object **ret_reply);
