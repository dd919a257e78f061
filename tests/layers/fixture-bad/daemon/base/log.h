/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fixture for check-layers: the bottom folder's public header. */
#pragma once

#include "macro.h"

int log_level(void);
