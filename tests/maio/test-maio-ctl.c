/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libmaio's control client (maio/ctl.h) against a real maiod the test starts ($MAIOD, on temp
 * directories and a copy of a fixture root): each transport opened, the tenant and tiering calls
 * over netlink and REST with the same results, maiod's errors as errnos, and the squatting check (a
 * process other than maiod answering on its port id is refused), and a subscription's notification
 * read from the fd the application polls. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/netlink.h>

#include <cmocka.h>

#include "maio/ctl.h"
#include "maio_netlink.h"
#include "testgroups.h"

#define NOBODY 65534
#define NL_PORT_MIN 4194305u

static struct {
        char dir[64], runtime[128], socket[160], log[128];
        uint32_t port;
        pid_t pid;
} maiod = { .pid = -1 };

static uint32_t random_port(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return NL_PORT_MIN + (uint32_t) ((ts.tv_nsec ^ (getpid() << 12)) % 1000000000u);
}

static int run(const char *cmd) {
        int r = system(cmd);

        return WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

/* Starts maiod on temp directories; returns 0 once it announces its netlink port and answers. */
static int maiod_start(void) {
        const char *bin = getenv("MAIOD"), *fixtures = getenv("MAIO_FIXTURES");
        char cmd[512], conf[160], root[128], path[192];
        FILE *f;

        if (!bin || !fixtures) {
                fprintf(stderr, "$MAIOD and $MAIO_FIXTURES must be set (run through meson test)\n");
                return -EINVAL;
        }
        snprintf(maiod.dir, sizeof maiod.dir, "/tmp/maio-ctl-XXXXXX");
        if (!mkdtemp(maiod.dir))
                return -errno;
        snprintf(root, sizeof root, "%s/root", maiod.dir);
        snprintf(cmd, sizeof cmd, "cp -a '%s/tier-free' '%s'", fixtures, root);
        if (run(cmd) != 0)
                return -EIO;
        maiod.port = random_port();
        snprintf(conf, sizeof conf, "%s/maiod.conf", maiod.dir);
        f = fopen(conf, "we");
        if (!f)
                return -errno;
        fprintf(f, "[api]\nnetlink_port = %" PRIu32 "\n", maiod.port);
        fclose(f);
        snprintf(maiod.runtime, sizeof maiod.runtime, "%s/run", maiod.dir);
        snprintf(maiod.socket, sizeof maiod.socket, "%s/maiod.sock", maiod.runtime);
        snprintf(maiod.log, sizeof maiod.log, "%s/maiod.log", maiod.dir);
        snprintf(path, sizeof path, "%s/state", maiod.dir);
        maiod.pid = fork();
        if (maiod.pid == 0) {
                if (!freopen(maiod.log, "we", stdout) || dup2(STDOUT_FILENO, STDERR_FILENO) < 0)
                        _exit(127);
                execl(bin, bin, "--config", conf, "--state-dir", path, "--runtime-dir", maiod.runtime, "--root", root,
                      "--foreground", (char *) NULL);
                _exit(127);
        }
        snprintf(path, sizeof path, "%s/maiod.netlink", maiod.runtime);
        for (int i = 0; i < 200; i++) {
                if (access(path, F_OK) == 0 && access(maiod.socket, F_OK) == 0)
                        return 0;
                if (waitpid(maiod.pid, NULL, WNOHANG) == maiod.pid) {
                        maiod.pid = -1;
                        return -ECHILD;
                }
                usleep(50 * 1000);
        }
        return -ETIMEDOUT;
}

static void maiod_stop(void) {
        char cmd[128];

        if (maiod.pid > 0) {
                kill(maiod.pid, SIGTERM);
                waitpid(maiod.pid, NULL, 0);
        }
        if (maiod.dir[0]) {
                snprintf(cmd, sizeof cmd, "rm -rf '%s'", maiod.dir);
                (void) run(cmd);
        }
}

static maio_ctl *open_ctl(maio_transport t) {
        maio_ctl_config cfg = { .transport = t, .runtime_dir = maiod.runtime, .socket_path = maiod.socket };
        maio_ctl *c = NULL;
        int r = maio_ctl_open(&cfg, &c);

        if (r < 0)
                fail_msg("maio_ctl_open(%s): %s (%s)", maio_transport_to_string(t), strerror(-r), c ? "" : "no client");
        return c;
}

/* ---- open ---- */

static void test_open(void **state) {
        maio_ctl_config cfg = { .runtime_dir = maiod.runtime, .socket_path = maiod.socket };
        maio_ctl *c;

        c = open_ctl(MAIO_TRANSPORT_AUTO);
        assert_int_equal(maio_ctl_transport(c), MAIO_TRANSPORT_NETLINK); /* netlink first */
        maio_ctl_close(c);
        c = open_ctl(MAIO_TRANSPORT_NETLINK);
        assert_int_equal(maio_ctl_transport(c), MAIO_TRANSPORT_NETLINK);
        assert_string_equal(maio_ctl_error(c), "");
        maio_ctl_close(c);
        c = open_ctl(MAIO_TRANSPORT_REST);
        assert_int_equal(maio_ctl_transport(c), MAIO_TRANSPORT_REST);
        maio_ctl_close(c);

        /* No announcement: netlink is not available; auto falls back to the REST socket. */
        cfg.runtime_dir = maiod.dir;
        cfg.transport = MAIO_TRANSPORT_NETLINK;
        assert_int_equal(maio_ctl_open(&cfg, &c), -ENOENT);
        cfg.transport = MAIO_TRANSPORT_AUTO;
        assert_int_equal(maio_ctl_open(&cfg, &c), 0);
        assert_int_equal(maio_ctl_transport(c), MAIO_TRANSPORT_REST);
        maio_ctl_close(c);
        /* Nothing at all. */
        cfg.socket_path = "/nonexistent/maiod.sock";
        assert_int_equal(maio_ctl_open(&cfg, &c), -ENOENT);
        cfg.transport = 7;
        assert_int_equal(maio_ctl_open(&cfg, &c), -EINVAL);
        assert_null(maio_ctl_close(NULL));
        assert_string_equal(maio_transport_to_string(MAIO_TRANSPORT_REST), "rest");
        assert_null(maio_transport_to_string(7));
}

/* ---- the calls, over each transport ---- */

static void check_tenant_calls(maio_transport t) {
        maio_ctl *c = open_ctl(t);
        maio_tenant_spec spec = { .name = maio_transport_to_string(t), .priority = 2, .workload_class = "batch" };
        maio_tenant tn, got;
        maio_thresholds th;
        maio_feedback_result res;
        maio_feedback fb;

        assert_int_equal(maio_ctl_register(c, &spec, &tn), 0);
        assert_true(tn.id > 0);
        assert_string_equal(tn.name, spec.name);
        assert_int_equal(tn.priority, 2);
        assert_string_equal(tn.workload_class, "batch");
        assert_int_equal(tn.uid, 0);
        assert_int_equal(tn.pid, 0);
        assert_int_equal(strlen(tn.token), 43);
        assert_int_equal(maio_ctl_tenant_get(c, tn.id, &got), 0);
        assert_string_equal(got.name, spec.name);
        assert_string_equal(got.token, ""); /* shown once */

        /* The name is taken: maiod's conflict, as -EEXIST with its message. */
        assert_int_equal(maio_ctl_register(c, &spec, NULL), -EEXIST);
        assert_non_null(strstr(maio_ctl_error(c), "conflict: "));
        spec = (maio_tenant_spec) { .name = "bad", .priority = 9 };
        assert_int_equal(maio_ctl_register(c, &spec, NULL), -EINVAL);
        assert_non_null(strstr(maio_ctl_error(c), "invalid-value: "));
        assert_int_equal(maio_ctl_tenant_get(c, 999999, &got), -ENOENT);

        assert_int_equal(maio_ctl_thresholds(c, tn.id, &th), 0);
        assert_int_equal(th.tenant_id, tn.id);
        assert_true(th.episode >= 1);
        assert_true(th.policy[0] && th.backend[0]);
        assert_true(strcmp(th.rule, "thresholds") == 0 || strcmp(th.rule, "never") == 0);
        fb = (maio_feedback) { .episode = th.episode, .completion_time_s = 2.5, .requests_per_s = NAN };
        assert_int_equal(maio_ctl_feedback(c, tn.id, &fb, &res), 0);
        assert_true(isfinite(res.reward));
        assert_int_equal(res.next.tenant_id, tn.id);
        assert_int_equal(res.next.episode, th.episode + 1);
        assert_int_equal(maio_ctl_feedback(c, tn.id, &fb, NULL), -EEXIST);
        fb.episode = th.episode + 1;
        fb.completion_time_s = -1;
        assert_int_equal(maio_ctl_feedback(c, tn.id, &fb, NULL), -EINVAL);

        assert_int_equal(maio_ctl_unregister(c, tn.id), 0);
        assert_int_equal(maio_ctl_tenant_get(c, tn.id, &got), -ENOENT);
        assert_int_equal(maio_ctl_thresholds(c, tn.id, &th), -ENOENT);
        maio_ctl_close(c);
}

static void test_calls_netlink(void **state) {
        check_tenant_calls(MAIO_TRANSPORT_NETLINK);
}

static void test_calls_rest(void **state) {
        check_tenant_calls(MAIO_TRANSPORT_REST);
}

/* The same tenant seen through both transports. */
static void test_parity(void **state) {
        maio_ctl *nl = open_ctl(MAIO_TRANSPORT_NETLINK), *rest = open_ctl(MAIO_TRANSPORT_REST);
        maio_tenant_spec spec = { .name = "both", .priority = -1, .workload_class = "serving" };
        maio_thresholds a, b;
        maio_tenant t, u;

        assert_int_equal(maio_ctl_register(nl, &spec, &t), 0);
        assert_int_equal(maio_ctl_tenant_get(rest, t.id, &u), 0);
        assert_string_equal(u.name, "both");
        assert_string_equal(u.workload_class, "serving");
        assert_int_equal(u.priority, 4);
        assert_int_equal(maio_ctl_thresholds(nl, t.id, &a), 0);
        assert_int_equal(maio_ctl_thresholds(rest, t.id, &b), 0);
        assert_int_equal(a.episode, b.episode);
        assert_string_equal(a.policy, b.policy);
        assert_string_equal(a.rule, b.rule);
        assert_int_equal(maio_ctl_unregister(rest, t.id), 0);
        /* Notifications are a netlink service. */
        assert_int_equal(maio_ctl_subscribe(rest, 0), -EOPNOTSUPP);
        assert_int_equal(maio_ctl_notify_fd(rest), -EBADF);
        maio_ctl_close(nl);
        maio_ctl_close(rest);
}

/* ---- squatting ---- */

/* A process bound to port that answers every request with a well-formed health reply, as uid. */
static pid_t fake_responder(uint32_t port, uid_t uid, int ready_fd) {
        pid_t pid = fork();

        if (pid != 0)
                return pid;
        struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_pid = port };
        int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_USERSOCK);
        uint8_t buf[8192];

        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0 || setresgid(uid, uid, uid) < 0 ||
            setresuid(uid, uid, uid) < 0)
                _exit(1);
        /* A failed assertion leaves the case before it kills the responder: go with the test (set
         * after the uid change, which clears it). */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() == 1)
                _exit(1);
        (void) !write(ready_fd, "r", 1);
        for (;;) {
                struct sockaddr_nl from = {};
                socklen_t fl = sizeof from;
                ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *) &from, &fl);
                struct nlmsghdr *nlh = (struct nlmsghdr *) buf;
                static const char doc[] = "{\"status\":\"ok\"}";
                uint8_t out[256] = {};
                struct nlmsghdr *o = (struct nlmsghdr *) out;
                struct nlattr *a;
                size_t len = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct maio_nlhdr));
                uint16_t status = 200;

                if (n < (ssize_t) NLMSG_HDRLEN)
                        continue;
                *o = (struct nlmsghdr) { .nlmsg_type = MAIO_NL_MSG, .nlmsg_seq = nlh->nlmsg_seq, .nlmsg_pid = port };
                *(struct maio_nlhdr *) NLMSG_DATA(o) = (struct maio_nlhdr) { .cmd = MAIO_CMD_HEALTH, .version = 1 };
                a = (struct nlattr *) (out + len);
                *a = (struct nlattr) { .nla_len = NLA_HDRLEN + 2, .nla_type = MAIO_ATTR_STATUS };
                memcpy((uint8_t *) a + NLA_HDRLEN, &status, 2);
                len += NLA_ALIGN(a->nla_len);
                a = (struct nlattr *) (out + len);
                *a = (struct nlattr) { .nla_len = NLA_HDRLEN + sizeof doc, .nla_type = MAIO_ATTR_JSON };
                memcpy((uint8_t *) a + NLA_HDRLEN, doc, sizeof doc);
                len += NLA_ALIGN(a->nla_len);
                o->nlmsg_len = (uint32_t) len;
                (void) sendto(fd, out, len, 0, (struct sockaddr *) &from, sizeof from);
        }
}

