// SPDX-License-Identifier: LGPL-2.1-or-later
/* A tenant's addresses (declared, or those of its process's network namespace read below a
 * root) and the owner of a flow (mflow-tenants.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "mflow-tenants.h"

static void addr_add(MflowAddrSet *s, const uint8_t a[16]) {
        for (unsigned i = 0; i < s->n; i++)
                if (memcmp(s->a[i], a, 16) == 0)
                        return;
        if (s->n < MFLOW_OWNER_ADDRS)
                memcpy(s->a[s->n++], a, 16);
}

static bool addr_from_text(const char *text, uint8_t ret[16]) {
        uint8_t v4[4];

        if (strchr(text, ':'))
                return inet_pton(AF_INET6, text, ret) == 1;
        if (inet_pton(AF_INET, text, v4) != 1)
                return false;
        memset(ret, 0, 10);
        ret[10] = ret[11] = 0xff;
        memcpy(ret + 12, v4, 4);
        return true;
}

unsigned mflow_addrs_parse(const char *list, MflowAddrSet *ret) {
        const char *p = list ?: "";

        ret->n = 0;
        while (*p) {
                char word[64];
                size_t n = strcspn(p, " ,\t");
                uint8_t a[16];

                if (n > 0 && n < sizeof(word)) {
                        memcpy(word, p, n);
                        word[n] = '\0';
                        if (addr_from_text(word, a))
                                addr_add(ret, a);
                }
                p += n;
                p += strspn(p, " ,\t");
        }
        return ret->n;
}

/* fib_trie: an address line "|-- A.B.C.D" followed by "/32 host LOCAL" is a local address. */
static void read_fib_trie(FILE *f, MflowAddrSet *ret) {
        char line[256], last[INET_ADDRSTRLEN] = "";

        while (fgets(line, sizeof(line), f)) {
                const char *p = line + strspn(line, " ");
                uint8_t a[16];

                if (strncmp(p, "|-- ", 4) == 0) {
                        snprintf(last, sizeof(last), "%.*s", (int) strcspn(p + 4, " \n"), p + 4);
                        continue;
                }
                if (last[0] && strncmp(p, "/32 host LOCAL", 14) == 0 && addr_from_text(last, a) && a[12] != 127)
                        addr_add(ret, a);
                last[0] = '\0';
        }
}

/* if_inet6: "ADDR32HEX IFINDEX PREFIXLEN SCOPE FLAGS NAME"; scope 0 is global, 0x40 site. */
static void read_if_inet6(FILE *f, MflowAddrSet *ret) {
        char hex[33];
        unsigned ifindex, plen, scope, flags;
        char name[64];

        while (fscanf(f, "%32s %x %x %x %x %63s", hex, &ifindex, &plen, &scope, &flags, name) == 6) {
                uint8_t a[16];
                bool ok = strlen(hex) == 32;

                for (unsigned i = 0; ok && i < 16; i++) {
                        unsigned b;

                        ok = sscanf(hex + 2 * i, "%2x", &b) == 1;
                        a[i] = (uint8_t) b;
                }
                if (ok && (scope == 0x00 || scope == 0x40))
                        addr_add(ret, a);
        }
}

int mflow_netns_addrs(const char *root, pid_t pid, MflowAddrSet *ret) {
        char path[PATH_MAX];
        FILE *f;
        bool any = false;

        ret->n = 0;
        if (pid <= 0)
                return -EINVAL;
        snprintf(path, sizeof(path), "%s/proc/%d/net/fib_trie", root, (int) pid);
        f = fopen(path, "re");
        if (f) {
                read_fib_trie(f, ret);
                fclose(f);
                any = true;
        }
        snprintf(path, sizeof(path), "%s/proc/%d/net/if_inet6", root, (int) pid);
        f = fopen(path, "re");
        if (f) {
                read_if_inet6(f, ret);
                fclose(f);
                any = true;
        }
        return any ? (int) ret->n : -ENOENT;
}

int mflow_pid_starttime(const char *root, pid_t pid, uint64_t *ret) {
        char path[PATH_MAX], buf[1024], *p;
        unsigned long long v;
        size_t n;
        FILE *f;

        snprintf(path, sizeof(path), "%s/proc/%d/stat", root, (int) pid);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        /* The command may hold blanks and ')': the fields follow the last ')'. Field 3 comes
         * first there; field 22 is 19 fields on. */
        p = strrchr(buf, ')');
        if (!p)
                return -EBADMSG;
        p++;
        for (int field = 3; field < 22; field++) {
                p += strspn(p, " ");
                p += strcspn(p, " ");
        }
        if (sscanf(p, " %llu", &v) != 1)
                return -EBADMSG;
        *ret = v;
        return 0;
}

static bool set_has(const MflowAddrSet *s, const uint8_t a[16]) {
        for (unsigned i = 0; i < s->n; i++)
                if (memcmp(s->a[i], a, 16) == 0)
                        return true;
        return false;
}

int mflow_owner_find(const MflowOwner *owners, size_t n, const struct mflow_key *k) {
        for (int pass = 0; pass < 2; pass++)
                for (size_t i = 0; i < n; i++)
                        if (owners[i].declared == (pass == 0) &&
                            (set_has(&owners[i].addrs, k->src) || set_has(&owners[i].addrs, k->dst)))
                                return (int) i;
        return -1;
}
