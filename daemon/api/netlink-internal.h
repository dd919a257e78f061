/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the netlink transport's files share: building attributes, and the identity check of a
 * sender's process through a pidfd. Private to daemon/api. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include <linux/netlink.h>

/* Appends an attribute of n bytes of data (and a terminating NUL when nul: a string) to the
 * message at buf, len bytes so far; the caller sized buf. Returns the new length. */
static inline size_t nl_put_attr(uint8_t *buf, size_t len, uint16_t type, const void *data, size_t n, bool nul) {
        struct nlattr *a = (struct nlattr *) (buf + len);
        uint8_t *p = (uint8_t *) a + NLA_HDRLEN;

        a->nla_type = type;
        a->nla_len = (uint16_t) (NLA_HDRLEN + n + nul);
        memcpy(p, data, n);
        memset(p + n, 0, NLA_ALIGN(a->nla_len) - NLA_HDRLEN - n); /* the NUL and the padding */
        return len + NLA_ALIGN(a->nla_len);
}

/* Opens a pidfd on pid and checks that the process still has real uid `uid` (that of the
 * credentials it sent with) and, after /proc/PID/status was read, is still alive: so what was
 * read is that process's and not a successor's on a reused pid. Fills up to max supplementary
 * groups into groups (NULL: none wanted) and *ret_n. Returns the pidfd, -ESRCH when the process
 * is gone or is not the sender any more (or pid is 0: not visible in maiod's pid namespace), or
 * -errno. */
int nl_peer_pidfd(pid_t pid, uid_t uid, gid_t *groups, size_t max, size_t *ret_n);

/* Whether the process of pidfd has exited (the pidfd polls readable). */
bool nl_pidfd_exited(int pidfd);
