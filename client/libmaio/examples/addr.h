/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* "host:port" (numeric IPv4 or IPv6) to a socket address, for the examples, the transfer tests and
 * the benchmarks. Header-only. */
#pragma once

#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>

/* Returns 0 and *ss, *len, or -EINVAL for anything but a numeric host and port. */
static inline int parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len) {
        char host[256];
        const char *colon = strrchr(s, ':');
        if (!colon || (size_t) (colon - s) >= sizeof(host))
                return -EINVAL;
        memcpy(host, s, (size_t) (colon - s));
        host[colon - s] = 0;
        struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV }, *ai;
        if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
                return -EINVAL;
        memcpy(ss, ai->ai_addr, ai->ai_addrlen);
        *len = ai->ai_addrlen;
        freeaddrinfo(ai);
        return 0;
}
