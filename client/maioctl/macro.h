/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* maioctl's private copy of the cleanup helpers (the client links nothing of the
 * daemon): _cleanup_(fn) destructors and TAKE_PTR to hand ownership out. */
#pragma once

#include <stdlib.h>

#include <json-c/json.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _printf_(a, b) __attribute__((format(printf, a, b)))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

/* Returns the value of p and sets p to NULL, so a cleanup handler on p does nothing. */
#define TAKE_PTR(p)                          \
        ({                                   \
                __typeof__(p) *_pp_ = &(p);  \
                __typeof__(p) _v_ = *_pp_;   \
                *_pp_ = NULL;                \
                _v_;                         \
        })

/* Defines static inline void funcp(type *p) calling func(*p) when *p is not NULL. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)          \
        static inline void func##p(type *p) {            \
                if (*p)                                  \
                        func(*p);                        \
        }

static inline void freep(void *p) {
        free(*(void **) p);
}

#define _cleanup_free_ _cleanup_(freep)

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put)
#define _cleanup_json_ _cleanup_(json_object_putp)
