/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for daemon/base/conf.c: the table, each value type's parser and
 * printer, drop-in order, error messages, and the print -> load round trip. */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <cmocka.h>

#include "cleanup.h"
#include "conf.h"

/* The line limit of the inih build we link, as conf_load() reports it. */
#define LINE_MAX_CHARS 197

static char *tmp_root;

/* ---- helpers ---- */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

static int group_setup(void **state) {
        char tmpl[PATH_MAX];
        const char *t = getenv("TMPDIR");

        snprintf(tmpl, sizeof(tmpl), "%s/test-conf.XXXXXX", t && *t ? t : "/tmp");
        tmp_root = strdup(tmpl);
        if (!tmp_root || !mkdtemp(tmp_root))
                return -1;
        return 0;
}

static int group_teardown(void **state) {
        if (tmp_root)
                nftw(tmp_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        free(tmp_root);
        return 0;
}

/* A fresh directory per test, so tests cannot see each other's files. */
static char *new_dir(void) {
        char *d = NULL;

        assert_true(asprintf(&d, "%s/XXXXXX", tmp_root) > 0);
        assert_non_null(mkdtemp(d));
        return d;
}

static char *path_join(const char *dir, const char *name) {
        char *p = NULL;

        assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
        return p;
}

static char *write_file(const char *dir, const char *name, const char *content) {
        char *p = path_join(dir, name);
        FILE *f = fopen(p, "we");

        assert_non_null(f);
        assert_int_equal(fputs(content, f) >= 0 || content[0] == '\0', 1);
        assert_int_equal(fclose(f), 0);
        return p;
}

static const ConfItem *find_item(const char *section, const char *key) {
        size_t n;
        const ConfItem *t = conf_table(&n);

        for (size_t i = 0; i < n; i++)
                if (strcmp(t[i].section, section) == 0 && strcmp(t[i].key, key) == 0)
                        return &t[i];
        fail_msg("no item [%s] %s", section, key);
        return NULL;
}

/* Loads a file holding `content`; returns conf_load()'s result. */
static int load_text(const char *content, Config **ret, char **ret_error, char **ret_path) {
        _cleanup_free_ char *dir = new_dir();
        char *path = write_file(dir, "maiod.conf", content);
        int r = conf_load(path, true, ret, ret_error);

        if (ret_path)
                *ret_path = path;
        else
                free(path);
        return r;
}

/* Loads `content` and expects exactly "PATH:LINE: message". */
static void expect_error(const char *content, unsigned line, const char *message) {
        _cleanup_free_ char *error = NULL, *path = NULL, *want = NULL;
        Config *c = NULL;

        assert_int_equal(load_text(content, &c, &error, &path), -EINVAL);
        assert_null(c); /* nothing half-applied is handed out */
        assert_non_null(error);
        assert_true(asprintf(&want, "%s:%u: %s", path, line, message) > 0);
        assert_string_equal(error, want);
}

static char *format_item(const ConfItem *item, const void *base) {
        char *s = NULL;

        assert_int_equal(conf_item_format(item, base, &s), 0);
        return s;
}

static void assert_config_equal(const Config *a, const Config *b) {
        size_t n;
        const ConfItem *t = conf_table(&n);

        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *x = format_item(&t[i], a), *y = format_item(&t[i], b);
                assert_string_equal(x, y);
        }
}

static char *print_to_string(const Config *c) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        assert_non_null(f);
        assert_int_equal(conf_print(c, f), 0);
        assert_int_equal(fclose(f), 0);
        return buf;
}

/* ---- the table and the defaults ---- */

static void test_table(void **state) {
        size_t n;
        const ConfItem *t = conf_table(&n);

        assert_true(n > 0);
        for (size_t i = 0; i < n; i++) {
                /* Keys are unique and each section is one run of rows, as conf_print() needs. */
                for (size_t j = 0; j < i; j++) {
                        assert_false(strcmp(t[i].section, t[j].section) == 0 && strcmp(t[i].key, t[j].key) == 0);
                        if (j + 1 < i && strcmp(t[i].section, t[j].section) == 0)
                                assert_string_equal(t[j + 1].section, t[i].section);
                }
                assert_non_null(t[i].doc);
                assert_null(strchr(t[i].doc, '\n'));
                /* "# doc" must fit in a line conf_load() accepts, or print -> load breaks. */
                assert_true(strlen(t[i].doc) + 2 <= LINE_MAX_CHARS);
                assert_true(t[i].type != CONF_ENUM || (t[i].words && t[i].words[0]));
                assert_true(t[i].offset < sizeof(Config));
        }
}