static void write_announcement(const char *dir, uint32_t port, pid_t pid, uid_t owner) {
        char path[256];
        FILE *f;

        snprintf(path, sizeof path, "%s/maiod.netlink", dir);
        f = fopen(path, "we");
        assert_non_null(f);
        fprintf(f, "%" PRIu32 " %d\n", port, (int) pid);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(chmod(path, 0644), 0);
        assert_int_equal(chown(path, owner, owner), 0);
}

/* Opens over netlink with an announcement in dir; returns maio_ctl_open's result. */
static int open_at(const char *dir, maio_transport t, char *err, size_t size) {
        maio_ctl_config cfg = { .transport = t, .runtime_dir = dir, .socket_path = maiod.socket, .timeout_ms = 3000 };
        maio_ctl *c = NULL;
        int r = maio_ctl_open(&cfg, &c);

        if (r >= 0) {
                snprintf(err, size, "%s", maio_transport_to_string(maio_ctl_transport(c)));
                maio_ctl_close(c);
        }
        return r;
}

static void squat_case(uid_t uid, bool announce_responder_pid) {
        uint32_t port = random_port();
        char dir[64] = "/tmp/maio-squat-XXXXXX", err[256] = "";
        int ready[2];
        pid_t fake;
        char c;

        assert_non_null(mkdtemp(dir));
        assert_int_equal(pipe(ready), 0);
        fake = fake_responder(port, uid, ready[1]);
        assert_true(fake > 0);
        assert_int_equal(read(ready[0], &c, 1), 1);
        /* As maiod's announcement: the responder's own pid, or maiod's (a root squatter is another pid). */
        write_announcement(dir, port, announce_responder_pid ? fake : maiod.pid, 0);
        /* The squatter answers; the client refuses that answer (-EPERM, not a timeout). */
        assert_int_equal(open_at(dir, MAIO_TRANSPORT_NETLINK, err, sizeof err), -EPERM);
        /* auto does not believe it either: it uses the REST socket. */
        assert_int_equal(open_at(dir, MAIO_TRANSPORT_AUTO, err, sizeof err), 0);
        assert_string_equal(err, "rest");
        kill(fake, SIGKILL);
        waitpid(fake, NULL, 0);
        close(ready[0]);
        close(ready[1]);
        snprintf(err, sizeof err, "rm -rf '%s'", dir);
        assert_int_equal(run(err), 0);
}

