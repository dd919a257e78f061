/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fixture for check-layers: the top folder. */
#include <stdio.h>

#include "journal.h"
#include "log.h"
#include "maio-config.h"
#include "store.h"
#include "tier.h"

int main(void) {
        Store *s;

        if (store_open(&s) < 0)
                return 1;
        return tier_apply(log_level()) < 0;
}
