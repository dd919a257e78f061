/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* maioctl: the operator CLI for maiod. Parses the command line against one verb
 * table (which also writes --help), then runs the verb's handler. */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl-internal.h"
#include "http.h"
#include "macro.h"
#include "maio-config.h"
#include "maioctl.h"
#include "reply.h"
#include "table.h"

enum {
        ARG_VERSION = 0x100,
        ARG_SOCKET,
        ARG_TRANSPORT,
        /* Verb options; their order defines their bit in Verb.options. */
        ARG_PRIORITY,
        ARG_CLASS,
        ARG_PID,
        ARG_CGROUP,
        ARG_TENANT,
        ARG_NODE,
        ARG_TIME,
        ARG_RPS,
        ARG_SET,
        ARG_SEED,
        ARG_MODE,
        ARG_BATCH,
        ARG_CORES_PER_FLOW,
        ARG_ADDRESSES,
        ARG_PROMOTION_RATE,
        _ARG_MAX,
};

/* clang-format 14 reads "(arg) - X" as a cast. */
/* clang-format off */
#define OPT(arg) (1u << ((arg) - ARG_PRIORITY))
/* clang-format on */
#define N_VERB_OPTIONS (_ARG_MAX - ARG_PRIORITY)

typedef struct VerbOption {
        const char *name;
        const char *metavar;
        const char *help;
} VerbOption;

/* What --help and the synopses say about each verb option; indexed by ARG_* - ARG_PRIORITY. */
/* A table; and clang-format 14 reads "(arg) - X" as a cast. */
/* clang-format off */
#define V(arg) [(arg) - ARG_PRIORITY]
static const VerbOption verb_options[N_VERB_OPTIONS] = {
        V(ARG_PRIORITY) = { "priority", "N",             "Priority from 0 (highest) to 7 (default: 4)" },
        V(ARG_CLASS)    = { "class",    "batch|serving", "Workload class (default: batch)" },
        V(ARG_PID)      = { "pid",      "P",             "The tenant's main process; maiod notices its exit" },
        V(ARG_CGROUP)   = { "cgroup",   "PATH",          "The tenant's cgroup below the cgroup root, e.g. /maio/web" },
        V(ARG_TENANT)   = { "tenant",   "ID",            "Only this tenant's events (without it: all events, admin only)" },
        V(ARG_NODE)     = { "node",     "N",             "NUMA node of the hugepages, 0 to 1023 (default: 0)" },
        V(ARG_TIME)     = { "time",     "S",             "Seconds the episode's run took (batch tenants)" },
        V(ARG_RPS)      = { "rps",      "R",             "Requests per second over the episode (serving tenants)" },
        V(ARG_SET)      = { "set",      "POLICY",        "Switch to indigo, linucb, heuristic or static" },
        V(ARG_SEED)     = { "seed",     "N",             "Seed of the policy --set starts (default: the current one)" },
        V(ARG_MODE)     = { "mode",     "MODE",          "adaptive, split, flowlet, pass, off, rps or napi-threaded" },
        V(ARG_BATCH)    = { "batch",    "N",             "Packets per micro-flow, 1 to 1048576" },
        V(ARG_CORES_PER_FLOW) = { "cores-per-flow", "N", "Splitting cores per elephant, 1 to 8 (at most the online CPUs)" },
        V(ARG_ADDRESSES) = { "addresses", "LIST", "Comma-separated IP addresses whose flows are the tenant's (default: its pid's network namespace)" },
        V(ARG_PROMOTION_RATE) = { "promotion-rate", "BYTES", "State a promotion rate in bytes/s as the tenant's demand (0: none)" },
};
/* clang-format on */
#undef V

typedef enum Positional {
        POS_NONE,
        POS_ID,
        POS_NAME,
        POS_NAME_VALUE,
        POS_OPT_NAME,
        POS_TENANT,
        POS_TENANT_BYTES,
        POS_ID_EPISODE,
        _POS_MAX,
} Positional;