static void test_squatter_nobody(void **state) {
        squat_case(NOBODY, true); /* the right pid, the wrong uid */
}

static void test_squatter_root_other_pid(void **state) {
        squat_case(0, false); /* uid 0, but not the pid maiod announced */
}

static void test_squatter_message(void **state) {
        maio_ctl_config cfg = { .transport = MAIO_TRANSPORT_NETLINK, .socket_path = maiod.socket };
        uint32_t port = random_port();
        char dir[64] = "/tmp/maio-squat-XXXXXX";
        maio_ctl *c = NULL;
        int ready[2];
        pid_t fake;
        char ch;

        assert_non_null(mkdtemp(dir));
        assert_int_equal(pipe(ready), 0);
        fake = fake_responder(port, NOBODY, ready[1]);
        assert_int_equal(read(ready[0], &ch, 1), 1);
        /* An announcement not owned by root is not trusted at all. */
        write_announcement(dir, port, fake, NOBODY);
        cfg.runtime_dir = dir;
        assert_int_equal(maio_ctl_open(&cfg, &c), -EPERM);
        /* The real maiod's announcement, but the squatter's port id given explicitly. */
        cfg.runtime_dir = maiod.runtime;
        cfg.netlink_port = port;
        assert_int_equal(maio_ctl_open(&cfg, &c), -EPERM);
        kill(fake, SIGKILL);
        waitpid(fake, NULL, 0);
        close(ready[0]);
        close(ready[1]);
        {
                char cmd[96];

                snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
                (void) run(cmd);
        }
}

