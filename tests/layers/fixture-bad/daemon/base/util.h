/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fixture for check-layers: ... and a second util.h: basenames must be unique. */
#pragma once

int util_max(int a, int b);
