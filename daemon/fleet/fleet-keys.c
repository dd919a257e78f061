/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fleet's key names, the allowlist of source hosts and the compressed documents: pure
 * string work. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
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

static double bucket_bound(const double features[static TIER_N_FEATURES], unsigned own, unsigned b) {
        double d = 0;

        /* Feature i is digit TIER_N_FEATURES - 1 - i of the bucket (two levels: one bit). */
        for (unsigned i = 0; i < TIER_N_FEATURES; i++) {
                unsigned bit = 1U << (TIER_N_FEATURES - 1 - i);

                if ((own ^ b) & bit) {
                        double x = features[i] < 0 ? 0 : features[i] > 1 ? 1 : features[i];

                        d += (x - 0.5) * (x - 0.5);
                }
        }
        return sqrt(d);
}

void fleet_scan_init(FleetScan *s, const double features[static TIER_N_FEATURES]) {
        unsigned own = fleet_context_bucket(features);

        _Static_assert(FLEET_BUCKET_LEVELS == 2 && FLEET_BUCKETS == 1U << TIER_N_FEATURES, "one bit a feature");
        *s = (FleetScan) {};
        /* Insertion sort by bound, then by the number of differing features, then bucket. */
        for (unsigned b = 0; b < FLEET_BUCKETS; b++) {
                double d = bucket_bound(features, own, b);
                unsigned j = b;

                while (j > 0 &&
                       (s->bound[j - 1] > d || (s->bound[j - 1] == d && __builtin_popcount(s->order[j - 1] ^ own) >
                                                                                __builtin_popcount(b ^ own)))) {
                        s->order[j] = s->order[j - 1];
                        s->bound[j] = s->bound[j - 1];
                        j--;
                }
                s->order[j] = b;
                s->bound[j] = d;
        }
}

void fleet_scan_done(FleetScan *s) {
        free(s->after);
        s->after = NULL;
}

int fleet_scan_next(FleetScan *s, const char *prefix, const char *workload_class, double best, char **ret_key,
                    size_t *ret_key_n, char **ret_end, unsigned *ret_limit) {
        _cleanup_free_ char *bucket = NULL, *key = NULL, *end = NULL;
        size_t n;

        if (s->next >= FLEET_BUCKETS || s->bound[s->next] >= best)
                return 0;
        if (s->keys >= FLEET_SCAN_KEYS_MAX) {
                s->truncated = true;
                return 0;
        }
        if (asprintf(&bucket, "%s/models/%s/%u/", prefix, workload_class, s->order[s->next]) < 0)
                return -ENOMEM;
        end = etcd_prefix_end(bucket);
        if (!end)
                return -ENOMEM;
        if (s->after) {
                /* The least key after the last one read: it with a NUL byte appended. */
                n = strlen(s->after) + 1;
                key = malloc(n + 1);
                if (!key)
                        return -ENOMEM;
                memcpy(key, s->after, n); /* its NUL included */
                key[n] = '\0';
        } else {
                n = strlen(bucket);
                key = TAKE_PTR(bucket);
        }
        *ret_key = TAKE_PTR(key);
        *ret_key_n = n;
        *ret_end = TAKE_PTR(end);
        *ret_limit = FLEET_SCAN_KEYS_MAX - s->keys < FLEET_SCAN_PAGE ? (unsigned) (FLEET_SCAN_KEYS_MAX - s->keys)
                                                                     : FLEET_SCAN_PAGE;
        return 1;
}

int fleet_scan_feed(FleetScan *s, size_t n, const char *last_key, bool more) {
        s->keys += n;
        if (more && n > 0 && last_key) {
                char *a = strdup(last_key);

                if (!a)
                        return -ENOMEM;
                free(s->after);
                s->after = a;
                return 0;
        }
        /* The bucket is read whole: the next one. */
        free(s->after);
        s->after = NULL;
        s->next++;
        return 0;
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
