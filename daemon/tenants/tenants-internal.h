/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared between tenants.c and tenants-admission.c: accessors and the admission checks the
 * registration and update handlers run. */
#pragma once

#include "tenants.h"

Store *tenants_store(Tenants *t);
const TenantsConf *tenants_conf(Tenants *t);
const char *tenants_root(Tenants *t);

/* The number of tenants uid holds. Returns 0 and *ret, or -errno. */
int tenants_uid_count(Tenants *t, uid_t uid, size_t *ret);

/* Checks a registration by who against the admission limits (admins pass): the priority, the count
 * of who's tenants, and that t->cgroup (already known to exist) is delegated to who. Returns 0, or a
 * negative errno with a 403 in reply naming the limit. */
int tenants_admit_new(Tenants *t, const Identity *who, const Tenant *tenant, Reply *reply);

/* Checks a priority change from old_priority by who (admins pass; keeping the old one passes).
 * Returns 0, or a negative errno with a 403 in reply. */
int tenants_admit_priority(Tenants *t, const Identity *who, int old_priority, int priority, Reply *reply);

/* Whether the admission limits differ from those seen at the previous call (false at the first,
 * which only takes note); remembers the current ones. */
bool tenants_limits_changed(Tenants *t);
