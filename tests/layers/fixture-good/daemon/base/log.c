/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fixture for check-layers: a file of the bottom folder. */
#include "log.h"

int log_level(void) {
        return 6;
}
