/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fixture for check-layers: util.h in common/ ... */
#pragma once

int util_min(int a, int b);
