/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fixture for check-layers: a nested folder's public header. */
#pragma once

double policy_score(double x);