/* How many arguments each kind takes, and how synopses and errors name them. */
static const struct {
        const char *synopsis;
        int min, max;
        const char *what;
} positionals[_POS_MAX] = {
        [POS_NONE] = { "", 0, 0, NULL },
        [POS_ID] = { " ID", 1, 1, "an ID" },
        [POS_NAME] = { " NAME", 1, 1, "a NAME" },
        [POS_NAME_VALUE] = { " NAME VALUE", 2, 2, "a NAME and a VALUE" },
        [POS_OPT_NAME] = { " [NAME]", 0, 1, NULL },
        [POS_TENANT] = { " TENANT", 1, 1, "a TENANT id" },
        [POS_TENANT_BYTES] = { " TENANT BYTES", 2, 2, "a TENANT id and BYTES" },
        [POS_ID_EPISODE] = { " ID EPISODE", 2, 2, "an ID and an EPISODE" },
};

typedef struct Verb {
        const char *group; /* first word */
        const char *name;  /* second word, NULL for one-word verbs */
        Positional positional;
        unsigned options; /* OPT() of the verb options it takes */
        ExitStatus (*run)(const Args *a);
        const char *summary;
} Verb;

static const Verb verbs[] = {
        { "status", NULL, POS_NONE, 0, status_show, "Show maiod's status, host features and counts" },
        { "tenants", "list", POS_NONE, 0, tenants_list, "List tenants" },
        { "tenants", "show", POS_ID, 0, tenants_show, "Show one tenant" },
        { "tenants", "add", POS_NAME,
          OPT(ARG_PRIORITY) | OPT(ARG_CLASS) | OPT(ARG_PID) | OPT(ARG_CGROUP) | OPT(ARG_ADDRESSES), tenants_add,
          "Register a tenant; prints its id and token (the token is shown only once)" },
        { "tenants", "rm", POS_ID, 0, tenants_rm, "Remove a tenant" },
        { "events", NULL, POS_NONE, OPT(ARG_TENANT), events_list, "Show recent events, newest first" },
        { "knobs", "list", POS_NONE, 0, knobs_list,
          "List the kernel knobs maiod may own, live values and journal state" },
        { "knobs", "get", POS_NAME, 0, knobs_get,
          "Show one knob: original, desired and live value, state, last change" },
        { "knobs", "set", POS_NAME_VALUE, 0, knobs_set, "Set a knob through maiod's journal (administrators)" },
        { "knobs", "restore", POS_OPT_NAME, 0, knobs_restore,
          "Restore one knob, or without NAME every knob, to its original value (administrators)" },
        { "topology", NULL, POS_NONE, 0, topology_show,
          "Show the host topology: CPUs, NUMA nodes, hugepages, network devices" },
        { "maio", "list", POS_NONE, 0, maio_list,
          "Show the hugepage reserve per NUMA node and the grants you may see" },
        { "maio", "grant", POS_TENANT_BYTES, OPT(ARG_NODE), maio_grant,
          "Grant a tenant BYTES of hugepage-backed buffer capacity on a NUMA node (replaces its grant there)" },
        { "maio", "release", POS_TENANT, 0, maio_release, "Release all of a tenant's hugepage grants" },
        { "thresholds", NULL, POS_ID, 0, tier_thresholds,
          "Show a tenant's promotion thresholds and the episode to report on" },
        { "feedback", NULL, POS_ID_EPISODE, OPT(ARG_TIME) | OPT(ARG_RPS), tier_feedback,
          "Report how a tenant's episode went: its run time (--time) or throughput (--rps)" },
        { "mflow", "list", POS_NONE, 0, mflow_list, "Show MFLOW's devices: mode, XDP attachment, conflicts" },
        { "mflow", "set", POS_NAME, OPT(ARG_MODE) | OPT(ARG_BATCH) | OPT(ARG_CORES_PER_FLOW), mflow_set,
          "Set one device's MFLOW mode and settings (administrators)" },
        { "flows", NULL, POS_NONE, 0, flows_list,
          "Show the elephant flows and their splitting cores (administrators see unattributed flows)" },
        { "policy", NULL, POS_ID, OPT(ARG_SET) | OPT(ARG_SEED) | OPT(ARG_PROMOTION_RATE), tier_policy,
          "Show a tenant's tiering policy and reward history, or switch its policy (--set)" },
        { "sched", NULL, POS_NONE, 0, sched_show,
          "Show the scheduler: mode, queue, events per class, reaction latency" },
        { "alloc", NULL, POS_NONE, 0, alloc_list,
          "Show each scheduled resource's capacity and the demands and allocations you may see" },
};

