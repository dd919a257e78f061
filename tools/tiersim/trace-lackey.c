/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* maio-trace-lackey: turns the memory trace of valgrind's lackey tool
 * (--trace-mem=yes) into maio-tiersim's trace format, streaming: epochs of N
 * data accesses, one access in S sampled, page = address >> 12, counts per
 * page and epoch. Memory is one hash table of the pages of one epoch. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maio-config.h"

#define PAGE_SHIFT 12
#define LINE_MAX_LEN 256

typedef struct Slot {
        uint64_t page;
        uint64_t count; /* 0 = empty */
} Slot;

typedef struct Epoch {
        Slot *slots;
        size_t n_slots, n_used; /* n_slots a power of two */
} Epoch;

typedef struct Options {
        uint64_t epoch_accesses, sample, skip, max_epochs;
        bool instructions;
} Options;

typedef struct Counts {
        uint64_t lines, data, instr, other;
} Counts;

static size_t slot_of(uint64_t page, size_t n_slots) {
        uint64_t h = page * UINT64_C(0x9e3779b97f4a7c15);

        return (size_t) (h ^ (h >> 29)) & (n_slots - 1);
}

static int epoch_grow(Epoch *e) {
        size_t n = e->n_slots ? e->n_slots * 2 : 4096;
        Slot *s = calloc(n, sizeof(Slot));

        if (!s)
                return -ENOMEM;
        for (size_t i = 0; i < e->n_slots; i++) {
                size_t j;

                if (!e->slots[i].count)
                        continue;
                for (j = slot_of(e->slots[i].page, n); s[j].count; j = (j + 1) & (n - 1))
                        ;
                s[j] = e->slots[i];
        }
        free(e->slots);
        e->slots = s;
        e->n_slots = n;
        return 0;
}

static int epoch_add(Epoch *e, uint64_t page) {
        size_t i;

        if ((e->n_used + 1) * 2 > e->n_slots) {
                int r = epoch_grow(e);

                if (r < 0)
                        return r;
        }
        for (i = slot_of(page, e->n_slots); e->slots[i].count && e->slots[i].page != page;
             i = (i + 1) & (e->n_slots - 1))
                ;
        if (!e->slots[i].count) {
                e->slots[i].page = page;
                e->n_used++;
        }
        e->slots[i].count++;
        return 0;
}

static int cmp_page(const void *a, const void *b) {
        uint64_t x = ((const Slot *) a)->page, y = ((const Slot *) b)->page;

        return x < y ? -1 : x > y;
}

/* Writes the epoch's pages in ascending order (the output is then independent of the hash
 * table's layout) and empties it. */
static int epoch_flush(Epoch *e, uint64_t epoch, FILE *out) {
        size_t n = 0;

        for (size_t i = 0; i < e->n_slots; i++)
                if (e->slots[i].count)
                        e->slots[n++] = e->slots[i];
        qsort(e->slots, n, sizeof(Slot), cmp_page);
        for (size_t i = 0; i < n; i++)
                fprintf(out, "%" PRIu64 " %" PRIu64 " %" PRIu64 "\n", epoch, e->slots[i].page, e->slots[i].count);
        memset(e->slots, 0, e->n_slots * sizeof(Slot));
        e->n_used = 0;
        return ferror(out) ? -EIO : 0;
}

/* Parses a lackey record: "I  ADDR,SIZE", " L ADDR,SIZE", " S ...", " M ..." (hex ADDR). Returns
 * the kind letter and the address, or 0 for any other line (valgrind's "==pid==" messages). */
static char parse_record(const char *line, uint64_t *ret_addr) {
        const char *p = line;
        uint64_t a = 0;
        unsigned digits = 0;
        char kind;

        while (*p == ' ')
                p++;
        kind = *p;
        if (kind != 'I' && kind != 'L' && kind != 'S' && kind != 'M')
                return 0;
        p++;
        if (*p != ' ')
                return 0;
        while (*p == ' ')
                p++;
        for (;; p++, digits++) {
                unsigned v;

                if (*p >= '0' && *p <= '9')
                        v = (unsigned) (*p - '0');
                else if (*p >= 'a' && *p <= 'f')
                        v = (unsigned) (*p - 'a' + 10);
                else if (*p >= 'A' && *p <= 'F')
                        v = (unsigned) (*p - 'A' + 10);
                else
                        break;
                if (digits >= 16)
                        return 0;
                a = (a << 4) | v;
        }
        if (digits == 0 || *p != ',')
                return 0;
        *ret_addr = a;
        return kind;
}

