/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fixture for check-layers: the nested folder includes its parent daemon/tier and daemon/base. */
#include <math.h>

#include "log.h"
#include "policy-internal.h"
#include "policy.h"
#include "tier.h"

double policy_score(double x) {
        return x * POLICY_SCALE;
}
