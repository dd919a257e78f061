/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* maioctl events [--tenant ID]: the daemon's event log, newest first. All events
 * (/v1/events) are for admins; one tenant's (/v1/tenants/ID/events) for its owner. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "macro.h"
#include "maioctl.h"
#include "reply.h"
#include "table.h"

static int events_add_row(Table *t, json_object *event) {
        static const char *const keys[] = { "id", "time", "tenant_id", "kind", "message" };
        int r;

        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                r = table_add_cell(t, reply_text(event, keys[i]));
                if (r < 0)
                        return r;
        }
        return 0;
}

ExitStatus events_list(const Args *a) {
        static const char *const header[] = { "ID", "TIME", "TENANT", "KIND", "MESSAGE" };
        _cleanup_json_ json_object *reply = NULL;
        _cleanup_(table_freep) Table *t = NULL;
        char path[64] = "/v1/events";
        json_object *list;
        ExitStatus e;
        int r;

        if (a->tenant > 0)
                snprintf(path, sizeof path, "/v1/tenants/%" PRId64 "/events", a->tenant);

        e = maioctl_call(a, "GET", path, NULL, &reply);
        if (e != EXIT_OK)
                return e;
        list = reply_member(reply, "events", json_type_array);
        if (!list)
                return maioctl_bad_reply(a, "no \"events\" array");
        if (a->output == OUTPUT_JSON)
                return maioctl_print_json(reply);

        t = table_new(ELEMENTSOF(header), header);
        if (!t)
                return maioctl_local_error(-ENOMEM);
        for (size_t i = 0; i < json_object_array_length(list); i++) {
                r = events_add_row(t, json_object_array_get_idx(list, i));
                if (r < 0)
                        return maioctl_local_error(r);
        }
        return maioctl_print_table(t);
}
