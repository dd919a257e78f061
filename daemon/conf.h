/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* maiod.conf: one table of (section, key, parser, range, default, doc) drives
 * parsing (inih), validation, --check-config --print and the man page check. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum ConfType {
        CONF_UINT,      /* decimal unsigned, range [min, max] */
        CONF_BOOL,      /* yes/no/true/false/on/off/1/0, printed as yes/no */
        CONF_MODE,      /* octal file mode, range [min, max], printed as 0NNN */
        CONF_STRING,    /* free text, length <= max (0 = any); printed as is */
        CONF_LISTEN,    /* "" (off) or IPv4/IPv6 "host:port" / "[v6]:port" */
        CONF_LOG_LEVEL, /* a syslog level name, stored as LOG_* int */
        CONF_ENUM,      /* one of the words in ConfItem.words, stored as its index (unsigned) */
} ConfType;

typedef struct Config {
        /* [daemon] */
        int log_level;              /* LOG_* */
        unsigned status_interval_s; /* how often STATUS= is refreshed */

        /* [api] */
        char *listen;               /* "" = TCP listener off */
        unsigned socket_mode;       /* mode of RUNTIME_DIR/maiod.sock */
        char *admin_group;          /* "" = only uid 0 is admin */
        unsigned max_connections;   /* per listener */
        unsigned idle_timeout_s;    /* idle keep-alive connection is closed after this */
        unsigned request_timeout_s; /* a request must be complete within this from its first byte */
        unsigned json_max_depth;    /* nesting limit for request bodies */

        /* [tenants] */
        unsigned max_tenants;
        unsigned on_pid_exit;       /* TENANT_PID_EXIT_KEEP / _REMOVE (index into words) */
} Config;

enum {
        TENANT_PID_EXIT_KEEP,
        TENANT_PID_EXIT_REMOVE,
};

typedef struct ConfItem {
        const char *section;
        const char *key;
        ConfType type;
        size_t offset;           /* into Config */
        unsigned long min, max;  /* range for UINT/MODE; max length for STRING */
        const char *def;         /* default, in the same syntax as the file */
        const char *const *words; /* CONF_ENUM: NULL-terminated list */
        const char *doc;         /* one line for --print comments and the man page */
} ConfItem;

/* The table, for docs and tests. Never NULL; *ret_n is set to the row count. */
const ConfItem *conf_table(size_t *ret_n);

/* Allocates a Config holding every default. Returns 0 or -ENOMEM. */
int conf_new_default(Config **ret);

/* Loads `path` and then `path`.d/\*.conf in lexical order on top of the defaults.
 * A missing `path` is an error only when must_exist is set; a missing drop-in
 * directory never is. On failure returns -errno (-EINVAL for bad content) and
 * sets *ret_error (malloc'd, caller frees) to "FILE:LINE: message" or
 * "FILE: message"; on success *ret_error is NULL and *ret a new Config. */
int conf_load(const char *path, bool must_exist, Config **ret, char **ret_error);

/* Writes the normalised effective configuration as a valid INI file:
 * every section and key in table order, each preceded by "# doc". */
void conf_print(const Config *c, FILE *f);

/* Frees c and its strings; accepts NULL. Returns NULL. */
Config *conf_free(Config *c);

static inline void conf_freep(Config **c) {
        conf_free(*c);
}
