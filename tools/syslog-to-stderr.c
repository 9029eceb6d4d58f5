/* LD_PRELOAD shim for tools/generate-rule-oracle.py: auditctl -R sends its messages to syslog, and this
 * machine has no /dev/log, so print them to stderr instead. Nothing sent to the kernel changes. */
#include <stdarg.h>
#include <stdio.h>

void vsyslog(int priority, const char *format, va_list ap)
{
    (void)priority;
    vfprintf(stderr, format, ap);
    fputc('\n', stderr);
}

void syslog(int priority, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    vsyslog(priority, format, ap);
    va_end(ap);
}

void __vsyslog_chk(int priority, int flag, const char *format, va_list ap)
{
    (void)flag;
    vsyslog(priority, format, ap);
}

void __syslog_chk(int priority, int flag, const char *format, ...)
{
    va_list ap;
    (void)flag;
    va_start(ap, format);
    vsyslog(priority, format, ap);
    va_end(ap);
}