static void test_defaults(void **state) {
        _cleanup_(conf_freep) Config *c = NULL;

        assert_int_equal(conf_new_default(&c), 0);
        assert_int_equal(c->log_level, LOG_INFO);
        assert_int_equal(c->status_interval_s, 10);
        assert_string_equal(c->listen, "");
        assert_int_equal(c->socket_mode, 0666);
        assert_string_equal(c->admin_group, "");
        assert_int_equal(c->max_connections, 1000);
        assert_int_equal(c->idle_timeout_s, 30);
        assert_int_equal(c->request_timeout_s, 10);
        assert_int_equal(c->json_max_depth, 16);
        assert_int_equal(c->max_tenants, 4096);
        assert_int_equal(c->on_pid_exit, TENANT_PID_EXIT_KEEP);
}

/* ---- value types, through a private struct so every type is covered ---- */

typedef struct Sample {
        unsigned u;
        bool b;
        char *s;
        int level;
} Sample;

static const char *const colours[] = { "red", "green", "blue", NULL };

static const ConfItem item_uint = { "t", "u", CONF_UINT, offsetof(Sample, u), 1, 65536, "1", NULL, "doc" };
static const ConfItem item_uint_wide = { "t", "u", CONF_UINT, offsetof(Sample, u), 0, ULONG_MAX, "0", NULL, "doc" };
static const ConfItem item_mode = { "t", "m", CONF_MODE, offsetof(Sample, u), 0, 0777, "0", NULL, "doc" };
static const ConfItem item_bool = { "t", "b", CONF_BOOL, offsetof(Sample, b), 0, 0, "no", NULL, "doc" };
static const ConfItem item_string = { "t", "s", CONF_STRING, offsetof(Sample, s), 0, 5, "", NULL, "doc" };
static const ConfItem item_string_any = { "t", "s", CONF_STRING, offsetof(Sample, s), 0, 0, "", NULL, "doc" };
static const ConfItem item_name = { "t", "n", CONF_NAME, offsetof(Sample, s), 0, 32, "", NULL, "doc" };
static const ConfItem item_listen = { "t", "l", CONF_LISTEN, offsetof(Sample, s), 0, 0, "", NULL, "doc" };
static const ConfItem item_level = { "t", "v", CONF_LOG_LEVEL, offsetof(Sample, level), 0, 0, "info", NULL, "doc" };
static const ConfItem item_enum = { "t", "e", CONF_ENUM, offsetof(Sample, u), 0, 0, "red", colours, "doc" };

/* Parses `value`, expects success, and that it prints as `printed`. */
static void accept(const ConfItem *item, const char *value, const char *printed) {
        Sample s = { .u = 12345, .s = NULL };
        _cleanup_free_ char *reason = NULL, *out = NULL;

        assert_int_equal(conf_item_parse(item, value, &s, &reason), 0);
        assert_null(reason);
        out = format_item(item, &s);
        if (strcmp(out, printed) != 0)
                fail_msg("'%s' printed as '%s', expected '%s'", value, out, printed);
        free(s.s);
}

/* Expects `value` to be rejected with error r and a reason containing `why`,
 * and the field to be left untouched. */
static void reject(const ConfItem *item, const char *value, int r, const char *why) {
        Sample s = { .u = 4242, .b = true, .s = strdup("old"), .level = 3 };
        _cleanup_free_ char *reason = NULL;
        int k = conf_item_parse(item, value, &s, &reason);

        if (k != r)
                fail_msg("'%s': got %d, expected %d", value, k, r);
        assert_non_null(reason);
        if (!strstr(reason, why))
                fail_msg("'%s': reason '%s' does not contain '%s'", value, reason, why);
        assert_int_equal(s.u, 4242);
        assert_true(s.b);
        assert_string_equal(s.s, "old");
        assert_int_equal(s.level, 3);
        free(s.s);
}

static void test_uint(void **state) {
        accept(&item_uint, "1", "1");
        accept(&item_uint, "65536", "65536");
        accept(&item_uint, "007", "7");
        reject(&item_uint, "0", -ERANGE, "out of range 1..65536");
        reject(&item_uint, "65537", -ERANGE, "out of range 1..65536");
        reject(&item_uint, "99999999999999999999999", -ERANGE, "out of range");
        reject(&item_uint, "", -EINVAL, "not a decimal number");
        reject(&item_uint, "+5", -EINVAL, "not a decimal number");
        reject(&item_uint, "-5", -EINVAL, "not a decimal number");
        reject(&item_uint, " 5", -EINVAL, "not a decimal number");
        reject(&item_uint, "5 ", -EINVAL, "not a decimal number");
        reject(&item_uint, "5s", -EINVAL, "not a decimal number");
        reject(&item_uint, "0x10", -EINVAL, "not a decimal number");
        reject(&item_uint, "1e3", -EINVAL, "not a decimal number");
        /* The field is an unsigned int even when the row allows more. */
        accept(&item_uint_wide, "4294967295", "4294967295");
        reject(&item_uint_wide, "4294967296", -ERANGE, "out of range");
        reject(&item_uint_wide, "18446744073709551616", -ERANGE, "out of range");
}

