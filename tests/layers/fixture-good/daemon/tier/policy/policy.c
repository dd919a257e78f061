/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fixture for check-layers: the nested folder. */
#include <math.h>

#include "policy-internal.h"
#include "policy.h"

/* #include "tier.h" would be upward; a commented-out include is not one. */
double policy_score(double x) {
        return x * POLICY_SCALE;
}
