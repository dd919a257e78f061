/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fleet's key names, the allowlist of source hosts and the compressed documents: pure
 * string work. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "cleanup.h"
#include "etcd.h"
#include "fleet.h"

static const char *const state_table[_FLEET_STATE_MAX] = {
        [FLEET_OFF] = "off",
        [FLEET_LOCAL_ONLY] = "local-only",
        [FLEET_CONNECTED] = "connected",
};

const char *fleet_state_to_string(FleetState s) {
        return s >= 0 && s < _FLEET_STATE_MAX ? state_table[s] : NULL;
}

char *fleet_model_key(const char *prefix, const char *workload_class, unsigned bucket, const char *host,
                      int64_t tenant) {
        char *k;

        if (asprintf(&k, "%s/models/%s/%u/%s/%" PRId64, prefix, workload_class, bucket, host, tenant) < 0)
                return NULL;
        return k;
}

bool fleet_host_valid(const char *host) {
        size_t n = strlen(host);

        return n > 0 && n <= 64 &&
               host[strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")] == '\0' &&
               strcmp(host, ".") != 0 && strcmp(host, "..") != 0;
}

int fleet_model_key_parse(const char *prefix, const char *key, char *host, size_t n, int64_t *ret_tenant) {
        size_t plen = strlen(prefix), hlen;
        const char *p, *slash;
        char *end;
        long long t;

        if (strncmp(key, prefix, plen) != 0 || strncmp(key + plen, "/models/", 8) != 0)
                return -EINVAL;
        p = key + plen + 8;
        /* CLASS/BUCKET/ */
        for (int i = 0; i < 2; i++) {
                slash = strchr(p, '/');
                if (!slash || slash == p)
                        return -EINVAL;
                p = slash + 1;
        }
        slash = strchr(p, '/');
        if (!slash)
                return -EINVAL;
        hlen = (size_t) (slash - p);
        if (hlen == 0 || hlen >= n)
                return -EINVAL;
        memcpy(host, p, hlen);
        host[hlen] = '\0';
        if (!fleet_host_valid(host) || slash[1] < '1' || slash[1] > '9')
                return -EINVAL;
        errno = 0;
        t = strtoll(slash + 1, &end, 10);
        if (errno != 0 || *end != '\0' || t <= 0)
                return -EINVAL;
        *ret_tenant = t;
        return 0;
}

bool fleet_source_allowed(const char *sources, const char *host) {
        size_t n = strlen(host);

        if (!sources || sources[strspn(sources, " \t,")] == '\0')
                return true;
        for (const char *p = sources; *p;) {
                size_t len;

                p += strspn(p, " \t,");
                len = strcspn(p, ", \t");
                if (len == n && strncmp(p, host, n) == 0)
                        return true;
                p += len;
        }
        return false;
}

static bool str_differ(const char *a, const char *b) {
        return strcmp(a ?: "", b ?: "") != 0;
}

bool fleet_connection_changed(const Config *a, const Config *b) {
        return str_differ(a->fleet_endpoints, b->fleet_endpoints) || str_differ(a->fleet_ca_file, b->fleet_ca_file) ||
               str_differ(a->fleet_cert_file, b->fleet_cert_file) || str_differ(a->fleet_key_file, b->fleet_key_file) ||
               str_differ(a->fleet_username, b->fleet_username) || str_differ(a->fleet_password, b->fleet_password) ||
               str_differ(a->fleet_prefix, b->fleet_prefix) || str_differ(a->fleet_host, b->fleet_host);
}

unsigned fleet_context_bucket(const double features[static TIER_N_FEATURES]) {
        unsigned key = 0;

        for (unsigned i = 0; i < TIER_N_FEATURES; i++) {
                unsigned q = (unsigned) (features[i] * FLEET_BUCKET_LEVELS);

                key = key * FLEET_BUCKET_LEVELS + (q >= FLEET_BUCKET_LEVELS ? FLEET_BUCKET_LEVELS - 1 : q);
        }
        return key;
}

int fleet_deflate_b64(const char *text, char **ret) {
        size_t n = strlen(text);
        uLongf out_n = compressBound((uLong) n);
        _cleanup_free_ unsigned char *out = malloc(out_n);

        if (!out)
                return -ENOMEM;
        if (compress2(out, &out_n, (const Bytef *) text, (uLong) n, Z_BEST_COMPRESSION) != Z_OK)
                return -ENOMEM;
        *ret = etcd_b64(out, out_n);
        return *ret ? 0 : -ENOMEM;
}

int fleet_inflate_b64(const char *b64, size_t bytes, char **ret) {
        _cleanup_free_ char *z = NULL, *out = NULL;
        uLongf out_n = (uLongf) bytes;
        size_t zn;
        int r;

        if (bytes == 0 || bytes > FLEET_DOCUMENT_MAX)
                return -EINVAL;
        r = etcd_unb64(b64, &z, &zn);
        if (r < 0)
                return r;
        out = malloc(bytes + 1);
        if (!out)
                return -ENOMEM;
        /* Exactly the announced size: a stream that inflates to more (or less) is refused. */
        if (uncompress((Bytef *) out, &out_n, (const Bytef *) z, (uLong) zn) != Z_OK || out_n != bytes ||
            memchr(out, '\0', bytes))
                return -EINVAL;
        out[bytes] = '\0';
        *ret = TAKE_PTR(out);
        return 0;
}
