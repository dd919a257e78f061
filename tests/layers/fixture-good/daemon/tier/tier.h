/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fixture for check-layers: a public header. */
#pragma once

int tier_apply(double x);
