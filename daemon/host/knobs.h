/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The registry of kernel knobs maiod may own (one table of KnobDef rows), name
 * resolution to a path below --root, value validation, and the raw read /
 * write-and-verify with errno triage. Nothing here journals: journal.c does. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Longest knob name; longest value accepted or read (a CPU mask of 4096 CPUs fits). */
#define KNOB_NAME_MAX 128
#define KNOB_VALUE_MAX 4096

typedef enum KnobAddressing {
        KNOB_PROCSYS, /* a sysctl below ROOT/proc/sys */
        KNOB_SYSFS,   /* below ROOT/sys */
        KNOB_DEBUGFS, /* below ROOT/sys/kernel/debug (debugfs must be mounted) */
        _KNOB_ADDRESSING_MAX,
} KnobAddressing;

typedef enum KnobScope {
        KNOB_SCOPE_GLOBAL,  /* one per host */
        KNOB_SCOPE_NODE,    /* one per NUMA node: {N} */
        KNOB_SCOPE_NETDEV,  /* one per network device: {dev} */
        KNOB_SCOPE_RXQUEUE, /* one per receive queue: {dev} and {q} */
        KNOB_SCOPE_NETNS,   /* one per network namespace: maiod's own */
        KNOB_SCOPE_DAMON,   /* a DAMON sysfs file: {k} kdamond, {s} scheme; the kernel creates these
                             * directories on demand, so instances are listed once journaled */
        _KNOB_SCOPE_MAX,
} KnobScope;

typedef enum KnobType {
        KNOB_INT,     /* decimal integer in [min, max] */
        KNOB_BOOL,    /* written as words[0] (false) or words[1] (true) */
        KNOB_CPUMASK, /* hex words of up to 8 digits separated by commas, as the kernel prints */
        KNOB_ENUM,    /* one of words; the kernel may print "a [b] c" with the current one bracketed */
        KNOB_STRING,  /* 1..max printable characters, no control characters (a path such as a cgroup) */
        _KNOB_TYPE_MAX,
} KnobType;

typedef enum KnobNeed {
        KNOB_NEED_SYS_ADMIN, /* CAP_SYS_ADMIN (root-owned sysctl or sysfs file) */
        KNOB_NEED_NET_ADMIN, /* CAP_NET_ADMIN in the owning network namespace */
        KNOB_NEED_DEBUGFS,   /* debugfs mounted at /sys/kernel/debug, and CAP_SYS_ADMIN */
        _KNOB_NEED_MAX,
} KnobNeed;

/* KNOB_INT flag: only 0 and powers of two (the kernel would round anything else up). */
#define KNOB_F_POW2 (1u << 0)

typedef struct KnobDef {
        const char *name; /* pattern: literal text with {N}, {dev}, {q} */
        const char *path; /* template below the root with the same placeholders */
        KnobAddressing addressing;
        KnobScope scope;
        KnobType type;
        int64_t min, max;         /* KNOB_INT */
        unsigned flags;           /* KNOB_F_* */
        const char *const *words; /* KNOB_BOOL: {false, true}; KNOB_ENUM: NULL-terminated */
        KnobNeed need;
        const char *doc;
        /* KNOB_ENUM: NULL-terminated words the file accepts as commands rather than states
         * (DAMON's "commit"): valid to write, and the file then shows one of words, so an
         * action equals any state in knobs_value_equal() and the state is what gets recorded. */
        const char *const *actions;
} KnobDef;

/* One concrete knob: a definition with its placeholders filled in. */
typedef struct Knob {
        const KnobDef *def;
        char *name; /* e.g. "net.eth0.rx.1.rps_cpus" */
        char *path; /* absolute, below the root; a netdev's sysfs symlink is resolved */
} Knob;

/* The table; never NULL, *ret_n rows. */
const KnobDef *knobs_table(size_t *ret_n);

/* Stable words for the API ("procsys", "rxqueue", "cpumask", ...); NULL for a
 * value outside the enum. */
const char *knob_addressing_to_string(KnobAddressing a);
const char *knob_scope_to_string(KnobScope s);
const char *knob_type_to_string(KnobType t);
const char *knob_need_to_string(KnobNeed n);

/* ---- pure: no I/O ---- */

/* Checks the syntax every knob name must have: 1..KNOB_NAME_MAX characters of
 * [A-Za-z0-9_.-], no empty dot-separated component (so no "..", no leading
 * or trailing '.'). "/", "%", NUL and blanks can therefore never reach a path.
 * Returns 0 or -EINVAL. */
int knobs_check_name(const char *name);

/* Finds the definition whose pattern the name matches; placeholder values
 * must be canonical ({N} and {q}: decimal without leading zeros, at most 9
 * digits; {dev}: 1..15 characters), else the name matches nothing. Returns 0
 * with *ret_def (may be NULL to only test), -EINVAL for a name
 * knobs_check_name() refuses, -ENOENT when no pattern matches. */