/* ---- notifications ---- */

static void test_notify_removed(void **state) {
        maio_ctl *c = open_ctl(MAIO_TRANSPORT_NETLINK);
        maio_tenant_spec spec = { .name = "watched", .priority = -1 };
        maio_notification n = {};
        maio_tenant t;
        struct pollfd p;
        int r;

        assert_int_equal(maio_ctl_notify_fd(c), -EBADF);
        assert_int_equal(maio_ctl_register(c, &spec, &t), 0);
        r = maio_ctl_subscribe(c, t.id);
        assert_int_equal(r, 0);
        p = (struct pollfd) { .fd = maio_ctl_notify_fd(c), .events = POLLIN };
        assert_true(p.fd >= 0);
        assert_int_equal(maio_ctl_notification_read(c, &n), -EAGAIN);
        assert_int_equal(maio_ctl_unregister(c, t.id), 0);
        assert_int_equal(poll(&p, 1, 5000), 1);
        assert_int_equal(maio_ctl_notification_read(c, &n), 0);
        assert_string_equal(n.kind, "tenant-removed");
        assert_int_equal(n.tenant_id, t.id);
        assert_int_equal(n.lost, 0);
        assert_non_null(n.detail);
        assert_int_equal(n.detail[0], '{');
        maio_notification_clear(&n);
        assert_int_equal(maio_ctl_unsubscribe(c, 0), 0);
        maio_ctl_close(c);
}

