/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one entry point through which a module announces an event about a tenant to subscribers
 * (netlink notifications, daemon/api) without knowing who listens: the Manager points each
 * emitting module at a Notifier once the listener exists. Calls go down, events go up. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

/* Event kinds; the words are part of the netlink API (MAIO_ATTR_EVENT, api/netlink.md). */
typedef enum NotifyKind {
        NOTIFY_THRESHOLDS_CHANGED, /* the tiering side published new thresholds for the tenant */
        NOTIFY_TENANT_EXITED,      /* the tenant's watched process exited */
        NOTIFY_TENANT_REMOVED,     /* the tenant is gone (deleted, or removed after its process exited) */
        NOTIFY_FLOW_ELEPHANT,      /* an elephant flow of the tenant was detected (details: the flow) */
        NOTIFY_FLOW_SPLIT,         /* an elephant flow of the tenant got its splitting cores (details: the flow) */
        NOTIFY_ALLOCATION_CHANGED, /* the tenant's share of a scarce resource changed */
        _NOTIFY_KIND_MAX,
} NotifyKind;

/* "thresholds-changed", ...; NULL outside the enum. */
const char *notify_kind_to_string(NotifyKind k);
/* The kind of a word, or -EINVAL. */
int notify_kind_from_string(const char *s);

/* One event as a listener receives it; everything borrowed for the call only. */
typedef struct NotifyEvent {
        NotifyKind kind;
        int64_t tenant_id;
        uid_t owner;       /* the tenant's owner: who besides administrators may see the event */
        json_object *json; /* {"tenant":ID, ...the emitter's details} */
} NotifyEvent;

typedef void (*NotifyFn)(void *userdata, const NotifyEvent *ev);

typedef struct Notifier {
        NotifyFn fn; /* NULL: nobody listens */
        void *userdata;
} Notifier;

/* Whether anyone listens on n (NULL allowed): an emitter may skip building its details if not. */
static inline bool notify_wanted(const Notifier *n) {
        return n && n->fn;
}

/* Announces kind about tenant_id (owned by owner) with details (an object whose members follow
 * "tenant" in the event's JSON; NULL for none; consumed in every case). Never fails: an event
 * that cannot be built (out of memory) is dropped, logged at debug. */
void notify_event(const Notifier *n, NotifyKind kind, int64_t tenant_id, uid_t owner, json_object *details);
