/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fixture for check-layers: a file in no listed folder. */
#include "log.h"

int stray(void);

int stray(void) {
        return log_level();
}
