/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fixture for check-layers: a public header. */
#pragma once

typedef struct Store Store;

int store_open(Store **ret);