static const struct CMUnitTest tests_any_host[] = {
        cmocka_unit_test(test_open),
        cmocka_unit_test(test_calls_netlink),
        cmocka_unit_test(test_calls_rest),
        cmocka_unit_test(test_parity),
        cmocka_unit_test(test_squatter_nobody),
        cmocka_unit_test(test_squatter_root_other_pid),
        cmocka_unit_test(test_squatter_message),
        cmocka_unit_test(test_notify_removed),
};

static const TestGroup groups[] = {
        TEST_GROUP(NULL, NULL, tests_any_host),
};

int main(int argc, char **argv) {
        int r;

        if (geteuid() != 0) {
                printf("SKIP: needs root: the squatting cases switch a responder to uid nobody\n");
                return 77;
        }
        r = maiod_start();
        if (r < 0) {
                fprintf(stderr, "maiod did not start: %s (log: %s)\n", strerror(-r), maiod.log);
                maiod_stop();
                return 1;
        }
        r = testgroups_run(argc, argv, groups, sizeof(groups) / sizeof(groups[0]));
        if (r != 0 && r != 77) {
                char cmd[192];

                snprintf(cmd, sizeof cmd, "tail -n 60 '%s' >&2", maiod.log);
                (void) run(cmd);
        }
        maiod_stop();
        return r;
}
