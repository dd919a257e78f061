/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fixture for check-layers: a sibling of daemon/tenants. */
#pragma once

int pools_sync(void);
