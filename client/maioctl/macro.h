/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* maioctl's helpers on top of common/cleanup.h: the json-c cleanup. */
#pragma once

#include <json-c/json.h>

#include "cleanup.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put)
#define _cleanup_json_ _cleanup_(json_object_putp)
