/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fixture for check-layers: a sibling of daemon/pools. */
#pragma once

int tenants_remove(int id);
