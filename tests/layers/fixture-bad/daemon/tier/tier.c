/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fixture for check-layers: tier.c uses the nested folder below it. */
#include "journal.h"
#include "policy.h"
#include "tier.h"

int tier_apply(double x) {
        return journal_set("tier", policy_score(x) > 1.0 ? "hot" : "cold");
}