int knobs_match(const char *name, const KnobDef **ret_def);

/* Validates value for def and normalises it: integers to canonical decimal
 * (range and KNOB_F_POW2 checked), booleans (0/1/yes/no/true/false/on/off, any
 * case) to def's word, enum words to lower case, CPU masks to lower case.
 * Returns 0 and a malloc'd *ret_normalised; -EINVAL (or -ERANGE when out of
 * range) and a malloc'd *ret_reason naming what is allowed; or -ENOMEM (then
 * *ret_reason is NULL). */
int knobs_validate(const KnobDef *def, const char *value, char **ret_normalised, char **ret_reason);

/* Writes what def accepts into buf ("0..3", "false|true", "always|madvise|never",
 * "hex CPU mask ..."), truncated to size. Returns buf. */
const char *knobs_describe_allowed(const KnobDef *def, char *buf, size_t size);

/* Normalises what the kernel printed: trailing blanks and newline go, and for
 * KNOB_ENUM the bracketed word of "a [b] c" is the value. Returns 0 and a
 * malloc'd *ret, -EBADMSG for an empty or unparsable enum display, -ENOMEM. */
int knobs_parse_live(const KnobDef *def, const char *raw, char **ret);

/* Whether two values of def mean the same setting: integers and booleans by
 * value, CPU masks bit by bit (leading zero words ignored), enum words as
 * words. Either may be NULL (only NULL equals NULL). */
bool knobs_value_equal(const KnobDef *def, const char *a, const char *b);

/* ---- I/O below a root ---- */

/* Resolves name below root (NULL or "" means "/"). The object a scoped knob
 * belongs to must exist: ROOT/sys/devices/system/node/nodeN, the netdev
 * ROOT/sys/class/net/DEV (its symlink is resolved with realpath() and must stay
 * below ROOT/sys), and for rx queues its queues/rx-Q. The knob file itself need
 * not exist (knobs_read() says -ENOENT then). Returns 0 and *ret (free with
 * knob_done), -ENOENT for an unknown knob, -EINVAL for a bad name or a netdev
 * link escaping ROOT/sys, -ENODEV when the node, netdev or queue does not
 * exist, or -errno. */
int knobs_resolve(const char *root, const char *name, Knob *ret);

/* Builds a knob from a name and an already resolved path (as the journal kept
 * it): only the name is matched, the path is taken as it is. Returns 0,
 * -ENOENT (unknown name), -EINVAL or -ENOMEM. */
int knobs_from_path(const char *name, const char *path, Knob *ret);

/* Frees what *k owns and zeroes it; accepts a zeroed Knob. */
void knob_done(Knob *k);
/* Frees an array of n knobs; accepts NULL. */
void knobs_free(Knob *k, size_t n);

/* Reads the live value, normalised by knobs_parse_live(). Returns 0 and a
 * malloc'd *ret; -ENOENT when the file is absent; -EBADFD when it is not a
 * regular file; -EFBIG over KNOB_VALUE_MAX; -EBADMSG when unparsable; or -errno. */
int knobs_read(const Knob *k, char **ret);

/* Writes value (plus a newline, in one write(2), the file then truncated to
 * it as a shell redirection would), then reads back and compares with knobs_value_equal().
 * errno triage: EBUSY/EAGAIN are retried after 10, 50 and 200 ms (the caller
 * blocks for at most 260 ms; knob writes are rare, operator-scale events) and
 * then reported as -EBUSY; EINVAL/ERANGE/EOVERFLOW (the kernel rejected the
 * value) as -EINVAL; EACCES/EPERM/EROFS (the file is not ours to write: a
 * read-only mount, sandbox or missing capability) as -EACCES; a missing file
 * as -ENOENT; anything else as itself. A read-back that differs (e.g. the
 * kernel allocated fewer hugepages than asked) returns -ENOSPC. *ret_obtained
 * (may be NULL) receives the normalised read-back on 0 and -ENOSPC, NULL
 * otherwise. value must already be normalised by knobs_validate(). */
int knobs_write(const Knob *k, const char *value, char **ret_obtained);

/* Every knob instance on this host: global and netns knobs once, node knobs
 * per ROOT/sys/devices/system/node/nodeN, netdev knobs per entry of
 * ROOT/sys/class/net, queue knobs per queues/rx-Q; in table order, objects in
 * name order. Instances whose file is absent are included (knobs_read() tells).
 * Returns 0 and a malloc'd array (free with knobs_free), or -errno. */
int knobs_enumerate(const char *root, Knob **ret, size_t *ret_n);

/* Test seam: replaces the write(2) that knobs_write() uses (NULL restores
 * it), so tests can make a write return EBUSY or keep less than asked, which
 * a plain fixture file cannot. Never used outside tests. */
typedef ssize_t (*KnobWriteFn)(int fd, const void *buf, size_t n);
void knobs_set_write_fn(KnobWriteFn fn);
