/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* maioctl mflow list|set and flows: MFLOW's devices (/v1/mflow) and the elephant flows maiod
 * split over splitting cores (/v1/flows). */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "maioctl.h"
#include "reply.h"
#include "table.h"

static int mflow_list_table(json_object *reply) {
        static const Field cols[] = {
                { "DEVICE", "name" },  { "MODE", "mode" },
                { "XDP", "attached" }, { "CORES/FLOW", "cores_per_flow" },
                { "BATCH", "batch" },  { "CONFLICT", "conflict" },
                { "ERROR", "error" },
        };

        return maioctl_print_list(reply_member(reply, "devices", json_type_array), cols, ELEMENTSOF(cols));
}

ExitStatus mflow_list(const Args *a) {
        return maioctl_list(a, "/v1/mflow", "devices", mflow_list_table);
}

static int mflow_device_table(json_object *dev) {
        static const Field fields[] = {
                { "device", "name" },
                { "mode", "mode" },
                { "attached", "attached" },
                { "cores per flow", "cores_per_flow" },
                { "batch", "batch" },
                { "elephant bytes/s", "elephant_bytes_per_sec" },
                { "flowlet gap us", "flowlet_gap_us" },
                { "reordering counter", "reordering_counter" },
                { "pins", "pins" },
                { "conflict", "conflict" },
                { "error", "error" },
        };

        return maioctl_print_fields(dev, fields, ELEMENTSOF(fields));
}

ExitStatus mflow_set(const Args *a) {
        _cleanup_json_ json_object *body = json_object_new_object(), *reply = NULL;
        ExitStatus e;

        if (!body || json_object_object_add(body, "device", json_object_new_string(a->name)) < 0 ||
            (a->mflow_mode && json_object_object_add(body, "mode", json_object_new_string(a->mflow_mode)) < 0) ||
            (a->mflow_batch >= 0 && json_object_object_add(body, "batch", json_object_new_int64(a->mflow_batch)) < 0) ||
            (a->mflow_cores_per_flow >= 0 &&
             json_object_object_add(body, "cores_per_flow", json_object_new_int64(a->mflow_cores_per_flow)) < 0))
                return maioctl_local_error(-ENOMEM);
        e = maioctl_call(a, "PUT", "/v1/mflow", body, &reply);
        if (e != EXIT_OK)
                return e;
        if (!reply_string(reply, "name"))
                return maioctl_bad_reply(a, "no device object");
        return maioctl_output(a, reply, mflow_device_table);
}

/* "0,1" from an array of integers, into buf. */
static const char *int_list(json_object *flow, const char *key, char *buf, size_t size) {
        json_object *arr = reply_member(flow, key, json_type_array);
        size_t len = 0, n = arr ? json_object_array_length(arr) : 0;

        buf[0] = '\0';
        for (size_t i = 0; i < n && len < size; i++)
                len += (size_t) snprintf(buf + len, size - len, "%s%s", i ? "," : "",
                                         json_object_to_json_string(json_object_array_get_idx(arr, i)));
        return n ? buf : "-";
}

/* "batch 256", "flowlet 200us" (a split flow's setting: the adaptive mode's choice), "-" otherwise. */
static const char *flow_setting(json_object *f, char *buf, size_t size) {
        json_object *gap = NULL, *batch = NULL;

        if (json_object_object_get_ex(f, "flowlet_gap_us", &gap) && json_object_is_type(gap, json_type_int))
                snprintf(buf, size, "flowlet %" PRId64 "us", json_object_get_int64(gap));
        else if (json_object_object_get_ex(f, "batch", &batch) && json_object_is_type(batch, json_type_int))
                snprintf(buf, size, "batch %" PRId64, json_object_get_int64(batch));
        else
                snprintf(buf, size, "-");
        return buf;
}

static int flows_table(json_object *reply) {
        static const char *const header[] = { "PROTO",   "SOURCE",  "DESTINATION", "VNI",          "STATE", "MODE",
                                              "SETTING", "BYTES/S", "CORES",       "PACKETS/CORE", "OOO/M", "TENANT" };
        json_object *flows = reply_member(reply, "flows", json_type_array);
        _cleanup_(table_freep) Table *t = table_new(ELEMENTSOF(header), header);
        size_t n = flows ? json_object_array_length(flows) : 0;
        int r = t ? 0 : -ENOMEM;

        for (size_t i = 0; i < n && r >= 0; i++) {
                json_object *f = json_object_array_get_idx(flows, i);
                char cores[128], pkts[256], setting[64];

                r = table_add_cell(t, reply_text(f, "proto"));
                if (r >= 0)
                        r = table_add_cellf(t, "%s:%s", reply_text(f, "src"), reply_text(f, "sport"));
                if (r >= 0)
                        r = table_add_cellf(t, "%s:%s", reply_text(f, "dst"), reply_text(f, "dport"));
                if (r >= 0)
                        r = table_add_cell(t, reply_text(f, "vni"));
                if (r >= 0)
                        r = table_add_cell(t, reply_text(f, "state"));
                if (r >= 0)
                        r = table_add_cell(t, reply_text(f, "mode"));
                if (r >= 0)
                        r = table_add_cell(t, flow_setting(f, setting, sizeof(setting)));
                if (r >= 0)
                        r = table_add_cell(t, reply_text(f, "bytes_per_s"));
                if (r >= 0)
                        r = table_add_cell(t, int_list(f, "splitting_cores", cores, sizeof(cores)));
                if (r >= 0)
                        r = table_add_cell(t, int_list(f, "packets_per_core", pkts, sizeof(pkts)));
                if (r >= 0)
                        r = table_add_cell(t, reply_text(f, "ooo_per_million"));
                if (r >= 0)
                        r = table_add_cell(t, reply_text(f, "tenant"));
        }
        if (r < 0)
                return r;
        if (n == 0) {
                printf("No elephant flows.\n");
                return 0;
        }
        return table_print(t, stdout);
}

ExitStatus flows_list(const Args *a) {
        return maioctl_list(a, "/v1/flows", "flows", flows_table);
}
