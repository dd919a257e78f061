/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Netlink notification subscriptions: subscribers keyed by port id and bound to their process
 * (a pidfd watched in the event loop), the matching of events to subscribers, and delivery by
 * MSG_DONTWAIT unicast with lost counts. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "maio_netlink.h"
#include "netlink-internal.h"
#include "subscriptions.h"
#include "time-util.h"

/* At most one log line about dropped notifications per this many microseconds. */
#define SUBSCRIPTIONS_LOG_USEC (10 * USEC_PER_SEC)
#define NOTIFICATION_HDR_LEN (NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct maio_nlhdr)))
/* The event word, the tenant, the lost count and the JSON (at most MAIO_NL_PART_MAX bytes). */
#define NOTIFICATION_MAX                                                                                    \
        (NOTIFICATION_HDR_LEN + NLA_HDRLEN + NLA_ALIGN(32) + NLA_HDRLEN + 8 + NLA_HDRLEN + 4 + NLA_HDRLEN + \
         NLA_ALIGN(MAIO_NL_PART_MAX + 1))

typedef struct Subscriber Subscriber;

struct Subscriber {
        Subscriptions *owner;
        uint32_t portid;
        pid_t pid;
        uid_t uid;
        bool admin; /* its "all" means every tenant */
        int pidfd;
        sd_event_source *exit_source;
        bool all;         /* subscribed to all its tenants */
        int64_t *tenants; /* and to these */
        size_t n_tenants;
        uint32_t lost;       /* dropped since the last one delivered */
        uint64_t sent_total; /* delivered to it */
        uint64_t lost_total; /* dropped for it */
        Subscriber *next;
};

struct Subscriptions {
        sd_event *event;
        int fd;
        uint32_t port;
        const SubscriptionsConf *conf;
        SubscriptionStats *stats;
        Subscriber *list;
        uint64_t drop_logged_usec; /* rate limit of the drop log line */
        uint64_t drops_unlogged;   /* drops since that line */
};

static size_t subscriber_count(const Subscriber *sub) {
        return sub->n_tenants + sub->all;
}

static void subscriber_free(Subscriptions *s, Subscriber *sub) {
        for (Subscriber **p = &s->list; *p; p = &(*p)->next)
                if (*p == sub) {
                        *p = sub->next;
                        break;
                }
        s->stats->subscriptions -= subscriber_count(sub);
        sd_event_source_disable_unref(sub->exit_source);
        safe_close(sub->pidfd);
        free(sub->tenants);
        free(sub);
}

static int subscriber_on_exit(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        Subscriber *sub = userdata;

        log_debug("Netlink subscriber on port %" PRIu32 " (pid %d) exited, its subscriptions end.", sub->portid,
                  (int) sub->pid);
        subscriber_free(sub->owner, sub);
        return 0;
}

int subscriptions_new(sd_event *event, int fd, uint32_t port, const SubscriptionsConf *conf, SubscriptionStats *stats,
                      Subscriptions **ret) {
        Subscriptions *s = calloc(1, sizeof *s);

        if (!s)
                return -ENOMEM;
        *s = (Subscriptions) { .event = event, .fd = fd, .port = port, .conf = conf, .stats = stats };
        *ret = s;
        return 0;
}

Subscriptions *subscriptions_free(Subscriptions *s) {
        if (!s)
                return NULL;
        while (s->list)
                subscriber_free(s, s->list);
        free(s);
        return NULL;
}

static Subscriber *subscriber_find(Subscriptions *s, uint32_t portid) {
        for (Subscriber *sub = s->list; sub; sub = sub->next)
                if (sub->portid == portid)
                        return sub;
        return NULL;
}

static bool subscriber_has(const Subscriber *sub, int64_t tenant_id) {
        if (tenant_id == 0)
                return sub->all;
        for (size_t i = 0; i < sub->n_tenants; i++)
                if (sub->tenants[i] == tenant_id)
                        return true;
        return false;
}

