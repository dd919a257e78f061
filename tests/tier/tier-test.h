/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers shared by the tier unit tests (include after cmocka.h): cmocka here only compares
 * floats, and these tests need doubles. */
#pragma once

#include <math.h>

/* Fails unless |a - b| <= eps (NaN never passes). */
#define assert_double_equal(a, b, eps)                                                         \
        do {                                                                                   \
                double _a_ = (a), _b_ = (b), _e_ = (eps);                                      \
                if (!(fabs(_a_ - _b_) <= _e_))                                                 \
                        fail_msg("%s = %.17g, expected %.17g (within %g)", #a, _a_, _b_, _e_); \
        } while (0)
