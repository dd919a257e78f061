/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fixture for check-layers: a header private to daemon/tier/policy. */
#pragma once

#define POLICY_SCALE 2.0
