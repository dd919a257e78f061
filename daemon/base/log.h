/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Logging: to the journal with structured fields when stderr is the journal
 * stream (JOURNAL_STREAM), to syslog when daemonized, else to stderr. */
#pragma once

#include <stdlib.h>
#include <syslog.h>

#include "cleanup.h"

typedef enum LogTarget {
        LOG_TARGET_AUTO, /* journal if JOURNAL_STREAM names our stderr, else stderr */
        LOG_TARGET_STDERR,
        LOG_TARGET_JOURNAL,
        LOG_TARGET_SYSLOG,
} LogTarget;

/* Picks the target (AUTO resolves here). Never fails. */
void log_open(LogTarget target);
void log_set_max_level(int level);
int log_get_max_level(void);

/* Parses "debug|info|notice|warning|err|crit|alert|emerg" (also "error", "warn", digits 0..7).
 * Returns the LOG_* level or -EINVAL. */
int log_level_from_string(const char *s);
const char *log_level_to_string(int level);

/* Emits one record. `error` is a positive or negative errno or 0; it is made
 * available to %m and added as ERRNO=. `field` is an optional "KEY=value"
 * journal field (NULL for none). Returns -abs(error). */
int log_internal(int level, int error, const char *field, const char *file, int line, const char *func,
                 const char *format, ...) __attribute__((format(printf, 7, 8)));

#define log_full_errno_field(level, error, field, ...)                                               \
        ({                                                                                           \
                int _l_ = (level), _e_ = (error);                                                    \
                (log_get_max_level() >= _l_)                                                         \
                        ? log_internal(_l_, _e_, (field), __FILE__, __LINE__, __func__, __VA_ARGS__) \
                        : -abs(_e_);                                                                 \
        })

#define log_full_errno(level, error, ...) log_full_errno_field(level, error, NULL, __VA_ARGS__)
#define log_full(level, ...) (void) log_full_errno(level, 0, __VA_ARGS__)

#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)

#define log_debug_errno(error, ...) log_full_errno(LOG_DEBUG, error, __VA_ARGS__)
#define log_info_errno(error, ...) log_full_errno(LOG_INFO, error, __VA_ARGS__)
#define log_notice_errno(error, ...) log_full_errno(LOG_NOTICE, error, __VA_ARGS__)
#define log_warning_errno(error, ...) log_full_errno(LOG_WARNING, error, __VA_ARGS__)
#define log_error_errno(error, ...) log_full_errno(LOG_ERR, error, __VA_ARGS__)

/* Error on allocation failure, the common case that needs no message of its own. */
#define log_oom() log_error_errno(ENOMEM, "Out of memory.")