static json_object *subscriber_to_json(const Subscriber *sub) {
        json_object *o = json_object_new_object(), *a = json_object_new_array();

        if (!o || !a) {
                json_object_put(o);
                json_object_put(a);
                return NULL;
        }
        for (size_t i = 0; i < sub->n_tenants; i++)
                json_object_array_add(a, json_object_new_int64(sub->tenants[i]));
        json_object_object_add(o, "port", json_object_new_int64(sub->portid));
        json_object_object_add(o, "pid", json_object_new_int((int) sub->pid));
        json_object_object_add(o, "uid", json_object_new_int64(sub->uid));
        json_object_object_add(o, "all", json_object_new_boolean(sub->all));
        json_object_object_add(o, "tenants", a);
        json_object_object_add(o, "sent", json_object_new_int64((int64_t) sub->sent_total));
        json_object_object_add(o, "lost", json_object_new_int64((int64_t) sub->lost_total));
        return o;
}

/* Subscriptions held by uid's subscribers. */
static size_t count_of_uid(const Subscriptions *s, uid_t uid) {
        size_t n = 0;

        for (const Subscriber *sub = s->list; sub; sub = sub->next)
                if (sub->uid == uid)
                        n += subscriber_count(sub);
        return n;
}

/* A new subscriber for who's process on portid, its pidfd watched. Returns 0 or fills reply. */
static int subscriber_new(Subscriptions *s, uint32_t portid, const Identity *who, Reply *reply, Subscriber **ret) {
        _cleanup_close_ int pidfd = -EBADF;
        Subscriber *sub;
        char desc[64];
        int r;

        pidfd = nl_peer_pidfd(who->pid, who->uid, NULL, 0, NULL);
        if (pidfd == -ENOMEM)
                return reply_errno(reply, pidfd, NULL);
        if (pidfd < 0)
                return reply_error(reply, REPLY_FORBIDDEN,
                                   "A subscription is bound to the subscribing process, and maiod cannot see process "
                                   "%d of uid %u (gone, or in another pid namespace)",
                                   (int) who->pid, (unsigned) who->uid);
        sub = calloc(1, sizeof *sub);
        if (!sub)
                return reply_errno(reply, -ENOMEM, NULL);
        *sub = (Subscriber) {
                .owner = s, .portid = portid, .pid = who->pid, .uid = who->uid, .admin = who->admin, .pidfd = -EBADF
        };
        r = sd_event_add_io(s->event, &sub->exit_source, pidfd, EPOLLIN, subscriber_on_exit, sub);
        if (r < 0) {
                free(sub);
                return reply_errno(reply, r, "Cannot watch the subscribing process: %m");
        }
        sub->pidfd = TAKE_FD(pidfd);
        snprintf(desc, sizeof desc, "netlink-subscriber-%" PRIu32, portid);
        (void) sd_event_source_set_description(sub->exit_source, desc);
        sub->next = s->list;
        s->list = sub;
        *ret = sub;
        return 0;
}

/* The subscriber of portid for who: the existing one, none yet (NULL), or a conflict. One whose
 * process exited (its pidfd event not dispatched yet) is dropped first. */
static int subscriber_for(Subscriptions *s, uint32_t portid, const Identity *who, Reply *reply, Subscriber **ret) {
        Subscriber *sub = subscriber_find(s, portid);

        if (sub && nl_pidfd_exited(sub->pidfd)) {
                subscriber_free(s, sub);
                sub = NULL;
        }
        if (sub && (sub->pid != who->pid || sub->uid != who->uid))
                return reply_error(reply, REPLY_CONFLICT,
                                   "Port id %" PRIu32 " has subscriptions of another process (pid %d); a subscription "
                                   "is bound to one process",
                                   portid, (int) sub->pid);
        *ret = sub;
        return 0;
}

