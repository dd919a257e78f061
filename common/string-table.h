/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Enum <-> string pairs from one table: `static const char *const foo_table[] = { [FOO_A] = "a" };`
 * then DEFINE_STRING_TABLE_LOOKUP(foo, Foo) defines foo_to_string() and foo_from_string(). */
#pragma once

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "cleanup.h"

/* The word of i, or NULL outside the table (or for a hole in it). */
#define DEFINE_STRING_TABLE_TO_STRING(name, type, scope)    \
        scope const char *name##_to_string(type i) {        \
                if ((size_t) i >= ELEMENTSOF(name##_table)) \
                        return NULL;                        \
                return name##_table[i];                     \
        }

/* The index of s (>= 0), or -EINVAL for NULL or a word not in the table. */
#define DEFINE_STRING_TABLE_FROM_STRING(name, type, scope)                      \
        scope int name##_from_string(const char *s) {                           \
                if (!s)                                                         \
                        return -EINVAL;                                         \
                for (size_t i = 0; i < ELEMENTSOF(name##_table); i++)           \
                        if (name##_table[i] && strcmp(name##_table[i], s) == 0) \
                                return (int) i;                                 \
                return -EINVAL;                                                 \
        }

#define DEFINE_STRING_TABLE_LOOKUP(name, type)      \
        DEFINE_STRING_TABLE_TO_STRING(name, type, ) \
        DEFINE_STRING_TABLE_FROM_STRING(name, type, )

#define DEFINE_PRIVATE_STRING_TABLE_LOOKUP(name, type)    \
        DEFINE_STRING_TABLE_TO_STRING(name, type, static) \
        DEFINE_STRING_TABLE_FROM_STRING(name, type, static)