static void test_mode(void **state) {
        accept(&item_mode, "0666", "0666");
        accept(&item_mode, "640", "0640");
        accept(&item_mode, "0", "0000");
        accept(&item_mode, "0777", "0777");
        accept(&item_mode, "00007", "0007");
        reject(&item_mode, "01000", -ERANGE, "out of range 0..0777");
        reject(&item_mode, "999", -EINVAL, "not an octal mode");
        reject(&item_mode, "8", -EINVAL, "not an octal mode");
        reject(&item_mode, "", -EINVAL, "not an octal mode");
        reject(&item_mode, "0o644", -EINVAL, "not an octal mode");
        reject(&item_mode, "-644", -EINVAL, "not an octal mode");
        reject(&item_mode, "u+rw", -EINVAL, "not an octal mode");
}

static void test_bool(void **state) {
        static const char *const yes[] = { "yes", "YES", "true", "True", "on", "ON", "1" };
        static const char *const no[] = { "no", "No", "false", "FALSE", "off", "Off", "0" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                accept(&item_bool, yes[i], "yes");
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                accept(&item_bool, no[i], "no");
        reject(&item_bool, "", -EINVAL, "expected a boolean");
        reject(&item_bool, "y", -EINVAL, "expected a boolean");
        reject(&item_bool, "2", -EINVAL, "expected a boolean");
        reject(&item_bool, "yes please", -EINVAL, "expected a boolean");
        reject(&item_bool, "enable", -EINVAL, "expected a boolean");
}

static void test_string(void **state) {
        char long_text[600];

        accept(&item_string, "", "");
        accept(&item_string, "a b#c", "a b#c");
        accept(&item_string, "abcde", "abcde");
        reject(&item_string, "abcdef", -EINVAL, "longer than 5 characters");
        reject(&item_string, "a\tb", -EINVAL, "control characters");
        reject(&item_string, "a\x7f", -EINVAL, "control characters");
        memset(long_text, 'x', sizeof(long_text) - 1);
        long_text[sizeof(long_text) - 1] = '\0';
        accept(&item_string_any, long_text, long_text);
}

static void test_name(void **state) {
        accept(&item_name, "", "");
        accept(&item_name, "maio-admin", "maio-admin");
        accept(&item_name, "_sys", "_sys");
        accept(&item_name, "wheel2_x-", "wheel2_x-");
        accept(&item_name, "abcdefghijklmnopqrstuvwxyz012345", "abcdefghijklmnopqrstuvwxyz012345");
        reject(&item_name, "abcdefghijklmnopqrstuvwxyz0123456", -EINVAL, "longer than 32 characters");
        reject(&item_name, "Wheel", -EINVAL, "not a valid name");
        reject(&item_name, "9wheel", -EINVAL, "not a valid name");
        reject(&item_name, "-wheel", -EINVAL, "not a valid name");
        reject(&item_name, "wheel group", -EINVAL, "not a valid name");
        reject(&item_name, "maio.admin", -EINVAL, "not a valid name");
        reject(&item_name, "adm$", -EINVAL, "not a valid name");
}

static void test_listen(void **state) {
        accept(&item_listen, "", "");
        accept(&item_listen, "127.0.0.1:7470", "127.0.0.1:7470");
        accept(&item_listen, "0.0.0.0:1", "0.0.0.0:1");
        accept(&item_listen, "10.1.2.3:65535", "10.1.2.3:65535");
        accept(&item_listen, "127.0.0.1:08080", "127.0.0.1:8080");
        accept(&item_listen, "[::1]:7470", "[::1]:7470");
        accept(&item_listen, "[0:0:0:0:0:0:0:1]:80", "[::1]:80");
        accept(&item_listen, "[FE80::A]:80", "[fe80::a]:80");
        accept(&item_listen, "[::]:80", "[::]:80");
        accept(&item_listen, "localhost:7470", "localhost:7470");
        accept(&item_listen, "LocalHost:7470", "localhost:7470");
        reject(&item_listen, "127.0.0.1", -EINVAL, "expected HOST:PORT");
        reject(&item_listen, "127.0.0.1:", -EINVAL, "expected HOST:PORT");
        reject(&item_listen, ":7470", -EINVAL, "expected HOST:PORT");
        reject(&item_listen, "7470", -EINVAL, "expected HOST:PORT");
        reject(&item_listen, "127.0.0.1:0", -ERANGE, "port 0 is out of range 1..65535");
        reject(&item_listen, "127.0.0.1:65536", -ERANGE, "port 65536 is out of range 1..65535");
        reject(&item_listen, "127.0.0.1:99999999999999999999999", -ERANGE, "out of range 1..65535");
        reject(&item_listen, "127.0.0.1:http", -EINVAL, "port 'http' is not a decimal number");
        reject(&item_listen, "127.0.0.1:+80", -EINVAL, "not a decimal number");
        reject(&item_listen, "127.0.0.1:-80", -EINVAL, "not a decimal number");
        reject(&item_listen, "127.0.0.1:80 ", -EINVAL, "not a decimal number");
        reject(&item_listen, "example.com:80", -EINVAL, "'example.com' is not an IPv4 address");
        reject(&item_listen, "256.0.0.1:80", -EINVAL, "is not an IPv4 address");
        reject(&item_listen, "1.2.3:80", -EINVAL, "is not an IPv4 address");
        reject(&item_listen, "::1:80", -EINVAL, "is not an IPv4 address, [IPv6 address] or localhost");
        reject(&item_listen, "[::1:80", -EINVAL, "is not an IPv4 address");
        reject(&item_listen, "[::1]80", -EINVAL, "not a decimal number");
        reject(&item_listen, "[1.2.3.4]:80", -EINVAL, "is not an IPv4 address");
        reject(&item_listen, "[fe80::1%eth0]:80", -EINVAL, "is not an IPv4 address");
        reject(&item_listen, "[]:80", -EINVAL, "is not an IPv4 address");
}

static void test_log_level(void **state) {
        static const struct {
                const char *in, *out;
        } ok[] = {
                { "debug", "debug" },  { "INFO", "info" },   { "notice", "notice" }, { "warning", "warning" },
                { "warn", "warning" }, { "err", "err" },     { "error", "err" },     { "crit", "crit" },
                { "alert", "alert" },  { "Emerg", "emerg" }, { "7", "debug" },       { "0", "emerg" },
        };

        for (size_t i = 0; i < ELEMENTSOF(ok); i++)
                accept(&item_level, ok[i].in, ok[i].out);
        reject(&item_level, "", -EINVAL, "expected one of debug, info");
        reject(&item_level, "loud", -EINVAL, "expected one of debug, info, notice, warning, err, crit, alert, emerg");
        reject(&item_level, "8", -EINVAL, "expected one of");
        reject(&item_level, "-1", -EINVAL, "expected one of");
}

static void test_enum(void **state) {
        _cleanup_(conf_freep) Config *c = NULL;
        Sample s = { .u = 3 };
        char *out = NULL;

        accept(&item_enum, "red", "red");
        accept(&item_enum, "Blue", "blue");
        accept(&item_enum, "GREEN", "green");
        reject(&item_enum, "", -EINVAL, "expected one of red, green, blue");
        reject(&item_enum, "gree", -EINVAL, "expected one of red, green, blue");
        reject(&item_enum, "0", -EINVAL, "expected one of");
        /* An index with no word cannot be printed. */
        assert_int_equal(conf_item_format(&item_enum, &s, &out), -EINVAL);
        assert_null(out);
        /* The table's enum keeps the documented words in TENANT_PID_EXIT_* order. */
        assert_int_equal(conf_new_default(&c), 0);
        assert_int_equal(conf_item_parse(find_item("tenants", "on_pid_exit"), "remove", c, &out), 0);
        assert_int_equal(c->on_pid_exit, TENANT_PID_EXIT_REMOVE);
        assert_string_equal(find_item("tenants", "on_pid_exit")->words[TENANT_PID_EXIT_REMOVE], "remove");
        assert_string_equal(find_item("tenants", "on_pid_exit")->words[TENANT_PID_EXIT_KEEP], "keep");
}

/* ---- loading ---- */

static const char full_text[] = "[daemon]\n"
                                "log_level = debug\n"
                                "status_interval_sec = 3600\n"
                                "[api]\n"
                                "listen = [::1]:7470\n"
                                "socket_mode = 0600\n"
                                "admin_group = maio-admin\n"
                                "max_connections = 65536\n"
                                "idle_timeout_sec = 1\n"
                                "request_timeout_sec = 600\n"
                                "json_max_depth = 64\n"
                                "[tenants]\n"
                                "max_tenants = 1000000\n"
                                "on_pid_exit = remove\n";

static void test_load_values(void **state) {
        _cleanup_(conf_freep) Config *c = NULL;
        _cleanup_free_ char *error = NULL;

        assert_int_equal(load_text(full_text, &c, &error, NULL), 0);
        assert_null(error);
        assert_int_equal(c->log_level, LOG_DEBUG);
        assert_int_equal(c->status_interval_s, 3600);
        assert_string_equal(c->listen, "[::1]:7470");
        assert_int_equal(c->socket_mode, 0600);
        assert_string_equal(c->admin_group, "maio-admin");
        assert_int_equal(c->max_connections, 65536);
        assert_int_equal(c->idle_timeout_s, 1);
        assert_int_equal(c->request_timeout_s, 600);
        assert_int_equal(c->json_max_depth, 64);
        assert_int_equal(c->max_tenants, 1000000);
        assert_int_equal(c->on_pid_exit, TENANT_PID_EXIT_REMOVE);
}

static void test_load_syntax(void **state) {
        _cleanup_(conf_freep) Config *c = NULL;
        _cleanup_free_ char *error = NULL;

        /* BOM, CRLF, indentation, both comment styles, ':' separator, repeated sections and keys. */
        assert_int_equal(load_text("\xef\xbb\xbf; comment\r\n"
                                   "  [api]  # header comment\r\n"
                                   "\tmax_connections=5 ; inline comment\r\n"
                                   "   # indented comment\n"
                                   "json_max_depth: 3\n"
                                   "\n"
                                   "[tenants]\n"
                                   "max_tenants = 1\n"
                                   "[api]\n"
                                   "max_connections = 6\n"
                                   "listen =\n",
                                   &c, &error, NULL),
                         0);
        assert_int_equal(c->max_connections, 6);
        assert_int_equal(c->json_max_depth, 3);
        assert_int_equal(c->max_tenants, 1);
        assert_string_equal(c->listen, "");
}

static void test_load_missing(void **state) {
        _cleanup_free_ char *dir = new_dir(), *path = path_join(dir, "none.conf"), *want = NULL;
        _cleanup_free_ char *error = NULL;
        _cleanup_(conf_freep) Config *c = NULL, *d = NULL;

        assert_int_equal(conf_load(path, true, &c, &error), -ENOENT);
        assert_null(c);
        assert_true(asprintf(&want, "%s: No such file or directory", path) > 0);
        assert_string_equal(error, want);

        free(error);
        error = NULL;
        assert_int_equal(conf_load(path, false, &c, &error), 0);
        assert_null(error);
        assert_int_equal(conf_new_default(&d), 0);
        assert_config_equal(c, d);

        /* A directory where the file should be is an error even when it may be missing. */
        conf_free(c);
        c = NULL;
        assert_int_equal(conf_load(dir, false, &c, &error), -EISDIR);
        assert_null(c);
        assert_non_null(strstr(error, ": Is a directory"));
}

static void test_dropin_order(void **state) {
        _cleanup_free_ char *dir = new_dir(), *main_path = path_join(dir, "maiod.conf"), *d = NULL;
        _cleanup_free_ char *error = NULL;
        char *p[12] = {};
        _cleanup_(conf_freep) Config *c = NULL;
        size_t k = 0;

        assert_true(asprintf(&d, "%s.d", main_path) > 0);
        assert_int_equal(mkdir(d, 0700), 0);
        /* strcmp order is 10.conf < A.conf < a.conf < b.conf; each key's
         * winner pins one step of that order. */
        p[k++] = write_file(d, "b.conf", "[tenants]\nmax_tenants = 4\n");
        p[k++] = write_file(d, "a.conf", "[tenants]\nmax_tenants = 3\n[api]\nmax_connections = 3\n");
        p[k++] = write_file(d, "A.conf",
                            "[tenants]\nmax_tenants = 2\n[api]\nmax_connections = 2\n"
                            "json_max_depth = 2\n");
        p[k++] = write_file(d, "10.conf",
                            "[tenants]\nmax_tenants = 1\n[api]\nmax_connections = 1\n"
                            "json_max_depth = 1\nidle_timeout_sec = 1\n");
        /* Ignored: not *.conf, hidden, directories; symlinks to files count, dangling ones do not. */
        p[k++] = write_file(d, "c.conf.off", "[tenants]\nmax_tenants = 99\n");
        p[k++] = write_file(d, ".z.conf", "[tenants]\nmax_tenants = 98\n");
        p[k++] = write_file(d, "README", "not ini at all\n");
        p[k++] = path_join(d, "dir.conf");
        assert_int_equal(mkdir(p[k - 1], 0700), 0);
        p[k++] = write_file(dir, "target", "[api]\nrequest_timeout_sec = 77\n");
        p[k++] = path_join(d, "link.conf");
        assert_int_equal(symlink(p[k - 2], p[k - 1]), 0);
        p[k++] = path_join(d, "dangling.conf");
        assert_int_equal(symlink("/nonexistent/maio", p[k - 1]), 0);

        /* The main file may be missing: the drop-ins still apply. */
        assert_int_equal(conf_load(main_path, false, &c, &error), 0);
        assert_int_equal(c->max_tenants, 4);
        assert_int_equal(c->max_connections, 3);
        assert_int_equal(c->json_max_depth, 2);
        assert_int_equal(c->idle_timeout_s, 1);
        assert_int_equal(c->request_timeout_s, 77);
        conf_free(c);
        c = NULL;

        /* The main file comes before every drop-in. */
        p[k++] = write_file(dir, "maiod.conf",
                            "[api]\nidle_timeout_sec = 50\nstatus = 1\n[daemon]\n"
                            "status_interval_sec = 50\n");
        assert_int_equal(conf_load(main_path, true, &c, &error), -EINVAL);
        assert_non_null(strstr(error, "maiod.conf:3: unknown key 'status' in section [api]"));
        free(write_file(dir, "maiod.conf", "[api]\nidle_timeout_sec = 50\n[daemon]\nstatus_interval_sec = 50\n"));
        free(error);
        error = NULL;
        assert_int_equal(conf_load(main_path, true, &c, &error), 0);
        assert_int_equal(c->idle_timeout_s, 1);
        assert_int_equal(c->status_interval_s, 50);
        assert_int_equal(c->max_tenants, 4);
        for (size_t i = 0; i < k; i++)
                free(p[i]);
}

static void test_dropin_error(void **state) {
        _cleanup_free_ char *dir = new_dir(), *main_path = NULL, *d = NULL, *bad = NULL, *want = NULL;
        _cleanup_free_ char *error = NULL, *good = NULL;
        Config *c = NULL;

        main_path = write_file(dir, "maiod.conf", "[api]\nmax_connections = 10\n");
        assert_true(asprintf(&d, "%s.d", main_path) > 0);
        assert_int_equal(mkdir(d, 0700), 0);
        good = write_file(d, "10-good.conf", "[tenants]\nmax_tenants = 5\n");
        bad = write_file(d, "20-bad.conf", "[tenants]\n\nmax_tenants = 0\n");
        assert_int_equal(conf_load(main_path, true, &c, &error), -EINVAL);
        assert_null(c);
        assert_true(asprintf(&want, "%s:3: [tenants] max_tenants = 0: out of range 1..1000000", bad) > 0);
        assert_string_equal(error, want);
}

static void test_errors(void **state) {
        char long_line[300], value[LINE_MAX_CHARS], want[400];

        expect_error("[foo]\nbar = 1\n", 1, "unknown section [foo]");
        expect_error("[daemon]\n[foo]\n", 2, "unknown section [foo]");
        expect_error("[api]\nbar = 1\n", 2, "unknown key 'bar' in section [api]");
        expect_error("# c\nmax_tenants = 5\n", 2, "key 'max_tenants' outside any section");
        expect_error("[api]\nmax_connections = 0\n", 2, "[api] max_connections = 0: out of range 1..65536");
        expect_error("[api]\nsocket_mode = 999\n", 2, "[api] socket_mode = 999: not an octal mode");
        expect_error(
                "[daemon]\nlog_level = loud\n", 2,
                "[daemon] log_level = loud: expected one of debug, info, notice, warning, err, crit, alert, emerg");
        expect_error("[api]\nno equals sign\n", 2, "syntax error, expected [section] or key = value");
        expect_error("[api\n", 1, "syntax error, expected [section] or key = value");
        expect_error("[api] x = 1\n", 1, "syntax error, expected [section] or key = value");
        /* An indented line is not a continuation of the value above it. */
        expect_error("[api]\nmax_connections = 5\n  6\n", 3, "syntax error, expected [section] or key = value");
        /* Only the first error counts, whichever part of the parser finds it. */
        expect_error("[api]\nx\nmax_connections = 0\n[foo]\n", 2, "syntax error, expected [section] or key = value");
        expect_error("[api]\nmax_connections = 0\nx\n[foo]\n", 2, "[api] max_connections = 0: out of range 1..65536");
        expect_error("[api]\nmax_connections = 1\n[foo]\nx\n", 3, "unknown section [foo]");

        /* "admin_group = " is 14 characters: the longest line passes the reader and fails on the value. */
        memset(value, 'x', LINE_MAX_CHARS - 14);
        value[LINE_MAX_CHARS - 14] = '\0';
        snprintf(long_line, sizeof(long_line), "[api]\nadmin_group = %s\n", value);
        snprintf(want, sizeof(want), "[api] admin_group = %s: longer than 32 characters", value);
        expect_error(long_line, 2, want);
        snprintf(long_line, sizeof(long_line), "[api]\nadmin_group = %sx\n", value);
        expect_error(long_line, 2, "line too long (more than 197 characters)");
        /* A stray carriage return does not shorten the line as counted. */
        snprintf(long_line, sizeof(long_line), "[api]\nadmin_group = \r%s\n", value);
        expect_error(long_line, 2, "line too long (more than 197 characters)");
}

static void test_error_nul_byte(void **state) {
        _cleanup_free_ char *dir = new_dir(), *path = path_join(dir, "nul.conf"), *error = NULL, *want = NULL;
        static const char text[] = "[api]\nmax_connections = 5\0junk\n";
        Config *c = NULL;
        FILE *f = fopen(path, "we");

        assert_non_null(f);
        assert_int_equal(fwrite(text, 1, sizeof(text) - 1, f), sizeof(text) - 1);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(conf_load(path, true, &c, &error), -EINVAL);
        assert_true(asprintf(&want, "%s:2: syntax error (NUL byte)", path) > 0);
        assert_string_equal(error, want);
}

/* ---- printing ---- */

static void test_print_format(void **state) {
        _cleanup_(conf_freep) Config *c = NULL;
        _cleanup_free_ char *text = NULL;

        assert_int_equal(conf_new_default(&c), 0);
        text = print_to_string(c);
        assert_int_equal(strncmp(text, "[daemon]\n# ", 11), 0);
        assert_non_null(strstr(text, "\nlog_level = info\n"));
        assert_non_null(strstr(text, "\nlisten =\n"));
        assert_non_null(strstr(text, "\nsocket_mode = 0666\n"));
        assert_non_null(strstr(text, "\n\n[api]\n# "));
        assert_non_null(strstr(text, "\n\n[tenants]\n# "));
        assert_null(strstr(text, "\n\n\n"));
        assert_int_equal(text[strlen(text) - 1], '\n');
}

static void roundtrip(const char *text) {
        _cleanup_(conf_freep) Config *a = NULL, *b = NULL;
        _cleanup_free_ char *error = NULL, *printed = NULL, *again = NULL;

        assert_int_equal(load_text(text, &a, &error, NULL), 0);
        printed = print_to_string(a);
        if (load_text(printed, &b, &error, NULL) < 0)
                fail_msg("printed config does not load: %s\n%s", error, printed);
        assert_config_equal(a, b);
        again = print_to_string(b);
        assert_string_equal(printed, again);
}

static void test_roundtrip(void **state) {
        roundtrip("");
        roundtrip(full_text);
        roundtrip("[api]\nlisten = LOCALHOST:0080\nsocket_mode = 0\n[daemon]\nlog_level = 3\n");
        roundtrip("[api]\nlisten = [::ffff:1.2.3.4]:9\n[tenants]\non_pid_exit = Remove\n");
}

/* ---- the man page states each number's range as the table does ---- */

static void test_man_ranges(void **state) {
        const char *root = getenv("MAIO_SOURCE_ROOT");
        _cleanup_free_ char *path = NULL, *line = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        size_t n, size = 0, found = 0, want = 0;
        const ConfItem *t = conf_table(&n);

        if (!root)
                fail_msg("MAIO_SOURCE_ROOT is not set (meson test sets it)");
        assert_true(asprintf(&path, "%s/docs/maiod.conf.5.scd", root) > 0);
        f = fopen(path, "re");
        if (!f)
                fail_msg("%s: %s", path, strerror(errno));
        while (getline(&line, &size, f) > 0) {
                for (size_t i = 0; i < n; i++) {
                        char head[128], range[64];
                        size_t j = 0;

                        if (t[i].type != CONF_UINT && t[i].type != CONF_U64 && t[i].type != CONF_MODE)
                                continue;
                        /* "*max\_connections* = ": scdoc needs '_' escaped. */
                        head[j++] = '*';
                        for (const char *k = t[i].key; *k && j < sizeof(head) - 8; k++) {
                                if (*k == '_')
                                        head[j++] = '\\';
                                head[j++] = *k;
                        }
                        strcpy(head + j, "* = ");
                        if (strncmp(line, head, strlen(head)) != 0)
                                continue;
                        snprintf(range, sizeof(range), t[i].type == CONF_MODE ? " %#lo..%#lo " : " %lu..%lu ", t[i].min,
                                 t[i].max);
                        if (!strstr(line, range))
                                fail_msg("%s: entry for %s does not give the range '%s': %s", path, t[i].key, range,
                                         line);
                        found++;
                }
        }
        for (size_t i = 0; i < n; i++)
                want += t[i].type == CONF_UINT || t[i].type == CONF_U64 || t[i].type == CONF_MODE;
        assert_int_equal(found, want);
}

/* [tenants.group.NAME]: sections merge by name, unset keys take the [tenants] value wherever it is
 * set in the file, the print reloads to the same groups, and at most CONF_TENANT_GROUPS_MAX exist. */
static void test_tenant_groups(void **state) {
        _cleanup_(conf_freep) Config *c = NULL, *d = NULL;
        _cleanup_free_ char *error = NULL, *printed = NULL, *many = NULL;
        size_t n, len = 0;
        FILE *f;

        assert_int_equal(load_text("[tenants.group.a]\nhighest_priority = 1\n"
                                   "[tenants]\nmax_tenants_per_uid = 7\nhighest_priority = 5\n"
                                   "[tenants.group.b_2]\nmax_tenants_per_uid = 0\n"
                                   "[tenants.group.a]\nmax_tenants_per_uid = 9\n",
                                   &c, &error, NULL),
                         0);
        assert_int_equal(c->n_tenant_groups, 2);
        assert_string_equal(c->tenant_groups[0].name, "a");
        assert_int_equal(c->tenant_groups[0].max_per_uid, 9);
        assert_int_equal(c->tenant_groups[0].highest_priority, 1);
        assert_string_equal(c->tenant_groups[1].name, "b_2");
        assert_int_equal(c->tenant_groups[1].max_per_uid, 0);
        assert_int_equal(c->tenant_groups[1].highest_priority, 5);
        assert_non_null(conf_group_table(&n));
        assert_int_equal(n, 2);

        printed = print_to_string(c);
        assert_int_equal(load_text(printed, &d, &error, NULL), 0);
        assert_int_equal(d->n_tenant_groups, 2);
        for (size_t i = 0; i < 2; i++) {
                assert_string_equal(d->tenant_groups[i].name, c->tenant_groups[i].name);
                assert_int_equal(d->tenant_groups[i].max_per_uid, c->tenant_groups[i].max_per_uid);
                assert_int_equal(d->tenant_groups[i].highest_priority, c->tenant_groups[i].highest_priority);
        }
        conf_free(d);
        d = NULL;

        f = open_memstream(&many, &len);
        assert_non_null(f);
        for (int i = 0; i <= CONF_TENANT_GROUPS_MAX; i++)
                fprintf(f, "[tenants.group.g%d]\nhighest_priority = 3\n", i);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(load_text(many, &d, &error, NULL), -EINVAL);
        assert_non_null(strstr(error, "more than 64"));
        free(error);
        error = NULL;
        assert_int_equal(load_text("[tenants.group.-x]\nhighest_priority = 3\n", &d, &error, NULL), -EINVAL);
        assert_non_null(strstr(error, "unknown section"));
}

/* [scheduler] classes: ascending ranges covering 0..7 once, normalised when printed. */
static void test_classes(void **state) {
        static const struct {
                const char *in, *out;
                unsigned n;
                uint8_t class_of[8];
        } good[] = {
                { "0-1,2-5,6-7", "0-1,2-5,6-7", 3, { 0, 0, 1, 1, 1, 1, 2, 2 } },
                { " 0 - 1", NULL, 0, {} }, /* no blanks inside a range */
                { "0-7", "0-7", 1, { 0, 0, 0, 0, 0, 0, 0, 0 } },
                { "0, 1-6 ,7", "0,1-6,7", 3, { 0, 1, 1, 1, 1, 1, 1, 2 } },
                { "0,1,2,3,4,5,6,7", "0,1,2,3,4,5,6,7", 8, { 0, 1, 2, 3, 4, 5, 6, 7 } },
                { "0-1,2-5", NULL, 0, {} },  /* 6 and 7 in no class */
                { "0-1,3-7", NULL, 0, {} },  /* 2 missing */
                { "2-7,0-1", NULL, 0, {} },  /* not ascending */
                { "0-1,1-7", NULL, 0, {} },  /* 1 twice */
                { "0-8", NULL, 0, {} },      /* no priority 8 */
                { "1-0,2-7", NULL, 0, {} },  /* reversed range */
                { "0-1,,2-7", NULL, 0, {} }, /* empty item */
                { "0-1,2-7,", NULL, 0, {} }, /* trailing comma */
                { "", NULL, 0, {} },
                { "0-1;2-7", NULL, 0, {} },
        };
        const ConfItem *item = find_item("scheduler", "classes");
        _cleanup_(conf_freep) Config *c = NULL;

        assert_non_null(item);
        assert_int_equal(conf_new_default(&c), 0);
        assert_int_equal(c->scheduler_classes.n, 3);
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                _cleanup_free_ char *reason = NULL, *out = NULL;
                ConfPriorityClasses before = c->scheduler_classes;
                int r = conf_item_parse(item, good[i].in, c, &reason);

                if (!good[i].out) {
                        assert_int_equal(r, -EINVAL);
                        assert_non_null(strstr(reason, "ascending ranges"));
                        assert_memory_equal(&c->scheduler_classes, &before, sizeof before); /* untouched */
                        continue;
                }
                assert_int_equal(r, 0);
                assert_int_equal(c->scheduler_classes.n, good[i].n);
                assert_memory_equal(c->scheduler_classes.class_of, good[i].class_of, 8);
                out = format_item(item, c);
                assert_string_equal(out, good[i].out);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_tenant_groups),  cmocka_unit_test(test_classes),
                cmocka_unit_test(test_table),          cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_uint),           cmocka_unit_test(test_mode),
                cmocka_unit_test(test_bool),           cmocka_unit_test(test_string),
                cmocka_unit_test(test_name),           cmocka_unit_test(test_listen),
                cmocka_unit_test(test_log_level),      cmocka_unit_test(test_enum),
                cmocka_unit_test(test_load_values),    cmocka_unit_test(test_load_syntax),
                cmocka_unit_test(test_load_missing),   cmocka_unit_test(test_dropin_order),
                cmocka_unit_test(test_dropin_error),   cmocka_unit_test(test_errors),
                cmocka_unit_test(test_error_nul_byte), cmocka_unit_test(test_print_format),
                cmocka_unit_test(test_roundtrip),      cmocka_unit_test(test_man_ranges),
        };

        return cmocka_run_group_tests_name("conf", tests, group_setup, group_teardown);
}
