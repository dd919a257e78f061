/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The control client's netlink transport (api/netlink.md): an autobound NETLINK_USERSOCK socket
 * with SO_PASSCRED, requests built in one buffer, replies collected by sequence number, and every
 * datagram from maiod's port id checked to come from uid 0 and the pid maiod announced, so a
 * process squatting on the port id is refused rather than believed. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/netlink.h>

#include "cleanup.h"
#include "ctl-internal.h"
#include "maio_netlink.h"

#define CTL_NL_HDR_LEN (NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct maio_nlhdr)))
#define CTL_NL_RCVBUF (1024 * 1024)

int ctl_nl_announcement(const char *runtime_dir, uint32_t *ret_port, pid_t *ret_pid, char *err, size_t err_size) {
        _cleanup_fclose_ FILE *f = NULL;
        char path[4096];
        struct stat st;
        uint32_t port;
        int pid;

        snprintf(path, sizeof path, "%s/maiod.netlink", runtime_dir);
        f = fopen(path, "re");
        if (!f) {
                snprintf(err, err_size, "maiod announces no netlink port (%s: %s)", path, strerror(errno));
                return -ENOENT;
        }
        /* Only root may say which process is maiod: a file anyone could write names anyone. */
        if (fstat(fileno(f), &st) < 0 || st.st_uid != 0 || (st.st_mode & 0022)) {
                snprintf(err, err_size, "%s is not owned by root or is writable by others: not trusted", path);
                return -EPERM;
        }
        if (fscanf(f, "%" SCNu32 " %d", &port, &pid) != 2 || port == 0 || pid <= 0) {
                snprintf(err, err_size, "%s does not hold \"PORT PID\"", path);
                return -EBADMSG;
        }
        *ret_port = port;
        *ret_pid = pid;
        return 0;
}