int subscriptions_add(Subscriptions *s, uint32_t portid, const Identity *who, int64_t tenant_id, Reply *reply) {
        Subscriber *sub;
        size_t of_uid;
        int r;

        r = subscriber_for(s, portid, who, reply, &sub);
        if (r < 0)
                return r;
        if (!sub || !subscriber_has(sub, tenant_id)) {
                of_uid = count_of_uid(s, who->uid);
                if (s->stats->subscriptions >= s->conf->max_total)
                        return reply_error(reply, REPLY_INSUFFICIENT_STORAGE,
                                           "maiod holds %" PRIu64 " notification subscriptions, its limit "
                                           "([api] netlink_subscriptions_max)",
                                           s->stats->subscriptions);
                if (of_uid >= s->conf->max_per_uid)
                        return reply_error(reply, REPLY_INSUFFICIENT_STORAGE,
                                           "uid %u holds %zu notification subscriptions, the limit per uid "
                                           "([api] netlink_subscriptions_per_uid)",
                                           (unsigned) who->uid, of_uid);
                if (!sub && (r = subscriber_new(s, portid, who, reply, &sub)) < 0)
                        return r;
                if (tenant_id == 0)
                        sub->all = true;
                else {
                        int64_t *t = reallocarray(sub->tenants, sub->n_tenants + 1, sizeof *t);

                        if (!t) {
                                if (subscriber_count(sub) == 0)
                                        subscriber_free(s, sub);
                                return reply_errno(reply, -ENOMEM, NULL);
                        }
                        sub->tenants = t;
                        sub->tenants[sub->n_tenants++] = tenant_id;
                }
                s->stats->subscriptions++;
                if (tenant_id > 0)
                        log_debug("Port %" PRIu32 " (pid %d, uid %u) subscribed to tenant %" PRId64 ".", portid,
                                  (int) who->pid, (unsigned) who->uid, tenant_id);
                else
                        log_debug("Port %" PRIu32 " (pid %d, uid %u) subscribed to all its tenants.", portid,
                                  (int) who->pid, (unsigned) who->uid);
        }
        return reply_json(reply, 200, subscriber_to_json(sub));
}

/* Removes tenant_id (0: "all") from sub's subscriptions. Returns whether it had it. */
static bool subscriber_drop(Subscriptions *s, Subscriber *sub, int64_t tenant_id) {
        if (tenant_id == 0) {
                if (!sub->all)
                        return false;
                sub->all = false;
                s->stats->subscriptions--;
                return true;
        }
        for (size_t i = 0; i < sub->n_tenants; i++)
                if (sub->tenants[i] == tenant_id) {
                        sub->tenants[i] = sub->tenants[--sub->n_tenants];
                        s->stats->subscriptions--;
                        return true;
                }
        return false;
}

int subscriptions_remove(Subscriptions *s, uint32_t portid, const Identity *who, int64_t tenant_id, Reply *reply) {
        Subscriber *sub = subscriber_find(s, portid);
        size_t removed = 0;
        json_object *o;

        if (sub && sub->uid != who->uid && !who->admin)
                sub = NULL;
        if (tenant_id > 0 && (!sub || !subscriber_drop(s, sub, tenant_id)))
                return reply_error(reply, REPLY_NOT_FOUND, "Port id %" PRIu32 " is not subscribed to tenant %" PRId64,
                                   portid, tenant_id);
        if (tenant_id > 0)
                removed = 1;
        else if (sub)
                removed = subscriber_count(sub);
        if (sub && (tenant_id == 0 || subscriber_count(sub) == 0)) {
                subscriber_free(s, sub);
                sub = NULL;
        }
        o = sub ? subscriber_to_json(sub) : json_object_new_object();
        if (o) {
                json_object_object_add(o, "port", json_object_new_int64(portid));
                json_object_object_add(o, "removed", json_object_new_int64((int64_t) removed));
        }
        return reply_json(reply, 200, o);
}

/* ---- delivery ---- */

static bool subscriber_sees(const Subscriber *sub, const NotifyEvent *ev) {
        if (sub->all && (sub->admin || sub->uid == ev->owner))
                return true;
        return subscriber_has(sub, ev->tenant_id);
}

static void note_drop(Subscriptions *s, const Subscriber *sub) {
        uint64_t now = now_usec(CLOCK_MONOTONIC);

        s->drops_unlogged++;
        if (s->drop_logged_usec != 0 && now - s->drop_logged_usec < SUBSCRIPTIONS_LOG_USEC)
                return;
        log_notice("Netlink notifications dropped: port %" PRIu32 " (pid %d) does not read them fast enough; %" PRIu64
                   " dropped since the last such message, %" PRIu64 " in all.",
                   sub->portid, (int) sub->pid, s->drops_unlogged, s->stats->lost_total);
        s->drop_logged_usec = now;
        s->drops_unlogged = 0;
}