static const struct option global_options[] = { { "help", no_argument, NULL, 'h' },
                                                { "version", no_argument, NULL, ARG_VERSION },
                                                { "socket", required_argument, NULL, ARG_SOCKET },
                                                { "transport", required_argument, NULL, ARG_TRANSPORT },
                                                { "output", required_argument, NULL, 'o' },
                                                {} };

static const struct option all_options[] = { { "help", no_argument, NULL, 'h' },
                                             { "socket", required_argument, NULL, ARG_SOCKET },
                                             { "transport", required_argument, NULL, ARG_TRANSPORT },
                                             { "output", required_argument, NULL, 'o' },
                                             { "priority", required_argument, NULL, ARG_PRIORITY },
                                             { "class", required_argument, NULL, ARG_CLASS },
                                             { "pid", required_argument, NULL, ARG_PID },
                                             { "cgroup", required_argument, NULL, ARG_CGROUP },
                                             { "tenant", required_argument, NULL, ARG_TENANT },
                                             { "node", required_argument, NULL, ARG_NODE },
                                             { "time", required_argument, NULL, ARG_TIME },
                                             { "rps", required_argument, NULL, ARG_RPS },
                                             { "set", required_argument, NULL, ARG_SET },
                                             { "seed", required_argument, NULL, ARG_SEED },
                                             { "mode", required_argument, NULL, ARG_MODE },
                                             { "batch", required_argument, NULL, ARG_BATCH },
                                             { "cores-per-flow", required_argument, NULL, ARG_CORES_PER_FLOW },
                                             { "addresses", required_argument, NULL, ARG_ADDRESSES },
                                             { "promotion-rate", required_argument, NULL, ARG_PROMOTION_RATE },
                                             {} };

static const char *verb_title(const Verb *v, char *buf, size_t size) {
        snprintf(buf, size, "%s%s%s", v->group, v->name ? " " : "", v->name ?: "");
        return buf;
}

static const char *verb_synopsis(const Verb *v, char *buf, size_t size) {
        size_t n;

        verb_title(v, buf, size);
        n = strlen(buf);
        n += snprintf(buf + n, size - n, "%s", positionals[v->positional].synopsis);
        for (size_t i = 0; i < N_VERB_OPTIONS && n < size; i++)
                if (v->options & (1u << i))
                        n += snprintf(buf + n, size - n, " [--%s %s]", verb_options[i].name, verb_options[i].metavar);
        return buf;
}

/* Options every verb takes as well; --version only before the command. */
static const struct {
        char short_name;
        const char *name;
        const char *metavar;
        const char *help;
        bool per_verb;
} common_help[] = {
        { 0, "socket", "PATH", "maiod's unix socket (default: $MAIOD_SOCKET, else " MAIOD_SOCKET_PATH ")", true },
        { 0, "transport", "rest|netlink|auto",
          "REST on the socket (default), netlink to the port id maiod announces beside it, or netlink with REST "
          "as fallback",
          true },
        { 'o', "output", "table|json", "Output format (default: table)", true },
        { 'h', "help", NULL, "Show this help (after a command: that command's help)", true },
        { 0, "version", NULL, "Show maioctl's version", false },
};

static void help_option(char short_name, const char *name, const char *metavar, const char *help) {
        char buf[64];

        snprintf(buf, sizeof buf, "--%s%s%s", name, metavar ? " " : "", metavar ?: "");
        if (short_name)
                printf("  -%c, %-22s  %s\n", short_name, buf, help);
        else
                printf("      %-22s  %s\n", buf, help);
}

static void help_common_options(bool per_verb) {
        for (size_t i = 0; i < ELEMENTSOF(common_help); i++)
                if (common_help[i].per_verb || !per_verb)
                        help_option(common_help[i].short_name, common_help[i].name, common_help[i].metavar,
                                    common_help[i].help);
}

/* Lists the verbs, or only those of one group. */
static void help_commands(const char *group) {
        char buf[256];

        printf("Commands:\n");
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                if (group && strcmp(verbs[i].group, group) != 0)
                        continue;
                verb_synopsis(&verbs[i], buf, sizeof buf);
                if (strlen(buf) <= 24)
                        printf("  %-24s  %s\n", buf, verbs[i].summary);
                else
                        printf("  %s\n  %-24s  %s\n", buf, "", verbs[i].summary);
        }
}