int ctl_nl_open(CtlNl *nl, const char *runtime_dir, uint32_t port, int timeout_ms, char *err, size_t err_size) {
        struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
        uint32_t announced;
        int one = 1, size = CTL_NL_RCVBUF, r;

        *nl = (CtlNl) { .fd = -EBADF, .timeout_ms = timeout_ms };
        r = ctl_nl_announcement(runtime_dir, &announced, &nl->pid, err, err_size);
        if (r < 0)
                return r;
        nl->port = port ? port : announced;
        nl->buf = malloc(CTL_NL_BUF);
        if (!nl->buf)
                return -ENOMEM;
        nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_USERSOCK);
        if (nl->fd < 0 || setsockopt(nl->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0 ||
            bind(nl->fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
                r = -errno;
                snprintf(err, err_size, "Cannot open a netlink socket: %s", strerror(-r));
                ctl_nl_close(nl);
                return r;
        }
        /* Multi-part replies arrive in a burst; the default buffer holds about six 32 KiB parts. */
        (void) setsockopt(nl->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
        (void) setsockopt(nl->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
        return 0;
}

void ctl_nl_close(CtlNl *nl) {
        nl->fd = safe_close(nl->fd);
        free(nl->buf);
        nl->buf = NULL;
}

void ctl_nl_begin(CtlNl *nl, uint8_t cmd, uint16_t flags) {
        struct nlmsghdr *nlh = (struct nlmsghdr *) nl->buf;

        *nlh = (struct nlmsghdr) { .nlmsg_len = CTL_NL_HDR_LEN,
                                   .nlmsg_type = MAIO_NL_MSG,
                                   .nlmsg_flags = NLM_F_REQUEST | flags,
                                   .nlmsg_seq = ++nl->seq };
        *(struct maio_nlhdr *) NLMSG_DATA(nlh) = (struct maio_nlhdr) { .cmd = cmd, .version = MAIO_NL_VERSION };
}

int ctl_nl_put(CtlNl *nl, uint16_t type, const void *data, size_t n) {
        struct nlmsghdr *nlh = (struct nlmsghdr *) nl->buf;
        struct nlattr *a = (struct nlattr *) (nl->buf + nlh->nlmsg_len);

        if (n > UINT16_MAX - NLA_HDRLEN)
                return -EMSGSIZE; /* nla_len is 16 bits */
        if (nlh->nlmsg_len + NLA_ALIGN(NLA_HDRLEN + n) > MAIO_NL_REQUEST_MAX)
                return -EMSGSIZE;
        a->nla_type = type;
        a->nla_len = (uint16_t) (NLA_HDRLEN + n);
        memcpy((uint8_t *) a + NLA_HDRLEN, data, n);
        memset((uint8_t *) a + NLA_HDRLEN + n, 0, NLA_ALIGN(a->nla_len) - a->nla_len);
        nlh->nlmsg_len += NLA_ALIGN(a->nla_len);
        return 0;
}

int ctl_nl_put_s64(CtlNl *nl, uint16_t type, int64_t v) {
        return ctl_nl_put(nl, type, &v, sizeof v);
}

int ctl_nl_put_string(CtlNl *nl, uint16_t type, const char *s) {
        return ctl_nl_put(nl, type, s, strlen(s) + 1);
}

int ctl_nl_check_sender(const CtlNl *nl, uint32_t from, const struct ucred *cred, bool have, char *err,
                        size_t err_size) {
        if (!have) {
                snprintf(err, err_size, "A reply from port id %" PRIu32 " carried no credentials: refused", from);
                return -EPERM;
        }
        if (cred->uid != 0) {
                snprintf(err, err_size,
                         "Port id %" PRIu32 " is held by uid %u (pid %d), not by maiod (root): its reply is refused",
                         from, (unsigned) cred->uid, (int) cred->pid);
                return -EPERM;
        }
        /* pid 0: the sender is not visible in this pid namespace; uid 0 is all that can be checked. */
        if (cred->pid != 0 && cred->pid != nl->pid) {
                snprintf(err, err_size,
                         "Port id %" PRIu32 " is held by pid %d, not by maiod (pid %d, as announced): its reply is "
                         "refused",
                         from, (int) cred->pid, (int) nl->pid);
                return -EPERM;
        }
        return 0;
}

static int append_text(CtlNlReply *r, const char *s, size_t n) {
        char *p = realloc(r->text, r->text_len + n + 1);

        if (!p)
                return -ENOMEM;
        memcpy(p + r->text_len, s, n);
        r->text = p;
        r->text_len += n;
        p[r->text_len] = '\0';
        return 0;
}

/* A MAIO_NL_MSG of the reply: its status and JSON part. */
static int parse_reply_msg(const struct nlmsghdr *nlh, CtlNlReply *r) {
        const uint8_t *p = (const uint8_t *) nlh + CTL_NL_HDR_LEN;
        size_t n = nlh->nlmsg_len >= CTL_NL_HDR_LEN ? nlh->nlmsg_len - CTL_NL_HDR_LEN : 0;

        if (nlh->nlmsg_len < CTL_NL_HDR_LEN)
                return -EBADMSG;
        while (n >= NLA_HDRLEN) {
                const struct nlattr *a = (const struct nlattr *) p;
                const char *data = (const char *) a + NLA_HDRLEN;
                size_t len = a->nla_len - NLA_HDRLEN;
                int k;

                if (a->nla_len < NLA_HDRLEN || a->nla_len > n)
                        return -EBADMSG;
                if (a->nla_type == MAIO_ATTR_STATUS && len == sizeof(uint16_t)) {
                        uint16_t st;

                        memcpy(&st, data, sizeof st);
                        r->status = st;
                } else if (a->nla_type == MAIO_ATTR_JSON) {
                        if (len == 0 || data[len - 1] != '\0')
                                return -EBADMSG;
                        k = append_text(r, data, strlen(data));
                        if (k < 0)
                                return k;
                } else if (a->nla_type >= 1 && a->nla_type <= MAIO_ATTR_FIELD_MAX) {
                        uint8_t *t = realloc(r->typed, r->typed_len + NLA_ALIGN(a->nla_len));

                        if (!t)
                                return -ENOMEM;
                        memcpy(t + r->typed_len, a, a->nla_len);
                        memset(t + r->typed_len + a->nla_len, 0, NLA_ALIGN(a->nla_len) - a->nla_len);
                        r->typed = t;
                        r->typed_len += NLA_ALIGN(a->nla_len);
                }
                if ((size_t) NLA_ALIGN(a->nla_len) >= n)
                        break;
                p += NLA_ALIGN(a->nla_len);
                n -= NLA_ALIGN(a->nla_len);
        }
        return 0;
}

static void parse_error_msg(const struct nlmsghdr *nlh, CtlNlReply *r) {
        const struct nlmsgerr *e = NLMSG_DATA(nlh);
        size_t off = NLMSG_HDRLEN + sizeof *e, n;
        const uint8_t *p;

        if (nlh->nlmsg_len < off) {
                r->error = -EBADMSG;
                return;
        }
        r->error = e->error;
        if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
                return;
        if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
                off += NLMSG_ALIGN(e->msg.nlmsg_len) - NLMSG_HDRLEN; /* the request was echoed whole */
        for (p = (const uint8_t *) nlh + off, n = nlh->nlmsg_len > off ? nlh->nlmsg_len - off : 0; n >= NLA_HDRLEN;) {
                const struct nlattr *a = (const struct nlattr *) p;

                if (a->nla_len < NLA_HDRLEN || a->nla_len > n)
                        return;
                if (a->nla_type == NLMSGERR_ATTR_MSG && a->nla_len > NLA_HDRLEN)
                        snprintf(r->message, sizeof r->message, "%.*s", (int) (a->nla_len - NLA_HDRLEN),
                                 (const char *) a + NLA_HDRLEN);
                if ((size_t) NLA_ALIGN(a->nla_len) >= n)
                        return;
                p += NLA_ALIGN(a->nla_len);
                n -= NLA_ALIGN(a->nla_len);
        }
}

/* The messages of one datagram from maiod. Returns 1 when the reply is complete, 0 to read on. */
static int take_datagram(const CtlNl *nl, const uint8_t *buf, size_t size, bool want_ack, CtlNlReply *r) {
        const struct nlmsghdr *nlh = (const struct nlmsghdr *) buf;
        int n = (int) size; /* NLMSG_OK/NLMSG_NEXT work on an int */

        for (; NLMSG_OK(nlh, n); nlh = NLMSG_NEXT(nlh, n)) {
                int k;

                if (nlh->nlmsg_seq != nl->seq)
                        continue; /* a late reply to an earlier request that timed out */
                switch (nlh->nlmsg_type) {
                case NLMSG_ERROR:
                        parse_error_msg(nlh, r);
                        return 1; /* an error, or the ACK that ends the reply */
                case NLMSG_DONE:
                        if (!want_ack)
                                return 1;
                        break;
                case MAIO_NL_MSG:
                        k = parse_reply_msg(nlh, r);
                        if (k < 0)
                                return k;
                        if (!(nlh->nlmsg_flags & NLM_F_MULTI) && !want_ack)
                                return 1;
                        break;
                default:
                        return -EBADMSG;
                }
        }
        return 0;
}

int ctl_nl_transact(CtlNl *nl, CtlNlReply *ret, char *err, size_t err_size) {
        struct nlmsghdr *req = (struct nlmsghdr *) nl->buf;
        struct sockaddr_nl to = { .nl_family = AF_NETLINK, .nl_pid = nl->port };
        bool want_ack = req->nlmsg_flags & NLM_F_ACK;
        int64_t deadline = ctl_now_ms() + nl->timeout_ms;
        CtlNlReply r = {};
        int k;

        if (sendto(nl->fd, req, req->nlmsg_len, 0, (struct sockaddr *) &to, sizeof to) < 0) {
                k = -errno;
                snprintf(err, err_size, "Cannot send to maiod's netlink port id %" PRIu32 ": %s", nl->port,
                         k == -ECONNREFUSED ? "nobody holds it" : strerror(-k));
                return k;
        }
        for (k = 0; k == 0;) {
                uint8_t control[CMSG_SPACE(sizeof(struct ucred))];
                struct sockaddr_nl from = {};
                struct iovec iov = { .iov_base = nl->buf, .iov_len = CTL_NL_BUF };
                struct msghdr mh = { .msg_name = &from,
                                     .msg_namelen = sizeof from,
                                     .msg_iov = &iov,
                                     .msg_iovlen = 1,
                                     .msg_control = control,
                                     .msg_controllen = sizeof control };
                struct ucred cred = {};
                bool have = false;
                ssize_t n;

                k = ctl_wait_fd(nl->fd, POLLIN, deadline);
                if (k < 0)
                        break;
                n = recvmsg(nl->fd, &mh, MSG_DONTWAIT);
                if (n < 0) {
                        k = errno == EAGAIN || errno == EINTR ? 0 : -errno;
                        continue;
                }
                if (from.nl_pid != nl->port)
                        continue; /* not from maiod's port id: never a reply */
                for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
                            c->cmsg_len == CMSG_LEN(sizeof cred)) {
                                memcpy(&cred, CMSG_DATA(c), sizeof cred);
                                have = true;
                        }
                k = ctl_nl_check_sender(nl, from.nl_pid, &cred, have, err, err_size);
                if (k < 0)
                        break;
                k = (mh.msg_flags & MSG_TRUNC) ? -EMSGSIZE : take_datagram(nl, nl->buf, (size_t) n, want_ack, &r);
        }
        if (k == -ETIMEDOUT)
                snprintf(err, err_size, "maiod (netlink port id %" PRIu32 ") did not answer within %d ms", nl->port,
                         nl->timeout_ms);
        else if (k == -EBADMSG || k == -EMSGSIZE)
                snprintf(err, err_size, "maiod's netlink reply could not be read: %s", strerror(-k));
        if (k < 0) {
                ctl_nl_reply_done(&r);
                return k;
        }
        *ret = r;
        return 0;
}

void ctl_nl_reply_done(CtlNlReply *r) {
        free(r->text);
        free(r->typed);
        r->text = NULL;
        r->typed = NULL;
        r->text_len = r->typed_len = 0;
}
