/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for notifications: the event kinds' words (part of the netlink API), notify_event()
 * (the event's JSON, what it does without a listener) and the decoding of the netlink-only
 * subscribe and unsubscribe requests. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <linux/netlink.h>

#include "cleanup.h"
#include "maio_netlink.h"
#include "netlink.h"
#include "notify.h"

static void test_kinds(void **state) {
        static const char *const words[] = { "thresholds-changed", "tenant-exited", "tenant-removed",
                                             "flow-elephant",      "flow-split",    "allocation-changed" };

        assert_int_equal(ELEMENTSOF(words), _NOTIFY_KIND_MAX);
        for (size_t i = 0; i < ELEMENTSOF(words); i++) {
                assert_string_equal(notify_kind_to_string((NotifyKind) i), words[i]);
                assert_int_equal(notify_kind_from_string(words[i]), (int) i);
        }
        assert_null(notify_kind_to_string(_NOTIFY_KIND_MAX));
        assert_int_equal(notify_kind_from_string("thresholds"), -EINVAL);
        assert_int_equal(notify_kind_from_string(NULL), -EINVAL);
}

typedef struct Seen {
        unsigned calls;
        NotifyKind kind;
        int64_t tenant;
        uid_t owner;
        char json[256];
} Seen;

static void on_event(void *userdata, const NotifyEvent *ev) {
        Seen *s = userdata;

        s->calls++;
        s->kind = ev->kind;
        s->tenant = ev->tenant_id;
        s->owner = ev->owner;
        snprintf(s->json, sizeof s->json, "%s", json_object_to_json_string_ext(ev->json, JSON_C_TO_STRING_PLAIN));
}

static void test_event(void **state) {
        Seen seen = {};
        Notifier n = { on_event, &seen };
        json_object *details = json_object_new_object();

        json_object_object_add(details, "pid", json_object_new_int(42));
        json_object_object_add(details, "message", json_object_new_string("gone"));
        assert_true(notify_wanted(&n));
        notify_event(&n, NOTIFY_TENANT_EXITED, 7, 1000, details); /* consumes details */
        assert_int_equal(seen.calls, 1);
        assert_int_equal(seen.kind, NOTIFY_TENANT_EXITED);
        assert_int_equal(seen.tenant, 7);
        assert_int_equal(seen.owner, 1000);
        assert_string_equal(seen.json, "{\"tenant\":7,\"pid\":42,\"message\":\"gone\"}");

        notify_event(&n, NOTIFY_TENANT_REMOVED, 8, 0, NULL);
        assert_int_equal(seen.calls, 2);
        assert_string_equal(seen.json, "{\"tenant\":8}");

        /* An unknown kind is not sent. */
        notify_event(&n, _NOTIFY_KIND_MAX, 9, 0, json_object_new_object());
        assert_int_equal(seen.calls, 2);
}

static void test_no_listener(void **state) {
        Notifier off = {};

        assert_false(notify_wanted(NULL));
        assert_false(notify_wanted(&off));
        /* Details are consumed all the same (the sanitizer build would report a leak). */
        notify_event(NULL, NOTIFY_THRESHOLDS_CHANGED, 1, 0, json_object_new_object());
        notify_event(&off, NOTIFY_THRESHOLDS_CHANGED, 1, 0, json_object_new_object());
}

/* A request message of cmd with attributes attrs (n bytes) in buf; returns its length. */
static size_t request(uint8_t *buf, uint8_t cmd, const void *attrs, size_t n) {
        struct nlmsghdr *nlh = (struct nlmsghdr *) buf;
        size_t len = NLMSG_HDRLEN + sizeof(struct maio_nlhdr) + n;

        memset(buf, 0, len);
        *nlh = (struct nlmsghdr) { .nlmsg_len = (uint32_t) len,
                                   .nlmsg_type = MAIO_NL_MSG,
                                   .nlmsg_flags = NLM_F_REQUEST };
        *(struct maio_nlhdr *) NLMSG_DATA(nlh) = (struct maio_nlhdr) { .cmd = cmd, .version = MAIO_NL_VERSION };
        if (n > 0)
                memcpy(buf + NLMSG_HDRLEN + sizeof(struct maio_nlhdr), attrs, n);
        return len;
}

/* An attribute of type with an __s64 value. */
typedef struct __attribute__((packed)) AttrS64 {
        struct nlattr a;
        int64_t v;
} AttrS64;

static int decode(uint8_t cmd, const void *attrs, size_t n, OpParams *params, char *err, size_t err_size) {
        _Alignas(8) uint8_t buf[256];
        json_object *body = NULL;
        const Op *op = (const Op *) buf; /* anything but NULL */
        int r;

        r = netlink_decode(buf, request(buf, cmd, attrs, n), 16, &op, params, &body, err, err_size);
        if (r >= 0) {
                assert_null(op);
                assert_null(body);
        }
        return r;
}

static void test_decode_subscribe(void **state) {
        AttrS64 id = { { sizeof id, MAIO_ATTR_ID }, 5 }, two[2] = { id, id }, zero = { { sizeof id, MAIO_ATTR_ID }, 0 };
        struct {
                struct nlattr a;
                uint32_t v;
        } shorter = { { sizeof shorter, MAIO_ATTR_ID }, 5 };
        AttrS64 name = { { sizeof name, MAIO_ATTR_NAME }, 5 };
        OpParams p;
        char err[256];

        assert_int_equal(decode(MAIO_CMD_NOTIFY_SUBSCRIBE, &id, sizeof id, &p, err, sizeof err), 0);
        assert_int_equal(p.ids[0], 5);
        assert_int_equal(decode(MAIO_CMD_NOTIFY_SUBSCRIBE, NULL, 0, &p, err, sizeof err), 0);
        assert_int_equal(p.ids[0], 0);
        assert_int_equal(decode(MAIO_CMD_NOTIFY_UNSUBSCRIBE, &id, sizeof id, &p, err, sizeof err), 0);
        assert_int_equal(p.ids[0], 5);

        assert_int_equal(decode(MAIO_CMD_NOTIFY_SUBSCRIBE, &zero, sizeof zero, &p, err, sizeof err), -EINVAL);
        assert_non_null(strstr(err, "positive"));
        assert_int_equal(decode(MAIO_CMD_NOTIFY_SUBSCRIBE, two, sizeof two, &p, err, sizeof err), -EINVAL);
        assert_non_null(strstr(err, "twice"));
        assert_int_equal(decode(MAIO_CMD_NOTIFY_SUBSCRIBE, &shorter, sizeof shorter, &p, err, sizeof err), -EINVAL);
        assert_non_null(strstr(err, "8 bytes"));
        assert_int_equal(decode(MAIO_CMD_NOTIFY_UNSUBSCRIBE, &name, sizeof name, &p, err, sizeof err), -EINVAL);
        assert_non_null(strstr(err, "not one of notify.unsubscribe's"));
        assert_int_equal(decode(MAIO_CMD_NOTIFICATION, NULL, 0, &p, err, sizeof err), -EOPNOTSUPP);
        assert_non_null(strstr(err, "sent by maiod"));
}

static void test_commands(void **state) {
        size_t n = 0;
        const NetlinkCommand *c = netlink_commands(&n);

        assert_int_equal(n, 3);
        for (size_t i = 0; i < n; i++)
                assert_null(ops_by_cmd(c[i].cmd)); /* no op has a netlink-only command's number */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_kinds),       cmocka_unit_test(test_event),
                cmocka_unit_test(test_no_listener), cmocka_unit_test(test_decode_subscribe),
                cmocka_unit_test(test_commands),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
