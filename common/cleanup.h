/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Scope-based ownership helpers: _cleanup_(fn) destructors, TAKE_PTR/TAKE_FD
 * to hand ownership out of a cleanup-guarded local. */
#pragma once

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _warn_unused_result_ __attribute__((warn_unused_result))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

/* Returns the value of p and sets p to NULL, so a cleanup handler on p does nothing. */
#define TAKE_PTR(p)                         \
        ({                                  \
                __typeof__(p) *_pp_ = &(p); \
                __typeof__(p) _v_ = *_pp_;  \
                *_pp_ = NULL;               \
                _v_;                        \
        })

#define TAKE_FD(fd)                 \
        ({                          \
                int *_pfd_ = &(fd); \
                int _v_ = *_pfd_;   \
                *_pfd_ = -EBADF;    \
                _v_;                \
        })

/* Defines static inline void funcp(type *p) calling func(*p) when *p is not NULL. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func) \
        static inline void func##p(type *p) {   \
                if (*p)                         \
                        func(*p);               \
        }

static inline void freep(void *p) {
        free(*(void **) p);
}

static inline void closep(int *fd) {
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}

static inline void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}

/* Closes fd if valid and returns -EBADF, so "fd = safe_close(fd);" is idiomatic. */
static inline int safe_close(int fd) {
        closep(&fd);
        return -EBADF;
}

#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)
