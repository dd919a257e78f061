/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fixture for check-layers: shared macros (top-level common/). */
#pragma once

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
