/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Flows belong to tenants: a tenant's addresses, declared or read from the network namespace of
 * its process (ROOT/proc/PID/net, no setns), and the pure match of a flow key against them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mflow.h"

#define MFLOW_OWNER_ADDRS 64 /* addresses kept per tenant (declared ones are at most 16) */

/* IPv4 addresses IPv4-mapped (::ffff:a.b.c.d), as in struct mflow_key. */
typedef struct MflowAddrSet {
        unsigned n;
        uint8_t a[MFLOW_OWNER_ADDRS][16];
} MflowAddrSet;

typedef struct MflowOwner {
        int64_t tenant_id;
        uid_t uid;
        int priority;
        bool declared; /* the addresses were declared (else read from the pid's netns) */
        MflowAddrSet addrs;
} MflowOwner;

/* Parses a blank-separated list of IPv4/IPv6 addresses (a tenant's declared ones) into *ret;
 * words that are no address are skipped. Returns the number kept. */
unsigned mflow_addrs_parse(const char *list, MflowAddrSet *ret);

/* The addresses of the network namespace process pid is in, from ROOT/proc/PID/net/fib_trie
 * (local IPv4 host addresses) and ROOT/proc/PID/net/if_inet6 (global and site IPv6 ones);
 * loopback and link-local ones are left out (every namespace has them). Reading /proc/PID/net
 * sees that namespace without entering it (no setns in the daemon). Returns the number found, or
 * -errno (-ENOENT: no such process or no /proc/PID/net). */
int mflow_netns_addrs(const char *root, pid_t pid, MflowAddrSet *ret);

/* Field 22 of ROOT/proc/PID/stat (the start time in clock ticks), to tell a tenant's process from
 * a later one with its pid. Returns 0 or -errno. */
int mflow_pid_starttime(const char *root, pid_t pid, uint64_t *ret);

/* The owner of a flow: the first owner with declared addresses holding its source or
 * destination, else the first owner whose namespace holds one of them (owners in the order
 * given, by tenant id). Returns the index into owners, or -1 for an unattributed flow. */
int mflow_owner_find(const MflowOwner *owners, size_t n, const struct mflow_key *k);
