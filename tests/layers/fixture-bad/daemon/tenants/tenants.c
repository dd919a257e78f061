/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fixture for check-layers: tenants.c includes its sibling daemon/pools. */
#include "pools.h"
#include "tenants.h"

int tenants_remove(int id) {
        return id > 0 ? pools_sync() : -1;
}
