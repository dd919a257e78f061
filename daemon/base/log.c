/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Log record formatting and the three sinks (stderr, journal, syslog). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "log.h"

static int max_level = LOG_INFO;
static LogTarget log_target = LOG_TARGET_STDERR;

static const char *const level_names[] = {
        [LOG_EMERG] = "emerg",     [LOG_ALERT] = "alert",   [LOG_CRIT] = "crit", [LOG_ERR] = "err",
        [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice", [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

/* JOURNAL_STREAM is "DEV:INO" of the stream systemd connected; it only counts
 * when that is still our stderr (a child with redirected stderr must not use it). */
static int stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return 0;
        if (fstat(STDERR_FILENO, &st) < 0)
                return 0;
        return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

void log_open(LogTarget target) {
        if (target == LOG_TARGET_AUTO)
                target = stderr_is_journal() ? LOG_TARGET_JOURNAL : LOG_TARGET_STDERR;
        if (target == LOG_TARGET_SYSLOG)
                openlog("maiod", LOG_PID | LOG_NDELAY, LOG_DAEMON);
        log_target = target;
}

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

int log_level_from_string(const char *s) {
        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(level_names); i++)
                if (strcasecmp(s, level_names[i]) == 0)
                        return (int) i;
        if (strcasecmp(s, "error") == 0)
                return LOG_ERR;
        if (strcasecmp(s, "warn") == 0)
                return LOG_WARNING;
        if (s[0] >= '0' && s[0] <= '7' && s[1] == '\0')
                return s[0] - '0';
        return -EINVAL;
}

const char *log_level_to_string(int level) {
        if (level < 0 || level >= (int) ELEMENTSOF(level_names))
                return NULL;
        return level_names[level];
}

static void write_journal(int level, int error, const char *field, const char *file, int line, const char *func,
                          const char *msg) {
        char prio[32], code_file[512], code_line[32], code_func[256], errno_field[32], *m;
        struct iovec iov[8];
        size_t n = 0;
        size_t mlen = strlen("MESSAGE=") + strlen(msg) + 1;

        m = alloca(mlen);
        snprintf(m, mlen, "MESSAGE=%s", msg);
        snprintf(prio, sizeof prio, "PRIORITY=%d", level);
        snprintf(code_file, sizeof code_file, "CODE_FILE=%s", file);
        snprintf(code_line, sizeof code_line, "CODE_LINE=%d", line);
        snprintf(code_func, sizeof code_func, "CODE_FUNC=%s", func);
        iov[n++] = (struct iovec) { m, strlen(m) };
        iov[n++] = (struct iovec) { prio, strlen(prio) };
        iov[n++] = (struct iovec) { code_file, strlen(code_file) };
        iov[n++] = (struct iovec) { code_line, strlen(code_line) };
        iov[n++] = (struct iovec) { code_func, strlen(code_func) };
        iov[n++] = (struct iovec) { (char *) "SYSLOG_IDENTIFIER=maiod", strlen("SYSLOG_IDENTIFIER=maiod") };
        if (error != 0) {
                snprintf(errno_field, sizeof errno_field, "ERRNO=%d", error);
                iov[n++] = (struct iovec) { errno_field, strlen(errno_field) };
        }
        if (field && strchr(field, '='))
                iov[n++] = (struct iovec) { (char *) field, strlen(field) };

        if (sd_journal_sendv(iov, (int) n) < 0)
                fprintf(stderr, "%s\n", msg); /* journal gone: do not lose the line */
}

int log_internal(int level, int error, const char *field, const char *file, int line, const char *func,
                 const char *format, ...) {
        char buf[2048];
        va_list ap;
        int saved_errno = errno;

        error = abs(error);
        errno = error; /* for %m */
        va_start(ap, format);
        vsnprintf(buf, sizeof buf, format, ap);
        va_end(ap);

        switch (log_target) {
        case LOG_TARGET_JOURNAL:
                write_journal(level, error, field, file, line, func, buf);
                break;
        case LOG_TARGET_SYSLOG:
                syslog(level, "%s", buf);
                break;
        default:
                if (field)
                        fprintf(stderr, "maiod[%s]: %s [%s]\n", level_names[level & 7], buf, field);
                else
                        fprintf(stderr, "maiod[%s]: %s\n", level_names[level & 7], buf);
                break;
        }

        errno = saved_errno;
        return -error;
}