static void help_main(void) {
        printf("Usage: maioctl [OPTIONS] COMMAND ...\n\n"
               "Control maiod, the maio host daemon, through its REST API on a unix socket or its netlink API.\n\n");
        help_commands(NULL);
        printf("\nOptions:\n");
        help_common_options(false);
        printf("\nRun 'maioctl COMMAND --help' for the options of one command. See maioctl(8).\n");
}

static void help_group(const char *group) {
        printf("Usage: maioctl [OPTIONS] %s COMMAND ...\n\n", group);
        help_commands(group);
        printf("\nOptions:\n");
        help_common_options(true);
}

static void help_verb(const Verb *v) {
        char buf[256];

        printf("Usage: maioctl [OPTIONS] %s\n\n%s.\n\nOptions:\n", verb_synopsis(v, buf, sizeof buf), v->summary);
        for (size_t i = 0; i < N_VERB_OPTIONS; i++)
                if (v->options & (1u << i))
                        help_option(0, verb_options[i].name, verb_options[i].metavar, verb_options[i].help);
        help_common_options(true);
}

static int usage_error(const char *command, const char *format, ...) _printf_(2, 3);
static int usage_error(const char *command, const char *format, ...) {
        va_list ap;

        fputs("maioctl: ", stderr);
        va_start(ap, format);
        vfprintf(stderr, format, ap);
        va_end(ap);
        fprintf(stderr, "\nTry 'maioctl%s%s --help'.\n", command ? " " : "", command ?: "");
        return -EINVAL;
}

/* getopt_long() returned '?' or ':' (opterr is off, so it printed nothing). */
static int option_error(int c, char **argv, const char *command) {
        const char *arg = argv[optind - 1];
        bool is_long = arg[0] == '-' && arg[1] == '-';

        if (c == ':')
                return is_long ? usage_error(command, "option '%s' needs an argument", arg)
                               : usage_error(command, "option '-%c' needs an argument", optopt);
        return is_long ? usage_error(command, "unrecognized option '%s'", arg)
                       : usage_error(command, "unrecognized option '-%c'", optopt);
}

/* Strict decimal: digits only (no sign, no blanks, no suffix), within [min, max].
 * Returns 0, -EINVAL (not a number) or -ERANGE. */