/* One notification to sub. Returns false when sub is gone (and freed). */
static bool deliver(Subscriptions *s, Subscriber *sub, const char *kind, int64_t tenant_id, const char *json,
                    size_t json_len) {
        static uint8_t buf[NOTIFICATION_MAX];
        struct nlmsghdr *nlh = (struct nlmsghdr *) buf;
        struct sockaddr_nl to = { .nl_family = AF_NETLINK, .nl_pid = sub->portid };
        size_t len = NOTIFICATION_HDR_LEN;

        *nlh = (struct nlmsghdr) { .nlmsg_type = MAIO_NL_MSG, .nlmsg_pid = s->port };
        *(struct maio_nlhdr *) NLMSG_DATA(nlh) =
                (struct maio_nlhdr) { .cmd = MAIO_CMD_NOTIFICATION, .version = MAIO_NL_VERSION };
        len = nl_put_attr(buf, len, MAIO_ATTR_EVENT, kind, strlen(kind), true);
        len = nl_put_attr(buf, len, MAIO_ATTR_ID, &tenant_id, sizeof tenant_id, false);
        if (sub->lost > 0)
                len = nl_put_attr(buf, len, MAIO_ATTR_LOST, &sub->lost, sizeof sub->lost, false);
        len = nl_put_attr(buf, len, MAIO_ATTR_JSON, json, json_len, true);
        nlh->nlmsg_len = (uint32_t) len;

        if (sendto(s->fd, buf, len, MSG_DONTWAIT, (struct sockaddr *) &to, sizeof to) >= 0) {
                sub->lost = 0;
                sub->sent_total++;
                s->stats->sent_total++;
                return true;
        }
        if (errno == ECONNREFUSED) { /* no socket on the port id any more */
                log_debug("Netlink subscriber port %" PRIu32 " is gone, its subscriptions end.", sub->portid);
                subscriber_free(s, sub);
                return false;
        }
        if (errno != EAGAIN && errno != ENOBUFS)
                log_debug_errno(errno, "Netlink notification to port %" PRIu32 " dropped: %m", sub->portid);
        if (sub->lost < UINT32_MAX)
                sub->lost++;
        sub->lost_total++;
        s->stats->lost_total++;
        note_drop(s, sub);
        return true;
}

void subscriptions_notify(void *userdata, const NotifyEvent *ev) {
        Subscriptions *s = userdata;
        const char *kind = notify_kind_to_string(ev->kind);
        const char *json =
                json_object_to_json_string_ext(ev->json, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        char small[64];
        size_t json_len;
        Subscriber *next;

        if (!kind || !json)
                return;
        json_len = strlen(json);
        if (json_len > MAIO_NL_PART_MAX) { /* one message each; the details can be read over the API */
                json_len = (size_t) snprintf(small, sizeof small, "{\"tenant\":%" PRId64 ",\"truncated\":true}",
                                             ev->tenant_id);
                json = small;
        }
        for (Subscriber *sub = s->list; sub; sub = next) {
                next = sub->next;
                if (!subscriber_sees(sub, ev))
                        continue;
                if (nl_pidfd_exited(sub->pidfd)) { /* its port id may be another process's by now */
                        subscriber_free(s, sub);
                        continue;
                }
                if (!deliver(s, sub, kind, ev->tenant_id, json, json_len))
                        continue;
                /* A subscription to a tenant that is gone ends with its last notification. */
                if (ev->kind == NOTIFY_TENANT_REMOVED && subscriber_drop(s, sub, ev->tenant_id) &&
                    subscriber_count(sub) == 0)
                        subscriber_free(s, sub);
        }
}

json_object *subscriptions_to_json(const Subscriptions *s, const Identity *who) {
        json_object *o = json_object_new_object(), *a = json_object_new_array();

        if (!o || !a) {
                json_object_put(o);
                json_object_put(a);
                return NULL;
        }
        for (const Subscriber *sub = s->list; sub; sub = sub->next)
                if (who->admin || who->uid == sub->uid)
                        json_object_array_add(a, subscriber_to_json(sub));
        json_object_object_add(o, "subscriptions", json_object_new_int64((int64_t) s->stats->subscriptions));
        json_object_object_add(o, "sent", json_object_new_int64((int64_t) s->stats->sent_total));
        json_object_object_add(o, "lost", json_object_new_int64((int64_t) s->stats->lost_total));
        json_object_object_add(o, "subscribers", a);
        return o;
}