static int convert(FILE *in, FILE *out, const Options *o, Counts *c) {
        Epoch e = {};
        char line[LINE_MAX_LEN];
        uint64_t seen = 0, in_epoch = 0, epoch = 0;
        int r = 0;

        while (fgets(line, sizeof line, in)) {
                uint64_t addr;
                char kind;

                c->lines++;
                kind = parse_record(line, &addr);
                if (kind == 0) {
                        c->other++;
                        continue;
                }
                if (kind == 'I') {
                        c->instr++;
                        if (!o->instructions)
                                continue;
                } else
                        c->data++;
                if (seen++ < o->skip)
                        continue;
                /* Systematic sampling, as a PEBS-style counter would: every S-th access. */
                if ((seen - o->skip - 1) % o->sample == 0) {
                        r = epoch_add(&e, addr >> PAGE_SHIFT);
                        if (r < 0)
                                break;
                }
                if (++in_epoch == o->epoch_accesses) {
                        r = epoch_flush(&e, epoch++, out);
                        in_epoch = 0;
                        if (r < 0 || epoch == o->max_epochs)
                                break;
                }
        }
        if (r >= 0 && ferror(in))
                r = -EIO;
        /* A partial last epoch is kept: it is still the program's behaviour, only shorter. */
        if (r >= 0 && in_epoch > 0 && e.n_used > 0 && epoch < o->max_epochs)
                r = epoch_flush(&e, epoch, out);
        free(e.slots);
        return r;
}

static int parse_u64(const char *s, uint64_t min, uint64_t *ret) {
        char *end;
        unsigned long long v;

        if (*s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || *end != '\0' || v < min)
                return -EINVAL;
        *ret = v;
        return 0;
}

static void help(void) {
        printf("Usage: maio-trace-lackey [OPTIONS] [LACKEY-OUTPUT]\n\n"
               "Converts valgrind --tool=lackey --trace-mem=yes output (a file, or stdin) into\n"
               "maio-tiersim's trace format on stdout.\n\n"
               "  --epoch N         data accesses per epoch (1048576)\n"
               "  --sample S        sample one access in S (32: one trace sample stands for 32\n"
               "                    accesses in maio-tiersim's model)\n"
               "  --skip N          skip the first N accesses (program start-up)\n"
               "  --max-epochs N    stop after N epochs (0 = no limit)\n"
               "  --instructions    count instruction fetches too (default: data only)\n"
               "  -h, --help  --version\n");
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "epoch", required_argument, NULL, 'e' },  { "sample", required_argument, NULL, 's' },
                { "skip", required_argument, NULL, 'k' },   { "max-epochs", required_argument, NULL, 'm' },
                { "instructions", no_argument, NULL, 'i' }, { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },      {},
        };
        Options o = { .epoch_accesses = 1 << 20, .sample = 32, .max_epochs = 0 };
        Counts c = {};
        FILE *in = stdin;
        int opt, r;

        while ((opt = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                uint64_t *field = opt == 'e'   ? &o.epoch_accesses
                                  : opt == 's' ? &o.sample
                                  : opt == 'k' ? &o.skip
                                               : &o.max_epochs;
                switch (opt) {
                case 'e':
                case 's':
                case 'k':
                case 'm':
                        if (parse_u64(optarg, opt == 'e' || opt == 's' ? 1 : 0, field) < 0) {
                                fprintf(stderr, "maio-trace-lackey: invalid value for %s: '%s'\n", argv[optind - 1],
                                        optarg);
                                return 2;
                        }
                        break;
                case 'i':
                        o.instructions = true;
                        break;
                case 'h':
                        help();
                        return 0;
                case 'V':
                        printf("maio-trace-lackey %s\n", MAIO_VERSION);
                        return 0;
                default:
                        return 2;
                }
        }
        if (o.max_epochs == 0)
                o.max_epochs = UINT64_MAX;
        if (argc - optind > 1) {
                fprintf(stderr, "maio-trace-lackey: at most one input file\n");
                return 2;
        }
        if (optind < argc && !(in = fopen(argv[optind], "re"))) {
                fprintf(stderr, "maio-trace-lackey: cannot open %s: %m\n", argv[optind]);
                return 1;
        }
        printf("# maio-tiersim trace from valgrind lackey: epochs of %" PRIu64 " %s accesses, 1 in %" PRIu64
               " sampled, %" PRIu64 " skipped\n# epoch page count\n",
               o.epoch_accesses, o.instructions ? "data and instruction" : "data", o.sample, o.skip);
        r = convert(in, stdout, &o, &c);
        if (in != stdin)
                fclose(in);
        if (r >= 0 && fflush(stdout) != 0)
                r = -EIO;
        if (r < 0) {
                fprintf(stderr, "maio-trace-lackey: %s\n", strerror(-r));
                return 1;
        }
        fprintf(stderr,
                "maio-trace-lackey: %" PRIu64 " lines: %" PRIu64 " data accesses, %" PRIu64
                " instruction fetches, %" PRIu64 " other\n",
                c.lines, c.data, c.instr, c.other);
        if (c.data + c.instr == 0) {
                fprintf(stderr, "maio-trace-lackey: no lackey records in the input (was --trace-mem=yes given?)\n");
                return 1;
        }
        return 0;
}
