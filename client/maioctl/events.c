/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* maioctl events [--tenant ID]: the daemon's event log, newest first. All events
 * (/v1/events) are for admins; one tenant's (/v1/tenants/ID/events) for its owner. */

#include "macro.h"
#include "maioctl.h"
#include "reply.h"

static int events_table(json_object *reply) {
        static const Field cols[] = {
                { "ID", "id" },     { "TIME", "time" },       { "TENANT", "tenant_id" },
                { "KIND", "kind" }, { "MESSAGE", "message" },
        };

        return maioctl_print_list(reply_member(reply, "events", json_type_array), cols, ELEMENTSOF(cols));
}

ExitStatus events_list(const Args *a) {
        char path[TENANT_PATH_MAX];

        return maioctl_list(a, a->tenant > 0 ? maioctl_tenant_path(path, a->tenant, "events") : "/v1/events", "events",
                            events_table);
}
