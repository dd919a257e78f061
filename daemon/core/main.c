/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* maiod entry point: command line, --check-config, detaching when started
 * outside systemd without --foreground, then the manager's event loop. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "maio-config.h"
#include "manager.h"

typedef struct Args {
        ManagerArgs m;
        bool foreground;
        bool check_config;
        bool print;
} Args;

enum {
        ARG_ROOT = 0x100,
        ARG_CHECK_CONFIG,
        ARG_PRINT,
        ARG_LOG_LEVEL,
};

static void usage(FILE *f) {
        fprintf(f,
                "Usage: maiod [OPTIONS]\n"
                "Host daemon that owns the kernel knobs deciding how fast I/O-heavy tenants run.\n\n"
                "  -c, --config FILE      configuration file (default %s; drop-ins in FILE.d/*.conf)\n"
                "  -s, --state-dir DIR    state directory holding maiod.db (default $STATE_DIRECTORY or %s)\n"
                "  -r, --runtime-dir DIR  runtime directory holding maiod.sock (default $RUNTIME_DIRECTORY or %s)\n"
                "      --root DIR         read /proc and /sys below DIR instead of /\n"
                "  -n, --dry-run          never write a kernel knob; log and record intended writes\n"
                "  -f, --foreground       stay in the foreground and log to stderr\n"
                "      --check-config     validate the configuration and exit (0 valid, 1 invalid)\n"
                "      --print            with --check-config: print the effective configuration\n"
                "      --log-level LEVEL  override [daemon] log_level (debug, info, notice, warning,\n"
                "                         err, crit, alert, emerg)\n"
                "  -h, --help             show this help\n"
                "  -V, --version          show the version\n",
                MAIOD_CONFIG_PATH, MAIOD_STATE_DIR, MAIOD_RUNTIME_DIR);
}

/* Returns 1 to run, 0 to exit successfully (--help, --version), or -EINVAL. */
static int parse_argv(int argc, char *argv[], Args *a) {
        static const struct option options[] = { { "config", required_argument, NULL, 'c' },
                                                 { "state-dir", required_argument, NULL, 's' },
                                                 { "runtime-dir", required_argument, NULL, 'r' },
                                                 { "root", required_argument, NULL, ARG_ROOT },
                                                 { "dry-run", no_argument, NULL, 'n' },
                                                 { "foreground", no_argument, NULL, 'f' },
                                                 { "check-config", no_argument, NULL, ARG_CHECK_CONFIG },
                                                 { "print", no_argument, NULL, ARG_PRINT },
                                                 { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                                                 { "help", no_argument, NULL, 'h' },
                                                 { "version", no_argument, NULL, 'V' },
                                                 {} };
        int c;

        while ((c = getopt_long(argc, argv, "c:s:r:nfhV", options, NULL)) >= 0)
                switch (c) {
                case 'c':
                        a->m.config_path = optarg;
                        a->m.config_must_exist = true;
                        break;
                case 's':
                        a->m.state_dir = optarg;
                        break;
                case 'r':
                        a->m.runtime_dir = optarg;
                        break;
                case ARG_ROOT:
                        a->m.root = optarg;
                        break;
                case 'n':
                        a->m.dry_run = true;
                        break;
                case 'f':
                        a->foreground = true;
                        break;
                case ARG_CHECK_CONFIG:
                        a->check_config = true;
                        break;
                case ARG_PRINT:
                        a->print = true;
                        break;
                case ARG_LOG_LEVEL:
                        a->m.log_level_override = log_level_from_string(optarg);
                        if (a->m.log_level_override < 0) {
                                fprintf(stderr, "maiod: invalid log level '%s'\n", optarg);
                                return -EINVAL;
                        }
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                case 'V':
                        printf("maiod %s\n", MAIO_VERSION);
                        return 0;
                default:
                        fprintf(stderr, "Try 'maiod --help'.\n");
                        return -EINVAL;
                }
        if (optind < argc) {
                fprintf(stderr, "maiod: unexpected argument '%s'\nTry 'maiod --help'.\n", argv[optind]);
                return -EINVAL;
        }
        if (a->print && !a->check_config) {
                fprintf(stderr, "maiod: --print only goes with --check-config\n");
                return -EINVAL;
        }
        return 1;
}

static int check_config(const Args *a) {
        _cleanup_(conf_freep) Config *c = NULL;
        _cleanup_free_ char *error = NULL;

        if (conf_load(a->m.config_path, a->m.config_must_exist, &c, &error) < 0) {
                fprintf(stderr, "%s\n", error ? error : "invalid configuration");
                return EXIT_FAILURE;
        }
        if (a->print && (conf_print(c, stdout) < 0 || fflush(stdout) != 0)) {
                fprintf(stderr, "maiod: failed to write the configuration\n");
                return EXIT_FAILURE;
        }
        return EXIT_SUCCESS;
}

/* Forks; the parent waits until the child reports its API is up (one byte on
 * the pipe) and exits with 0, or 1 if the child died first. Returns the write
 * end in the child. */
static int detach(void) {
        int p[2];
        pid_t pid;
        char c;

        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid > 0) {
                close(p[1]);
                _exit(read(p[0], &c, 1) == 1 ? EXIT_SUCCESS : EXIT_FAILURE);
        }
        close(p[0]);
        if (setsid() < 0)
                return -errno;
        return p[1];
}

static void detach_finish(int ready_fd) {
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);

        if (null >= 0) {
                dup2(null, STDIN_FILENO);
                dup2(null, STDOUT_FILENO);
                dup2(null, STDERR_FILENO);
                if (null > STDERR_FILENO)
                        close(null);
        }
        (void) !write(ready_fd, "1", 1);
        close(ready_fd);
}

/* Each connection is an fd: lift the soft limit to the hard one. */
static void raise_nofile(void) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void) setrlimit(RLIMIT_NOFILE, &rl);
        }
}

static const char *env_or(const char *name, const char *def) {
        const char *v = getenv(name);

        /* systemd may pass several colon-separated directories; we use the first. */
        if (!v || !*v || strchr(v, ':'))
                return def;
        return v;
}

int main(int argc, char *argv[]) {
        _cleanup_(manager_freep) Manager *m = NULL;
        Args a = {
                .m = {
                        .config_path = MAIOD_CONFIG_PATH,
                        .state_dir = env_or("STATE_DIRECTORY", MAIOD_STATE_DIR),
                        .runtime_dir = env_or("RUNTIME_DIRECTORY", MAIOD_RUNTIME_DIR),
                        .root = "/",
                        .log_level_override = -1,
                },
        };
        int r, ready_fd = -EBADF;

        r = parse_argv(argc, argv, &a);
        if (r <= 0)
                return r < 0 ? 2 : EXIT_SUCCESS;
        if (a.check_config)
                return check_config(&a);

        bool daemonize = !a.foreground && !getenv("NOTIFY_SOCKET");
        /* Until a detaching daemon is up, errors still reach the terminal that started it. */
        log_open(a.foreground || daemonize ? LOG_TARGET_STDERR : LOG_TARGET_AUTO);
        raise_nofile();

        if (daemonize) {
                ready_fd = detach();
                if (ready_fd < 0)
                        return log_error_errno(ready_fd, "Failed to detach: %m"), EXIT_FAILURE;
        }
        r = manager_new(&a.m, &m);
        if (r < 0)
                return EXIT_FAILURE;
        r = manager_start(m);
        if (r < 0)
                return EXIT_FAILURE;
        if (ready_fd >= 0) {
                detach_finish(ready_fd);
                log_open(LOG_TARGET_SYSLOG);
        }
        r = manager_run(m);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
