/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Netlink notification subscriptions: which port id hears of which tenants' events, each bound to
 * the subscribing process through a pidfd (it ends when that process exits), within per-uid and
 * total limits; and delivery by unicast that never blocks, counting what a full subscriber lost. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>
#include <systemd/sd-event.h>

#include "notify.h"
#include "reply.h"
#include "request.h"

typedef struct Subscriptions Subscriptions;

/* [api] netlink_subscriptions_max and netlink_subscriptions_per_uid (re-read on reload; lowering
 * them ends no subscription, it refuses new ones). */
typedef struct SubscriptionsConf {
        unsigned max_total;
        unsigned max_per_uid;
} SubscriptionsConf;

typedef struct SubscriptionStats {
        uint64_t sent_total;    /* notifications delivered */
        uint64_t lost_total;    /* notifications dropped: the subscriber's receive buffer was full */
        uint64_t subscriptions; /* now: one per (port id, tenant) and per (port id, all tenants) */
} SubscriptionStats;

/* Delivers from socket fd, bound to port id `port` (both borrowed); watches subscribers' processes
 * on event. conf and stats are borrowed and outlive the result. Returns 0 or -ENOMEM. */
int subscriptions_new(sd_event *event, int fd, uint32_t port, const SubscriptionsConf *conf, SubscriptionStats *stats,
                      Subscriptions **ret);
/* Ends every subscription. Accepts NULL; returns NULL. */
Subscriptions *subscriptions_free(Subscriptions *s);
static inline void subscriptions_freep(Subscriptions **s) {
        subscriptions_free(*s);
}

/* Subscribes port id portid, sent from by who's process, to the events of tenant_id (> 0; the
 * caller checked that who may see it) or, with 0, of all who's tenants (an administrator's: of
 * every tenant). Idempotent. Returns 0 with a 200 reply naming the port's subscriptions, or fills
 * reply: forbidden (the process cannot be bound: pid not visible, gone, or no longer of who's
 * uid), conflict (another live process has subscriptions on portid), insufficient-storage (a
 * limit). */
int subscriptions_add(Subscriptions *s, uint32_t portid, const Identity *who, int64_t tenant_id, Reply *reply);

/* Ends portid's subscription to tenant_id, or with 0 every subscription of portid. Returns 0 with
 * a 200 reply ({"removed":N} and what remains), or not-found for a tenant portid is not subscribed
 * to (or a port id of another uid, unless who is an administrator). */
int subscriptions_remove(Subscriptions *s, uint32_t portid, const Identity *who, int64_t tenant_id, Reply *reply);

/* A NotifyFn: sends ev to every subscriber that may see it (MSG_DONTWAIT), at most once each. A
 * full subscriber loses it (counted, and said by MAIO_ATTR_LOST of the next one it gets); a gone
 * one (ECONNREFUSED, or its process exited) loses its subscriptions. After tenant-removed the
 * subscriptions to that tenant end. */
void subscriptions_notify(void *userdata, const NotifyEvent *ev);

/* {"subscriptions":N,"sent":N,"lost":N,"subscribers":[{"port","pid","uid","all","tenants","sent",
 * "lost"}...]}: the counters of all, and every subscriber for an administrator, else those of
 * who's uid. NULL on OOM. */
json_object *subscriptions_to_json(const Subscriptions *s, const Identity *who);
