/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for conf_load(): the input is a maiod.conf, read through a
 * memfd. An accepted file must survive conf_print() -> conf_load() unchanged. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                          \
        do {                              \
                if (!(x))                 \
                        __builtin_trap(); \
        } while (0)

/* Two files reused across runs: the input and the printed round trip. */
static int input_fd = -EBADF, print_fd = -EBADF;
static char input_path[64], print_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        log_set_max_level(LOG_CRIT);
        input_fd = memfd_create("fuzz-conf-input", MFD_CLOEXEC);
        print_fd = memfd_create("fuzz-conf-print", MFD_CLOEXEC);
        if (input_fd < 0 || print_fd < 0) {
                perror("memfd_create");
                abort();
        }
        snprintf(input_path, sizeof input_path, "/proc/self/fd/%d", input_fd);
        snprintf(print_path, sizeof print_path, "/proc/self/fd/%d", print_fd);
        return 0;
}

static int fd_set_contents(int fd, const void *data, size_t size) {
        if (ftruncate(fd, 0) < 0)
                return -errno;
        for (size_t done = 0; done < size;) {
                ssize_t k = pwrite(fd, (const char *) data + done, size - done, (off_t) done);

                if (k < 0)
                        return -errno;
                done += (size_t) k;
        }
        return 0;
}

/* Returns a malloc'd conf_print() of c, or NULL on OOM. */
static char *conf_to_string(const Config *c) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        if (!f)
                return NULL;
        if (conf_print(c, f) < 0) {
                fclose(f);
                free(buf);
                return NULL;
        }
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

static void check_round_trip(const Config *c) {
        _cleanup_free_ char *printed = NULL, *reprinted = NULL, *error = NULL;
        _cleanup_(conf_freep) Config *again = NULL;
        int r;

        printed = conf_to_string(c);
        if (!printed)
                return;
        CHECK(fd_set_contents(print_fd, printed, strlen(printed)) == 0);
        r = conf_load(print_path, true, &again, &error);
        if (r == -ENOMEM)
                return;
        CHECK(r == 0 && again && !error); /* conf_print() output must be loadable */
        reprinted = conf_to_string(again);
        if (reprinted)
                CHECK(strcmp(printed, reprinted) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(conf_freep) Config *c = NULL;
        _cleanup_free_ char *error = NULL;
        int r;

        if (size > 64 * 1024)
                return 0;
        CHECK(fd_set_contents(input_fd, data, size) == 0);
        r = conf_load(input_path, true, &c, &error);
        if (r < 0) {
                CHECK(!c);
                CHECK(error || r == -ENOMEM); /* a rejected file always says why */
                return 0;
        }
        CHECK(c && !error);
        check_round_trip(c);
        return 0;
}
