/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fixture for check-layers: a header private to daemon/store. */
#pragma once

#include "store.h"

struct Store {
        int fd;
};
