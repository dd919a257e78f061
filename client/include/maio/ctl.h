/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libmaio's control client: a tenant talks to maiod (register, thresholds, feedback, notifications)
 * over maiod's netlink API, or over its REST unix socket where netlink is not available. See
 * libmaio(3), "CONTROL CLIENT". */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Errors are negative errno values; >= 0 is success. maiod's refusals keep the errno of its stable
 * error code: -ENOENT not found (also another uid's tenant), -EINVAL a bad value, -EPERM not allowed,
 * -EEXIST conflict, -EAGAIN unavailable, ...; maio_ctl_error() has maiod's message. A netlink reply
 * that does not come from maiod (the credentials check, libmaio(3)) fails the call with -EPERM. */

typedef struct maio_ctl maio_ctl;

typedef enum maio_transport {
        MAIO_TRANSPORT_AUTO,    /* netlink if maiod announces it and answers, else the REST unix socket */
        MAIO_TRANSPORT_NETLINK, /* NETLINK_USERSOCK to the port id maiod announces */
        MAIO_TRANSPORT_REST,    /* HTTP/1.1 over maiod's unix socket, one kept-alive connection */
} maio_transport;

typedef struct maio_ctl_config {
        maio_transport transport;
        uint32_t netlink_port;   /* 0: the port id maiod announces in RUNTIME_DIR/maiod.netlink */
        const char *socket_path; /* REST socket; NULL: $MAIOD_SOCKET, else RUNTIME_DIR/maiod.sock */
        const char *runtime_dir; /* NULL: /run/maiod */
        int timeout_ms;          /* bound of each call; 0: 5000 */
} maio_ctl_config;

/* Opens a control client (cfg NULL: the defaults) and checks that maiod answers (health). With
 * MAIO_TRANSPORT_AUTO a netlink failure (no announcement, no answer, a refused reply) falls back to
 * the REST socket. Returns 0 and *ret, or -errno: -ENOENT (no announcement or no socket),
 * -ECONNREFUSED, -ETIMEDOUT, -EPERM (the netlink port is not held by maiod), -EINVAL, -ENOMEM. */
int maio_ctl_open(const maio_ctl_config *cfg, maio_ctl **ret);
/* Closes the client and its subscription. Accepts NULL. Returns NULL. */
maio_ctl *maio_ctl_close(maio_ctl *ctl);
/* The transport the client uses: MAIO_TRANSPORT_NETLINK or MAIO_TRANSPORT_REST, never AUTO. */
maio_transport maio_ctl_transport(const maio_ctl *ctl);
/* "auto", "netlink", "rest" (a static string; NULL for another value). */
const char *maio_transport_to_string(maio_transport t);
/* The message of the last failure (maiod's "code: message", or what failed locally); "" after a
 * success. Valid until the next call on ctl. */
const char *maio_ctl_error(const maio_ctl *ctl);

/* ---- tenants ---------------------------------------------------------------------------------- */

typedef struct maio_tenant_spec {
        const char *name;           /* required: 1-63 bytes, unique per owner */
        int priority;               /* 0 (highest) .. 7; -1: maiod's default (4) */
        const char *workload_class; /* "batch", "serving", ...; NULL: maiod's default */
        pid_t pid;                  /* the tenant's main process, watched by maiod; 0: none */
        const char *cgroup;         /* cgroup path (1-4095 bytes) below the cgroup root; NULL: none */
} maio_tenant_spec;

typedef struct maio_tenant {
        int64_t id;
        char name[64];
        int priority;
        char workload_class[33];
        uid_t uid;         /* the owner: who registered it */
        pid_t pid;         /* 0: none */
        char cgroup[4096]; /* "": none */
        char token[64];    /* bearer token for REST over TCP: maio_ctl_register only, "" otherwise */
} maio_tenant;

/* Registers a tenant owned by the caller's uid. Returns 0 and *ret (may be NULL), or -errno
 * (-EEXIST: the name is taken, -EINVAL: a bad value). */
int maio_ctl_register(maio_ctl *ctl, const maio_tenant_spec *spec, maio_tenant *ret);
/* One of the caller's tenants (admins: any). Returns 0, -ENOENT, or -errno. */
int maio_ctl_tenant_get(maio_ctl *ctl, int64_t id, maio_tenant *ret);
/* Removes one of the caller's tenants. Returns 0, -ENOENT, or -errno. */
int maio_ctl_unregister(maio_ctl *ctl, int64_t id);

/* ---- tiering ---------------------------------------------------------------------------------- */

typedef struct maio_thresholds {
        int64_t tenant_id;
        int64_t episode;       /* the open episode: report its feedback with maio_ctl_feedback */
        char policy[32];       /* "linucb", "indigo", "network-adaptive", ... */
        char rule[16];         /* "thresholds" or "never" (no promotion) */
        double access_rate;    /* promotion threshold; NAN under rule "never" */
        double burst_duration; /* promotion threshold; NAN under rule "never" */
        int action;            /* the policy's arm, -1 when it has none */
        bool explored;         /* the policy explored for this episode */
        bool applied;          /* maiod's tiering backend applies them */
        int64_t model_id;      /* 0: none */
        int64_t model_version;
        char backend[32]; /* maiod's tiering backend */
} maio_thresholds;

/* The tenant's thresholds for its open episode (opening one if needed). Returns 0 or -errno
 * (-EAGAIN: tiering does not run). */
int maio_ctl_thresholds(maio_ctl *ctl, int64_t tenant_id, maio_thresholds *ret);

typedef struct maio_feedback {
        int64_t episode;          /* the episode the feedback is for */
        double completion_time_s; /* batch tenants: seconds the work took; NAN when not given */
        double requests_per_s;    /* serving tenants: throughput; NAN when not given */
} maio_feedback;

typedef struct maio_feedback_result {
        double reward;
        maio_thresholds next; /* the thresholds of the next episode */
} maio_feedback_result;

/* Reports the outcome of an episode (exactly one of its two values). Durable on return. Returns 0
 * and *ret (may be NULL), or -errno (-ENOENT: no such open episode, -EEXIST: reported already,
 * -EINVAL). */
int maio_ctl_feedback(maio_ctl *ctl, int64_t tenant_id, const maio_feedback *fb, maio_feedback_result *ret);

/* ---- notifications (netlink only) ------------------------------------------------------------- */

typedef struct maio_notification {
        char kind[32];     /* "thresholds-changed", "tenant-exited", "tenant-removed", ... */
        int64_t tenant_id; /* the tenant it is about */
        uint32_t lost;     /* notifications dropped before this one (the receive buffer was full) */
        char *detail;      /* the JSON object with the details (malloc'ed; maio_notification_clear) */
} maio_notification;

/* Subscribes to the notifications of one of the caller's tenants (tenant_id > 0) or of all of them
 * (0; an administrator: all tenants). The subscription lives on a socket of its own, bound to this
 * process: poll maio_ctl_notify_fd() for POLLIN and read with maio_ctl_notification_read(). Returns
 * 0, -EOPNOTSUPP over REST, or -errno. */
int maio_ctl_subscribe(maio_ctl *ctl, int64_t tenant_id);
/* Ends the subscription to tenant_id (0: all of them). Returns 0 or -errno. */
int maio_ctl_unsubscribe(maio_ctl *ctl, int64_t tenant_id);
/* The descriptor to poll for notifications, or -EBADF before maio_ctl_subscribe. */
int maio_ctl_notify_fd(const maio_ctl *ctl);
/* Reads the next notification without blocking. Returns 0 and *ret (clear it with
 * maio_notification_clear), -EAGAIN when none is queued, -EPERM for a message not from maiod,
 * -EBADMSG for a malformed one, -ENOBUFS when the socket itself overflowed (some were lost), or
 * -errno. */
int maio_ctl_notification_read(maio_ctl *ctl, maio_notification *ret);
/* Frees what a notification holds. Accepts a zeroed one. */
void maio_notification_clear(maio_notification *n);

#ifdef __cplusplus
}
#endif
