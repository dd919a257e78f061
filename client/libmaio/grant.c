/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The hugepage grant: one POST to maiod over its unix socket through the control client's REST
 * connection (ctl-rest.c), the reply parsed with json-c. An absent daemon or endpoint means "work
 * standalone". */

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "ctl-internal.h"
#include "maio-internal.h"

/* json-c's error style (NULL, wrong types) -> -EPROTO, in one place. The poller CPU is -1 unless
 * the reply holds a "poller_cpu" integer; "poller_reason" goes to reason. */
static int grant_parse_json(const char *body, maio_grant *ret, int *ret_cpu, char *reason, size_t size) {
        json_object *root = json_tokener_parse(body), *v;
        int r = -EPROTO;
        if (!root)
                return -EPROTO;
        if (json_object_is_type(root, json_type_object) && json_object_object_get_ex(root, "pages", &v) &&
            json_object_is_type(v, json_type_int) && json_object_get_int64(v) >= 0) {
                ret->pages = (uint64_t) json_object_get_int64(v);
                ret->numa_node = -1;
                if (json_object_object_get_ex(root, "node", &v) && json_object_is_type(v, json_type_int))
                        ret->numa_node = json_object_get_int(v);
                *ret_cpu = -1;
                if (json_object_object_get_ex(root, "poller_cpu", &v) && json_object_is_type(v, json_type_int) &&
                    json_object_get_int(v) >= 0)
                        *ret_cpu = json_object_get_int(v);
                if (reason && size > 0 && json_object_object_get_ex(root, "poller_reason", &v) &&
                    json_object_is_type(v, json_type_string))
                        snprintf(reason, size, "%s", json_object_get_string(v));
                r = 0;
        }
        json_object_put(root);
        return r;
}

static bool grant_tenant_valid(const char *t) {
        size_t n = strlen(t);
        if (n == 0 || n > 128)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char) t[i]) && !strchr("._-", t[i]))
                        return false;
        return true;
}

/* One exchange over the control client's REST connection (ctl-rest.c); *ret_status is the HTTP
 * status once there was an answer. */
static int grant_once(const char *socket_path, const char *tenant, int numa_node, uint64_t bytes, bool poller,
                      int64_t deadline, int *ret_status, maio_grant *ret, int *ret_cpu, char *reason, size_t size) {
        _cleanup_free_ char *reply = NULL;
        char path[128], body[160];
        int64_t left = deadline - ring_now_ms();
        int status = 0, r;
        size_t len = 0;
        CtlRest rest;

        if (left <= 0)
                return -ETIMEDOUT;
        r = ctl_rest_open(&rest, socket_path, (int) left);
        if (r == -ENOENT || r == -ECONNREFUSED || r == -ENOTDIR) {
                ctl_rest_close(&rest);
                return 0; /* no daemon: work standalone */
        }
        if (r >= 0) {
                /* maiod's MaioGrantRequest (api/openapi.yaml): a grant is always for one node. */
                snprintf(path, sizeof path, "/v1/tenants/%s/maio", tenant);
                snprintf(body, sizeof body, "{\"bytes\":%" PRIu64 ",\"node\":%d%s}", bytes,
                         numa_node >= 0 ? numa_node : 0, poller ? ",\"poller\":true" : "");
                r = ctl_rest_exchange(&rest, "POST", path, body, &status, &reply, &len);
        }
        ctl_rest_close(&rest);
        if (r == -ECONNRESET)
                return 0; /* it went away */
        if (r < 0)
                return r;
        *ret_status = status;
        if (status == 404)
                return 0;
        if (status < 200 || status > 299)
                return -status;
        maio_grant g;
        r = grant_parse_json(reply ? reply : "", &g, ret_cpu, reason, size);
        if (r < 0)
                return r;
        if (g.pages == 0)
                return 0;
        *ret = g;
        return 1;
}

int grant_ask(const char *socket_path, const char *tenant, int numa_node, uint64_t bytes, bool poller, int timeout_ms,
              maio_grant *ret, int *ret_poller_cpu, char *ret_reason, size_t size) {
        int status = 0, cpu = -1, r;

        if (!socket_path || !tenant || !ret || !grant_tenant_valid(tenant) || timeout_ms <= 0)
                return -EINVAL;
        if (ret_reason && size > 0)
                ret_reason[0] = 0;
        int64_t deadline = ring_now_ms() + timeout_ms;
        r = grant_once(socket_path, tenant, numa_node, bytes, poller, deadline, &status, ret, &cpu, ret_reason, size);
        if (r == -400 && poller) {
                /* A maiod from before poller CPUs refuses the field: ask for the pages alone. */
                r = grant_once(socket_path, tenant, numa_node, bytes, false, deadline, &status, ret, &cpu, ret_reason,
                               size);
                if (ret_reason && size > 0)
                        snprintf(ret_reason, size, "maiod does not hand out poller CPUs");
        }
        if (ret_poller_cpu)
                *ret_poller_cpu = r > 0 ? cpu : -1;
        return r;
}

int maio_daemon_grant(const char *socket_path, const char *tenant, int numa_node, uint64_t bytes, int timeout_ms,
                      maio_grant *ret) {
        return grant_ask(socket_path, tenant, numa_node, bytes, false, timeout_ms, ret, NULL, NULL, 0);
}
