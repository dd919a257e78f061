/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The event kinds' words and notify_event(), which builds an event's JSON once for every listener;
 * the words of the scheduler's event classes (sched-event.h). */
#include <inttypes.h>
#include <stdbool.h>

#include "jsonutil.h"
#include "log.h"
#include "notify.h"
#include "sched-event.h"
#include "string-table.h"

static const char *const notify_kind_table[_NOTIFY_KIND_MAX] = {
        [NOTIFY_THRESHOLDS_CHANGED] = "thresholds-changed",
        [NOTIFY_TENANT_EXITED] = "tenant-exited",
        [NOTIFY_TENANT_REMOVED] = "tenant-removed",
        [NOTIFY_FLOW_ELEPHANT] = "flow-elephant",
        [NOTIFY_FLOW_SPLIT] = "flow-split",
        [NOTIFY_ALLOCATION_CHANGED] = "allocation-changed",
};
DEFINE_STRING_TABLE_LOOKUP(notify_kind, NotifyKind);

void notify_event(const Notifier *n, NotifyKind kind, int64_t tenant_id, uid_t owner, json_object *details) {
        _cleanup_(json_object_putp) json_object *o = NULL;

        if (!notify_wanted(n) || !notify_kind_to_string(kind)) {
                json_object_put(details);
                return;
        }
        o = json_object_new_object();
        if (!o || json_object_object_add(o, "tenant", json_object_new_int64(tenant_id)) < 0) {
                json_object_put(details);
                log_debug("Out of memory, event %s of tenant %" PRId64 " dropped.", notify_kind_to_string(kind),
                          tenant_id);
                return;
        }
        if (details && json_object_is_type(details, json_type_object)) {
                json_object_object_foreach(details, key, v) {
                        json_object_object_add(o, key, json_object_get(v));
                }
        }
        json_object_put(details);
        n->fn(n->userdata, &(NotifyEvent) { .kind = kind, .tenant_id = tenant_id, .owner = owner, .json = o });
}

static const char *const sched_event_class_table[_SCHED_EVENT_CLASS_MAX] = {
        [SCHED_EVENT_TENANT] = "tenant",     [SCHED_EVENT_PRESSURE] = "pressure", [SCHED_EVENT_HUGEPAGES] = "hugepages",
        [SCHED_EVENT_FEEDBACK] = "feedback", [SCHED_EVENT_LINK] = "link",         [SCHED_EVENT_FLOW] = "flow",
        [SCHED_EVENT_DRIFT] = "drift",       [SCHED_EVENT_TIMER] = "timer",
};
DEFINE_STRING_TABLE_TO_STRING(sched_event_class, SchedEventClass, )
