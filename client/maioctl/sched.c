/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* maioctl sched and alloc: the scheduler's mode, queue, events and reaction latency
 * (/v1/scheduler), and each scheduled resource's demands and allocations (/v1/allocations). */
#include <errno.h>
#include <stdio.h>

#include "macro.h"
#include "maioctl.h"
#include "reply.h"
#include "table.h"

static int sched_table(json_object *reply) {
        static const char *const classes[] = { "tenant", "pressure", "hugepages", "feedback",
                                               "link",   "flow",     "drift",     "timer" };
        json_object *queue = reply_member(reply, "queue", json_type_object),
                    *events = reply_member(reply, "events", json_type_object),
                    *reaction = reply_member(reply, "reaction", json_type_object);
        _cleanup_(table_freep) Table *t = table_new(2, NULL);
        int r = t ? 0 : -ENOMEM;

        if (r >= 0)
                r = table_add_pair(t, "Mode", reply_text(reply, "mode"));
        if (r >= 0)
                r = table_add_pairf(t, "Period", "%s ms (periodic mode)", reply_text(reply, "period_ms"));
        if (r >= 0)
                r = table_add_pairf(t, "Fallback", "%s s (event mode)", reply_text(reply, "fallback_sec"));
        if (r >= 0)
                r = table_add_pairf(t, "Queue", "%s waiting (at most %s, %s dropped)", reply_text(queue, "depth"),
                                    reply_text(queue, "max"), reply_text(queue, "dropped"));
        if (r >= 0)
                r = table_add_pairf(t, "Passes", "%s (%s full)", reply_text(reply, "passes"),
                                    reply_text(reply, "full_passes"));
        if (r >= 0) {
                char line[512];
                size_t len = 0;

                line[0] = '\0';
                for (size_t i = 0; i < ELEMENTSOF(classes) && len < sizeof line; i++)
                        len += (size_t) snprintf(line + len, sizeof line - len, "%s%s %s", i ? ", " : "", classes[i],
                                                 reply_text(events, classes[i]));
                r = table_add_pair(t, "Events", line);
        }
        if (r >= 0)
                r = table_add_pairf(t, "Reaction", "p50 %s ms, p99 %s ms, max %s ms over %s",
                                    reply_text(reaction, "p50_ms"), reply_text(reaction, "p99_ms"),
                                    reply_text(reaction, "max_ms"), reply_text(reaction, "count"));
        return r < 0 ? r : table_print(t, stdout);
}

ExitStatus sched_show(const Args *a) {
        _cleanup_json_ json_object *reply = NULL;
        ExitStatus e;

        e = maioctl_call(a, "GET", "/v1/scheduler", NULL, &reply);
        if (e != EXIT_OK)
                return e;
        if (!reply_string(reply, "mode"))
                return maioctl_bad_reply(a, "no \"mode\"");
        return maioctl_output(a, reply, sched_table);
}

static int alloc_table(json_object *reply) {
        static const char *const header[] = { "RESOURCE", "UNIT",   "CAPACITY",  "TENANT",
                                              "PRIORITY", "DEMAND", "ALLOCATION" };
        json_object *res = reply_member(reply, "resources", json_type_array);
        _cleanup_(table_freep) Table *t = table_new(ELEMENTSOF(header), header);
        size_t n = res ? json_object_array_length(res) : 0, rows = 0;
        int r = t ? 0 : -ENOMEM;

        for (size_t i = 0; i < n && r >= 0; i++) {
                json_object *o = json_object_array_get_idx(res, i), *ts = reply_member(o, "tenants", json_type_array);
                size_t m = ts ? json_object_array_length(ts) : 0;

                for (size_t j = 0; j < m && r >= 0; j++, rows++) {
                        json_object *x = json_object_array_get_idx(ts, j);

                        r = table_add_cell(t, reply_text(o, "name"));
                        if (r >= 0)
                                r = table_add_cell(t, reply_text(o, "unit"));
                        if (r >= 0)
                                r = table_add_cell(t, reply_text(o, "capacity"));
                        if (r >= 0)
                                r = table_add_cell(t, reply_text(x, "id"));
                        if (r >= 0)
                                r = table_add_cell(t, reply_text(x, "priority"));
                        if (r >= 0)
                                r = table_add_cell(t, reply_text(x, "demand"));
                        if (r >= 0)
                                r = table_add_cell(t, reply_text(x, "allocation"));
                }
        }
        if (r < 0)
                return r;
        if (rows == 0) {
                printf("No allocations.\n");
                return 0;
        }
        return table_print(t, stdout);
}

ExitStatus alloc_list(const Args *a) {
        return maioctl_list(a, "/v1/allocations", "resources", alloc_table);
}
