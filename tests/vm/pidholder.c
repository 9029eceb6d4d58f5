/*
 * pidholder: registers itself as the kernel's audit daemon (AUDIT_SET with AUDIT_STATUS_PID, as auditd does
 * at start) and keeps the netlink socket open until it is killed. The VM scenario uses it as "another audit
 * agent" (Defender, auditbeat) holding the audit PID, to see Restart-Auditd refuse to start or signal auditd.
 * It runs only inside the test VM: it changes the kernel's audit PID.
 *
 *   pidholder            prints "holding <pid>" once the kernel accepted it, then sleeps
 *
 * Built statically by tests/vm/Invoke-SystemdNode.ps1 with the machine's gcc, so it needs nothing in the VM.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void)
{
    int fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT);
    if (fd < 0) {
        fprintf(stderr, "pidholder: socket(NETLINK_AUDIT): %s\n", strerror(errno));
        return 1;
    }

    struct {
        struct nlmsghdr header;
        struct audit_status status;
    } request;
    memset(&request, 0, sizeof request);
    request.header.nlmsg_len = sizeof request;
    request.header.nlmsg_type = AUDIT_SET;
    request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    request.header.nlmsg_seq = 1;
    request.status.mask = AUDIT_STATUS_PID;
    request.status.pid = (unsigned int)getpid();

    struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
    if (sendto(fd, &request, sizeof request, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
        fprintf(stderr, "pidholder: sendto(AUDIT_SET): %s\n", strerror(errno));
        return 1;
    }

    /* The kernel answers NLMSG_ERROR: error 0 is the acknowledgement, anything else the refusal. */
    char answer[8192];
    ssize_t length = recv(fd, answer, sizeof answer, 0);
    if (length < (ssize_t)sizeof(struct nlmsghdr)) {
        fprintf(stderr, "pidholder: no answer to AUDIT_SET: %s\n", length < 0 ? strerror(errno) : "short read");
        return 1;
    }
    struct nlmsghdr *reply = (struct nlmsghdr *)answer;
    if (reply->nlmsg_type == NLMSG_ERROR) {
        struct nlmsgerr *error = NLMSG_DATA(reply);
        if (error->error != 0) {
            fprintf(stderr, "pidholder: the kernel refused the audit PID: %s\n", strerror(-error->error));
            return 1;
        }
    }

    printf("holding %d\n", (int)getpid());
    fflush(stdout);
    /* Records the kernel sends are left unread; holding the PID is the point. */
    for (;;) {
        pause();
    }
}
