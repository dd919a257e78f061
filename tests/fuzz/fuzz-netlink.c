/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for netlink_decode(): the input is one datagram. A decoded request must name a
 * real op, carry its path parameter, and yield a body the op's field decoder can check, or be a
 * netlink-only request (notify.subscribe, notify.unsubscribe) with no body and a valid or absent
 * tenant id; a refused one must say why. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netlink.h>

#include "log.h"
#include "maio_netlink.h"
#include "netlink.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                          \
        do {                              \
                if (!(x))                 \
                        __builtin_trap(); \
        } while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        log_set_max_level(LOG_CRIT);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(json_object_putp) json_object *body = NULL;
        char err[600] = "";
        OpParams params;
        const Op *op = NULL;
        void *copy;
        int r;

        /* An aligned private copy, as a receive buffer is. */
        copy = malloc(size ? size : 1);
        CHECK(copy);
        memcpy(copy, data, size);
        r = netlink_decode(copy, size, 16, &op, &params, &body, err, sizeof err);
        if (r < 0)
                CHECK(err[0] != '\0' || r == -ENOMEM);
        else if (!op) {
                const struct maio_nlhdr *mh = (const struct maio_nlhdr *) ((const uint8_t *) copy + NLMSG_HDRLEN);

                CHECK(size >= NLMSG_HDRLEN + sizeof *mh);
                CHECK(mh->cmd == MAIO_CMD_NOTIFY_SUBSCRIBE || mh->cmd == MAIO_CMD_NOTIFY_UNSUBSCRIBE);
                CHECK(params.ids[0] >= 0 && !body);
        } else {
                Param p[OP_MAX_FIELDS];
                Reply reply = {};

                CHECK(op && ops_by_cmd(op->cmd) == op);
                CHECK(!strstr(op->path, "{id}") || params.ids[0] > 0);
                CHECK(!strstr(op->path, "{name}") || params.name[0] != '\0');
                CHECK(!op->body == !body);
                if (body)
                        (void) reply_decode_fields(&reply, body, op->body->fields, op->body->n, p);
                reply_done(&reply);
        }
        free(copy);
        return 0;
}