static int parse_number(const char *s, int64_t min, int64_t max, int64_t *ret) {
        long long v;
        char *end;

        if (!s || *s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno != 0)
                return -errno;
        if (*end != '\0')
                return -EINVAL;
        if (v < min || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

static int parse_number_arg(const char *what, const char *s, int64_t min, int64_t max, int64_t *ret,
                            const char *command) {
        if (parse_number(s, min, max, ret) < 0)
                return usage_error(command, "invalid %s '%s': expected an integer from %" PRId64 " to %" PRId64, what,
                                   s, min, max);
        return 0;
}

static int output_table(json_object *data, TablePrinter print_table) {
        return print_table(data);
}

static int output_json(json_object *data, TablePrinter print_table) {
        return reply_print_json(data, stdout);
}

struct Output {
        const char *name;
        int (*print)(json_object *data, TablePrinter print_table);
};

/* The formats of -o, the default first: the one place that knows them. */
static const Output outputs[] = {
        { "table", output_table },
        { "json", output_json },
};

/* --socket, --transport and -o, accepted before and after the command. */
static int parse_common(int c, const char *value, Args *a, const char *command) {
        if (c == ARG_TRANSPORT) {
                for (maio_transport t = MAIO_TRANSPORT_AUTO; t <= MAIO_TRANSPORT_REST; t++)
                        if (strcmp(value, maio_transport_to_string(t)) == 0) {
                                a->transport = t;
                                return 0;
                        }
                return usage_error(command, "invalid transport '%s': expected rest, netlink or auto", value);
        }
        if (c == ARG_SOCKET) {
                if (value[0] == '\0')
                        return usage_error(command, "--socket needs a non-empty path");
                a->socket_path = value;
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(outputs); i++)
                if (strcmp(value, outputs[i].name) == 0) {
                        a->output = &outputs[i];
                        return 0;
                }
        return usage_error(command, "invalid output format '%s': expected table or json", value);
}

/* Returns 1 to go on with the command at *ret_index, 0 when done (help, version),
 * -EINVAL on a usage error (already reported). */
static int parse_global(int argc, char **argv, Args *a, int *ret_index) {
        int c, r;

        /* '+': stop at the command; ':': report missing arguments as ':'. */
        while ((c = getopt_long(argc, argv, "+:ho:", global_options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help_main();
                        return 0;
                case ARG_VERSION:
                        printf("maioctl %s\n", MAIO_VERSION);
                        return 0;
                case ARG_SOCKET:
                case ARG_TRANSPORT:
                case 'o':
                        r = parse_common(c, optarg, a, NULL);
                        if (r < 0)
                                return r;
                        break;
                default:
                        return option_error(c, argv, NULL);
                }

        if (optind >= argc)
                return usage_error(NULL, "missing command");
        *ret_index = optind;
        return 1;
}

/* Finds the verb named at argv[i] (one or two words). Returns 1 with *ret and the
 * index of its last word, 0 after printing a group's help, -EINVAL on errors. */
static int find_verb(int argc, char **argv, int i, const Verb **ret, int *ret_index) {
        const char *group = argv[i], *sub = i + 1 < argc ? argv[i + 1] : NULL;
        bool known_group = false;

        for (size_t k = 0; k < ELEMENTSOF(verbs); k++) {
                const Verb *v = &verbs[k];

                if (strcmp(v->group, group) != 0)
                        continue;
                known_group = true;
                if (!v->name || (sub && strcmp(v->name, sub) == 0)) {
                        *ret = v;
                        *ret_index = v->name ? i + 1 : i;
                        return 1;
                }
        }

        if (!known_group)
                return usage_error(NULL, "unknown command '%s'", group);
        if (sub && (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0)) {
                help_group(group);
                return 0;
        }
        if (!sub || sub[0] == '-')
                return usage_error(group, "'%s' needs a subcommand", group);
        return usage_error(group, "unknown subcommand '%s %s'", group, sub);
}

/* args holds the first (up to) three of the n arguments that are not options. */
static int parse_positional(const Verb *v, int n, const char *const *args, Args *a, const char *command) {
        int min = positionals[v->positional].min, max = positionals[v->positional].max;
        int64_t id;
        int r;

        if (n > max)
                return usage_error(command, "unexpected argument '%s'", args[max]);
        if (n < min)
                return usage_error(command, "'%s' needs %s", command, positionals[v->positional].what);
        if (v->positional == POS_NONE || n == 0)
                return 0;

        if (v->positional != POS_ID && v->positional != POS_TENANT && v->positional != POS_TENANT_BYTES &&
            v->positional != POS_ID_EPISODE) {
                a->name = args[0];
                a->value = n > 1 ? args[1] : NULL;
                return 0;
        }
        r = parse_number_arg(v->positional == POS_ID ? "ID" : "TENANT", args[0], 1, INT64_MAX, &id, command);
        if (r < 0)
                return r;
        a->id = id;
        if (v->positional == POS_ID_EPISODE)
                return parse_number_arg("EPISODE", args[1], 1, INT64_MAX, &a->episode, command);
        if (v->positional == POS_TENANT_BYTES && maio_parse_bytes(args[1], &a->bytes) < 0)
                return usage_error(command,
                                   "invalid BYTES '%s': expected a positive number of bytes, optionally "
                                   "with a suffix K, M, G or T (KiB, MiB, GiB, TiB)",
                                   args[1]);
        return 0;
}

/* A finite decimal number above 0 as strtod() reads it, without blanks or sign around it. */
static int parse_positive_arg(const char *what, const char *s, double *ret, const char *command) {
        char *end;
        double v;

        errno = 0;
        v = strtod(s, &end);
        if (!strchr("0123456789.", s[0]) || s[0] == '\0' || s[strspn(s, "0123456789.eE+-")] != '\0' || errno != 0 ||
            end == s || *end != '\0' || !isfinite(v) || v <= 0)
                return usage_error(command, "invalid %s '%s': expected a number greater than 0", what, s);
        *ret = v;
        return 0;
}

/* The tiering options: --time, --rps, --set, --seed, --promotion-rate. */
static int parse_tier_values(const char *const *raw, Args *a, const char *command) {
        const char *s;
        int r;

        if ((s = raw[ARG_TIME - ARG_PRIORITY]) && (r = parse_positive_arg("--time", s, &a->time_s, command)) < 0)
                return r;
        if ((s = raw[ARG_RPS - ARG_PRIORITY]) && (r = parse_positive_arg("--rps", s, &a->rps, command)) < 0)
                return r;
        if ((s = raw[ARG_SEED - ARG_PRIORITY]) &&
            (r = parse_number_arg("--seed", s, 0, INT64_MAX, &a->seed, command)) < 0)
                return r;
        if ((s = raw[ARG_PROMOTION_RATE - ARG_PRIORITY]) &&
            (r = parse_number_arg("--promotion-rate", s, 0, INT64_C(1) << 40, &a->promotion_rate, command)) < 0)
                return r;
        if ((s = raw[ARG_SET - ARG_PRIORITY])) {
                if (s[0] == '\0')
                        return usage_error(command, "--set needs a policy name");
                a->policy = s;
        }
        return 0;
}

/* The mflow set options: --mode, --batch, --cores-per-flow (maiod checks the rest). */
static int parse_mflow_values(const char *const *raw, Args *a, const char *command) {
        const char *s;
        int r;

        if ((s = raw[ARG_MODE - ARG_PRIORITY])) {
                if (s[0] == '\0')
                        return usage_error(command, "--mode needs a mode");
                a->mflow_mode = s;
        }
        if ((s = raw[ARG_BATCH - ARG_PRIORITY]) &&
            (r = parse_number_arg("--batch", s, 1, 1048576, &a->mflow_batch, command)) < 0)
                return r;
        if ((s = raw[ARG_CORES_PER_FLOW - ARG_PRIORITY]) &&
            (r = parse_number_arg("--cores-per-flow", s, 1, 8, &a->mflow_cores_per_flow, command)) < 0)
                return r;
        return 0;
}

/* Validates the verb options collected as strings, indexed by id - ARG_PRIORITY. */
static int parse_values(const char *const *raw, Args *a, const char *command) {
        const char *s;
        int64_t v;
        int r;

        if ((s = raw[ARG_PRIORITY - ARG_PRIORITY])) {
                r = parse_number_arg("--priority", s, 0, 7, &v, command);
                if (r < 0)
                        return r;
                a->priority = (int) v;
        }
        if ((s = raw[ARG_PID - ARG_PRIORITY])) {
                r = parse_number_arg("--pid", s, 1, INT32_MAX, &v, command);
                if (r < 0)
                        return r;
                a->pid = (int) v;
        }
        if ((s = raw[ARG_TENANT - ARG_PRIORITY])) {
                r = parse_number_arg("--tenant", s, 1, INT64_MAX, &v, command);
                if (r < 0)
                        return r;
                a->tenant = v;
        }
        if ((s = raw[ARG_NODE - ARG_PRIORITY])) {
                r = parse_number_arg("--node", s, 0, 1023, &v, command);
                if (r < 0)
                        return r;
                a->node = (int) v;
        }
        if ((s = raw[ARG_CLASS - ARG_PRIORITY])) {
                if (strcmp(s, "batch") != 0 && strcmp(s, "serving") != 0)
                        return usage_error(command, "invalid --class '%s': expected batch or serving", s);
                a->workload_class = s;
        }
        if ((s = raw[ARG_CGROUP - ARG_PRIORITY])) {
                if (s[0] == '\0')
                        return usage_error(command, "--cgroup needs a non-empty path");
                a->cgroup = s;
        }
        if ((s = raw[ARG_ADDRESSES - ARG_PRIORITY])) {
                if (s[0] == '\0')
                        return usage_error(command, "--addresses needs at least one address");
                a->addresses = s;
        }
        r = parse_tier_values(raw, a, command);
        if (r < 0)
                return r;
        return parse_mflow_values(raw, a, command);
}

/* argv[0] is the verb's last word. Returns 1 to run it, 0 after --help, -EINVAL. */
static int parse_verb(const Verb *v, int argc, char **argv, Args *a) {
        const char *raw[N_VERB_OPTIONS] = {}, *args[3] = {};
        char command[64];
        bool help = false;
        int c, r, n_args = 0;

        verb_title(v, command, sizeof command);
        optind = 0; /* glibc: start over on a new argv */
        /* '-': arguments come back in order as 1, so options may follow them even
         * under POSIXLY_CORRECT; ':': missing values come back as ':'. */
        while ((c = getopt_long(argc, argv, "-:ho:", all_options, NULL)) >= 0)
                switch (c) {
                case 1:
                        if (n_args < (int) ELEMENTSOF(args))
                                args[n_args] = optarg;
                        n_args++;
                        break;
                case 'h':
                        help = true;
                        break;
                case ARG_SOCKET:
                case ARG_TRANSPORT:
                case 'o':
                        r = parse_common(c, optarg, a, command);
                        if (r < 0)
                                return r;
                        break;
                case ARG_PRIORITY ... _ARG_MAX - 1:
                        if (!(v->options & OPT(c)))
                                return usage_error(command, "option '--%s' does not apply to '%s'",
                                                   verb_options[c - ARG_PRIORITY].name, command);
                        raw[c - ARG_PRIORITY] = optarg;
                        break;
                default:
                        return option_error(c, argv, command);
                }

        if (help) {
                help_verb(v);
                return 0;
        }
        for (; optind < argc; optind++, n_args++) /* after "--" */
                if (n_args < (int) ELEMENTSOF(args))
                        args[n_args] = argv[optind];
        r = parse_positional(v, n_args, args, a, command);
        if (r < 0)
                return r;
        r = parse_values(raw, a, command);
        if (r < 0)
                return r;
        return 1;
}

/* The netlink connection of --transport netlink|auto, opened on the first call: to the port id
 * maiod announces in the directory of its socket (RUNTIME_DIR). 0: opened; 1: auto found no
 * netlink, use REST; -errno: netlink failed (reported). */
static CtlConn nl_conn = { .transport = MAIO_TRANSPORT_AUTO };

static int netlink_conn(const Args *a) {
        _cleanup_free_ char *dir = NULL;
        int r;

        if (a->transport == MAIO_TRANSPORT_REST)
                return 1;
        if (nl_conn.transport == MAIO_TRANSPORT_NETLINK)
                return 0;
        dir = strdup(a->socket_path);
        if (!dir)
                return -ENOMEM;
        r = ctl_conn_open(&nl_conn, MAIO_TRANSPORT_NETLINK, dirname(dir), 0, a->socket_path, HTTP_TIMEOUT_SEC * 1000);
        if (r < 0 && a->transport == MAIO_TRANSPORT_AUTO)
                return 1;
        if (r < 0)
                fprintf(stderr, "maioctl: cannot reach maiod over netlink: %s\n", nl_conn.error);
        return r;
}

/* One exchange over the transport --transport chose: as http_request(). */
static int call_transport(const Args *a, const char *method, const char *path, json_object *body, int *ret_status,
                          json_object **ret_reply) {
        int r = netlink_conn(a);

        if (r == 1)
                return http_request(a->socket_path, method, path, body, ret_status, ret_reply);
        if (r < 0)
                return -EHOSTUNREACH; /* reported */
        r = ctl_conn_request(&nl_conn, method, path, body, ret_status, ret_reply);
        if (r < 0 && r != -ENOMEM) {
                fprintf(stderr, "maioctl: %s\n", nl_conn.error);
                return -EHOSTUNREACH;
        }
        return r;
}

ExitStatus maioctl_call(const Args *a, const char *method, const char *path, json_object *body,
                        json_object **ret_reply) {
        _cleanup_json_ json_object *reply = NULL;
        const char *code, *message;
        int status = 0, r;

        r = call_transport(a, method, path, body, &status, &reply);
        switch (r) {
        case 0:
                break;
        case -ENOMEM:
                return maioctl_local_error(r);
        case -EBADMSG:
                return maioctl_bad_reply(a, "not valid JSON");
        case -EPROTO:
                return maioctl_bad_reply(a, "not HTTP");
        case -EHOSTUNREACH: /* netlink: reported already */
                return EXIT_UNREACHABLE;
        case -EMSGSIZE: {
                char what[64];

                snprintf(what, sizeof what, "larger than %u MiB", HTTP_REPLY_MAX >> 20);
                return maioctl_bad_reply(a, what);
        }
        default:
                fprintf(stderr, "maioctl: cannot reach maiod at %s: %s\n", a->socket_path, strerror(-r));
                return EXIT_UNREACHABLE;
        }

        if (status >= 200 && status < 300) {
                *ret_reply = TAKE_PTR(reply);
                return EXIT_OK;
        }

        (void) reply_error(reply, &code, &message);
        fprintf(stderr, "maioctl: %s (%s, HTTP %d)\n", message ?: "maiod answered without an error message",
                code ?: "unknown", status);
        return EXIT_DAEMON_ERROR;
}

const char *maioctl_tenant_path(char buf[static TENANT_PATH_MAX], int64_t id, const char *what) {
        snprintf(buf, TENANT_PATH_MAX, "/v1/tenants/%" PRId64 "%s%s", id, what ? "/" : "", what ?: "");
        return buf;
}

ExitStatus maioctl_bad_reply(const Args *a, const char *what) {
        fprintf(stderr, "maioctl: unreadable reply from maiod at %s: %s\n", a->socket_path, what);
        return EXIT_UNREACHABLE;
}

ExitStatus maioctl_output(const Args *a, json_object *data, TablePrinter print_table) {
        int r = a->output->print(data, print_table);

        return r < 0 ? maioctl_local_error(r) : EXIT_OK;
}

int maioctl_print_list(json_object *list, const Field *cols, size_t n_cols) {
        _cleanup_(table_freep) Table *t = NULL;
        const char *header[n_cols];
        int r = 0;

        for (size_t c = 0; c < n_cols; c++)
                header[c] = cols[c].title;
        t = table_new(n_cols, header);
        if (!t)
                return -ENOMEM;
        for (size_t i = 0; i < json_object_array_length(list) && r >= 0; i++)
                for (size_t c = 0; c < n_cols && r >= 0; c++)
                        r = table_add_cell(t, reply_text(json_object_array_get_idx(list, i), cols[c].key));
        return r < 0 ? r : table_print(t, stdout);
}

int maioctl_add_fields(Table *t, json_object *o, const Field *fields, size_t n_fields) {
        int r = 0;

        for (size_t i = 0; i < n_fields && r >= 0; i++)
                r = table_add_pair(t, fields[i].title, reply_text(o, fields[i].key));
        return r;
}

int maioctl_print_fields(json_object *o, const Field *fields, size_t n_fields) {
        _cleanup_(table_freep) Table *t = table_new(2, NULL);
        int r = t ? maioctl_add_fields(t, o, fields, n_fields) : -ENOMEM;

        return r < 0 ? r : table_print(t, stdout);
}

ExitStatus maioctl_list(const Args *a, const char *path, const char *member, TablePrinter print_table) {
        _cleanup_json_ json_object *reply = NULL;
        ExitStatus e;

        e = maioctl_call(a, "GET", path, NULL, &reply);
        if (e != EXIT_OK)
                return e;
        if (!reply_member(reply, member, json_type_array)) {
                char what[64];

                snprintf(what, sizeof what, "no \"%s\" array", member);
                return maioctl_bad_reply(a, what);
        }
        return maioctl_output(a, reply, print_table);
}

ExitStatus maioctl_local_error(int r) {
        fprintf(stderr, "maioctl: %s\n", strerror(abs(r)));
        return EXIT_DAEMON_ERROR;
}

int main(int argc, char *argv[]) {
        Args a = {
                .output = &outputs[0],
                .priority = -1,
                .pid = -1,
                .tenant = -1,
                .node = -1,
                .time_s = NAN,
                .rps = NAN,
                .seed = -1,
                .promotion_rate = -1,
                .mflow_batch = -1,
                .mflow_cores_per_flow = -1,
                .transport = MAIO_TRANSPORT_REST,
        };
        const Verb *v = NULL;
        ExitStatus e;
        int i = 0, r;

        opterr = 0; /* option_error() words the messages */
        r = parse_global(argc, argv, &a, &i);
        if (r <= 0)
                return r == 0 ? EXIT_OK : EXIT_USAGE;
        r = find_verb(argc, argv, i, &v, &i);
        if (r <= 0)
                return r == 0 ? EXIT_OK : EXIT_USAGE;
        r = parse_verb(v, argc - i, argv + i, &a);
        if (r <= 0)
                return r == 0 ? EXIT_OK : EXIT_USAGE;

        if (!a.socket_path) {
                const char *env = getenv("MAIOD_SOCKET");

                a.socket_path = env && env[0] ? env : MAIOD_SOCKET_PATH;
        }

        r = http_init();
        if (r < 0)
                return maioctl_local_error(r);
        e = v->run(&a);
        http_done();
        ctl_conn_close(&nl_conn);

        if (fflush(stdout) != 0 || ferror(stdout)) {
                fprintf(stderr, "maioctl: cannot write output: %s\n", strerror(errno ?: EIO));
                return e == EXIT_OK ? EXIT_DAEMON_ERROR : e;
        }
        return e;
}
